"""DeliveryProblemStore and MessageDataStore adapters."""
