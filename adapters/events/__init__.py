"""Adapters that verify and read the delivery events providers post to the service."""
