"""Stored keys (docs/operations.md): HMAC-SHA256 of lower-cased addresses and message ids."""

from __future__ import annotations

import hashlib
import hmac


class KeyHasher:
    """Derives store keys so that no plain address or message id is ever stored as a key."""

    __slots__ = ("_key",)

    def __init__(self, hmackey: str) -> None:
        self._key = hmackey.encode("utf-8")

    def _digest(self, value: str) -> str:
        return hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def address(self, address: str) -> str:
        return self._digest(address.lower())

    def message(self, message_id: str) -> str:
        return self._digest(message_id)
