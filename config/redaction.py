"""The configuration as it may be logged: every secret shown as ``[hidden]``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

HIDDEN = "[hidden]"


def redact(value: Any) -> Any:
    """``value`` (a settings dump) with secrets and passwords inside URLs hidden."""
    if isinstance(value, SecretStr):
        return HIDDEN
    if isinstance(value, str) and "@" in value and "://" in value:
        parts = urlsplit(value)
        if parts.password is not None:  # a password inside a URL, e.g. authdb.baseuri
            host = parts.netloc.rpartition("@")[2]  # as written: case, brackets and port kept
            netloc = f"{parts.username}:{HIDDEN}@{host}"
            return urlunsplit(parts._replace(netloc=netloc))
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value
