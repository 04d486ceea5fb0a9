"""Interfaces the domain depends on; adapters implement them."""
