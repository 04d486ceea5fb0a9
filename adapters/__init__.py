"""Implementations of the ports, one module per technology."""
