"""In-memory stores: fast fakes for domain tests and the `memory` backend."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.stores.keys import KeyHasher
from domain.model import DeliveryProblem, MessageData
from ports.clock import Clock


class MemoryDeliveryProblemStore:
    def __init__(self, hasher: KeyHasher, clock: Clock, retention_seconds: int) -> None:
        self._hasher = hasher
        self._clock = clock
        self._retention_ms = retention_seconds * 1000
        self._problems: dict[str, list[DeliveryProblem]] = {}

    async def fetch(self, address: str) -> Sequence[DeliveryProblem]:
        cutoff = self._clock.now_ms() - self._retention_ms
        problems = self._problems.get(self._hasher.address(address), [])
        return sorted(
            (p for p in problems if p.created_at > cutoff),
            key=lambda p: p.created_at,
            reverse=True,
        )

    async def fetch_many(self, addresses: Sequence[str]) -> list[Sequence[DeliveryProblem]]:
        return [await self.fetch(address) for address in addresses]

    async def record(self, problem: DeliveryProblem) -> bool:
        key = self._hasher.address(problem.address)
        problems = self._problems.setdefault(key, [])
        cutoff = self._clock.now_ms() - self._retention_ms
        problems[:] = [p for p in problems if p.created_at > cutoff]
        if problem.feedback_id is not None and any(
            p.feedback_id == problem.feedback_id for p in problems
        ):
            return False
        problems.append(problem)
        return True

    async def clear(self, address: str) -> int:
        return len(self._problems.pop(self._hasher.address(address), []))


class MemoryMessageDataStore:
    def __init__(self, hasher: KeyHasher, clock: Clock, ttl_seconds: int) -> None:
        self._hasher = hasher
        self._clock = clock
        self._ttl_ms = ttl_seconds * 1000
        self._data: dict[str, tuple[MessageData, int]] = {}
        self._puts = 0

    async def put(self, message_id: str, metadata: str | None, relier: str | None = None) -> None:
        now = self._clock.now_ms()
        self._puts += 1
        if self._puts % 1024 == 0:  # drop what expired, now and then
            self._data = {k: v for k, v in self._data.items() if v[1] > now}
        entry = (MessageData(metadata, relier), now + self._ttl_ms)
        self._data[self._hasher.message(message_id)] = entry

    async def get(self, message_id: str) -> MessageData | None:
        entry = self._data.get(self._hasher.message(message_id))
        if entry is None or entry[1] <= self._clock.now_ms():
            return None
        return entry[0]
