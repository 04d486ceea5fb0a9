"""Adapters that verify and read the delivery events providers post to the service."""


class UnmappedEvent(ValueError):
    """A verified event that reports nothing the service records or forwards; says why."""
