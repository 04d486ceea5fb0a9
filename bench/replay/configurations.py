"""The limit configurations compared, the original service's semantics among them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from config.settings import BounceLimitSettings
from domain.limits import BounceLimits
from domain.model import DeliveryProblem, ProblemType
from ports.clock import Clock
from ports.stores import DeliveryProblemStore


def limits_from_json(document: Mapping[str, object]) -> BounceLimits:
    """``bouncelimits`` as the configuration writes it, read as the service reads it."""
    return BounceLimitSettings.model_validate(document).to_domain()


def default_limits() -> BounceLimits:
    """The limits the service runs with when nothing overrides ``bouncelimits``."""
    return BounceLimitSettings().to_domain()


@dataclass(frozen=True, slots=True)
class Configuration:
    """A name for the table, the limits SendEmail applies, and the original's recording."""

    name: str
    limits: BounceLimits
    original: bool = False


class OriginalLimits(BounceLimits):
    """The original service's check: ``enabled`` ignored; the accounts database's 20 newest
    records walked newest first, counting per type; refused at the first record whose
    running count passes a rule's limit while it is within (or exactly at) the period."""

    __slots__ = ()

    def violation(self, problems: Iterable[DeliveryProblem], now_ms: int) -> DeliveryProblem | None:
        newest = sorted(problems, key=lambda p: p.created_at, reverse=True)[:20]
        counts: dict[ProblemType, int] = {}
        for problem in newest:
            counts[problem.type] = count = counts.get(problem.type, 0) + 1
            for rule in self.rules.get(problem.type, ()):
                if count > rule.limit and problem.created_at >= now_ms - rule.period_seconds * 1000:
                    return problem
        return None


class RecordingEveryCopy:
    """The original service's recording: every notification counts, at the time it arrives.

    It had no idea of a notification delivered twice, and the accounts database set each
    record's time to its own clock.
    """

    def __init__(self, store: DeliveryProblemStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def fetch(self, address: str) -> Sequence[DeliveryProblem]:
        return await self._store.fetch(address)

    async def fetch_many(self, addresses: Sequence[str]) -> list[Sequence[DeliveryProblem]]:
        return await self._store.fetch_many(addresses)

    async def record(self, problem: DeliveryProblem) -> bool:
        copy = replace(problem, feedback_id=None, created_at=self._clock.now_ms())
        return await self._store.record(copy)

    async def clear(self, address: str) -> int:
        return await self._store.clear(address)


# What docs/reputation.md proposes: a week's block after a first hard bounce (a year's after
# a second, as before), and a soft-bounce back-off that grows with repeats instead of
# refusing the retry that follows a one-off transient failure.
PROPOSED = {
    "enabled": True,
    "complaint": [{"period": "day", "limit": 0}, {"period": "year", "limit": 1}],
    "hard": [{"period": "week", "limit": 0}, {"period": "year", "limit": 1}],
    "soft": [
        {"period": "5 minutes", "limit": 1},
        {"period": "hour", "limit": 2},
        {"period": "day", "limit": 4},
    ],
}


def standard(proposal: BounceLimits | None = None) -> list[Configuration]:
    """Default limits, limits disabled, the original's semantics, and a proposal if any."""
    limits = default_limits()
    configurations = [
        Configuration("default limits", limits),
        Configuration("limits disabled", replace(limits, enabled=False)),
        Configuration("original service", OriginalLimits(True, limits.rules), original=True),
    ]
    if proposal is not None:
        configurations.append(Configuration("proposed limits", proposal))
    return configurations
