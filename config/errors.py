"""The one error configuration raises: a wrong value, named by its key."""

from __future__ import annotations


class ConfigError(Exception):
    """A configuration value is wrong; the message is one line naming the key."""
