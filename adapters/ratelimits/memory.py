"""In-memory token buckets: one process only; the fake of the contract suite."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.ratelimits.keys import bucket_key
from adapters.stores.keys import KeyHasher
from domain.buckets import Take, take_tokens


class MemoryRateLimiter:
    _PURGE_EVERY = 4096

    def __init__(self, hasher: KeyHasher) -> None:
        self._hasher = hasher
        self._full_at: dict[str, int] = {}
        self._takes = 0

    async def take(self, takes: Sequence[Take], required: int, now_us: int) -> Sequence[int]:
        self._takes += 1
        if self._takes % self._PURGE_EVERY == 0:  # a full bucket needs no state
            self._full_at = {k: v for k, v in self._full_at.items() if v > now_us}
        keys = [bucket_key(self._hasher, t.key) for t in takes]
        states = [self._full_at.get(k, 0) for k in keys]
        new, waits = take_tokens([t.bucket for t in takes], states, required, now_us)
        for key, old, state in zip(keys, states, new, strict=True):
            if state != old:
                self._full_at[key] = state
        return waits
