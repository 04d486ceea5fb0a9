"""NotificationSource and NotificationSink adapters."""
