"""Once per feedback id for the accounts database's stores (docs/stores.md).

The accounts database's ``emailBounces`` table holds no feedback id, so neither of its
adapters can ask it whether a notification was already recorded. Both remember instead, in
this process, the notifications they recorded in the last day: the same notification
delivered again (a forward or delete that failed after the record) is recorded once, and a
different problem is never mistaken for it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from domain.model import DeliveryProblem
from ports.clock import Clock


class RecentFeedback:
    """The (feedback id, address) pairs recorded in the last ``ttl_seconds``, at most
    ``max_entries`` of them, kept as digests (no address in memory dumps or logs)."""

    def __init__(self, clock: Clock, ttl_seconds: int = 86400, max_entries: int = 100_000):
        self._clock = clock
        self._ttl_ms = ttl_seconds * 1000
        self._max = max_entries
        self._expiry: OrderedDict[bytes, int] = OrderedDict()

    @staticmethod
    def _key(problem: DeliveryProblem) -> bytes | None:
        if problem.feedback_id is None:
            return None
        text = f"{problem.feedback_id}\n{problem.address.lower()}"
        return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()

    def claim(self, problem: DeliveryProblem) -> bool:
        """False when ``problem``'s notification was recorded already (or is being recorded);
        otherwise remember it and return True. ``release`` undoes a claim that failed."""
        key = self._key(problem)
        if key is None:
            return True
        now = self._clock.now_ms()
        while self._expiry and (
            next(iter(self._expiry.values())) <= now or len(self._expiry) >= self._max
        ):
            self._expiry.popitem(last=False)
        if key in self._expiry:
            return False
        self._expiry[key] = now + self._ttl_ms
        return True

    def release(self, problem: DeliveryProblem) -> None:
        key = self._key(problem)
        if key is not None:
            self._expiry.pop(key, None)
