"""Stored keys (docs/operations.md): HMAC-SHA256 of lower-cased addresses and message ids."""

from __future__ import annotations

import hashlib
import hmac


class KeyHasher:
    """Derives store keys so that no plain address or message id is ever stored as a key."""

    __slots__ = ("_mac",)

    def __init__(self, hmackey: str) -> None:
        # Keyed once: a copy per digest skips the key set-up (~40 % of a fresh HMAC here).
        self._mac = hmac.new(hmackey.encode("utf-8"), digestmod=hashlib.sha256)

    def _digest(self, value: str) -> str:
        mac = self._mac.copy()
        mac.update(value.encode("utf-8"))
        return mac.hexdigest()

    def address(self, address: str) -> str:
        return self._digest(address.lower())

    def message(self, message_id: str) -> str:
        return self._digest(message_id)
