"""Random ids (message ids, request ids, MIME boundaries): 128 bits from the OS's CSPRNG.

Drawn from a pool of ``os.urandom`` bytes refilled 4 KiB at a time, so most ids cost no
system call (docs/performance.md); the bytes are the same CSPRNG output ``uuid.uuid4`` and
``secrets`` use, and a forked child starts with an empty pool of its own.
"""

from __future__ import annotations

import os
import threading

_POOL_BYTES = 4096
_ID_BYTES = 16


class _Pool:
    _lock: threading.Lock
    _bytes: bytes
    _at: int

    def __init__(self) -> None:
        self.empty()

    def hex(self) -> str:
        with self._lock:
            at = self._at
            if at + _ID_BYTES > len(self._bytes):
                self._bytes = os.urandom(_POOL_BYTES)
                at = 0
            self._at = at + _ID_BYTES
            return self._bytes[at : at + _ID_BYTES].hex()

    def empty(self) -> None:
        """No bytes yet, and a lock of its own (a forked child's copy may be held)."""
        self._lock = threading.Lock()  # a message may be written in a worker thread
        self._bytes = b""
        self._at = 0


_pool = _Pool()
os.register_at_fork(after_in_child=_pool.empty)


def random_hex() -> str:
    """32 random hexadecimal digits."""
    return _pool.hex()
