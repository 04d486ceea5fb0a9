"""The service's pure core: values, policies and services over ports."""
