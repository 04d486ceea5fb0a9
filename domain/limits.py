"""The delivery-problem limit policy of docs/api.md (delivery-problem limits)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from domain.errors import (
    ComplaintLimitViolation,
    HardBounceLimitViolation,
    LimitViolation,
    SoftBounceLimitViolation,
)
from domain.model import DeliveryProblem, ProblemType

_UNIT_SECONDS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
}
_PERIOD = re.compile(r"^\s*(?:(\d+)\s+)?([a-z]+?)s?\s*$")


def parse_period(text: str) -> int:
    """``"5 minutes"``, ``"day"`` -> seconds. Raises ValueError naming the bad text."""
    match = _PERIOD.match(text.lower()) if isinstance(text, str) else None
    if not match or match.group(2) not in _UNIT_SECONDS:
        raise ValueError(
            f"invalid period {text!r}: expected '<n> <unit>' or '<unit>', unit one of "
            + ", ".join(_UNIT_SECONDS)
        )
    count = int(match.group(1)) if match.group(1) is not None else 1
    if count <= 0:
        raise ValueError(f"invalid period {text!r}: must be positive")
    return count * _UNIT_SECONDS[match.group(2)]


@dataclass(frozen=True, slots=True)
class LimitRule:
    """At most ``limit`` problems within the last ``period_seconds``."""

    period_seconds: int
    limit: int


_VIOLATIONS: Mapping[ProblemType, type[LimitViolation]] = {
    ProblemType.COMPLAINT: ComplaintLimitViolation,
    ProblemType.SOFT_BOUNCE: SoftBounceLimitViolation,
    ProblemType.HARD_BOUNCE: HardBounceLimitViolation,
}


# When violating problems share the newest time, the most serious is named (docs/api.md):
# a complaint, then a hard bounce, then a soft bounce, whatever the order of the rules.
_PRECEDENCE: Mapping[ProblemType, int] = {
    ProblemType.SOFT_BOUNCE: 0,
    ProblemType.HARD_BOUNCE: 1,
    ProblemType.COMPLAINT: 2,
}


@dataclass(frozen=True, slots=True)
class BounceLimits:
    """The configured rules per problem type; ``enabled=False`` ignores every record."""

    enabled: bool = True
    rules: Mapping[ProblemType, Sequence[LimitRule]] = field(default_factory=dict)

    @property
    def longest_period_seconds(self) -> int:
        periods = [rule.period_seconds for rules in self.rules.values() for rule in rules]
        return max(periods, default=0)

    def violation(self, problems: Iterable[DeliveryProblem], now_ms: int) -> DeliveryProblem | None:
        """The newest problem among the violated rules, or None when every rule holds.

        A rule is violated when more than ``limit`` problems of its type were created within
        its period: after ``now_ms - period``, so a problem exactly one period old no longer
        counts. Of problems as new as each other, a complaint is named before a hard bounce,
        a hard bounce before a soft one.
        """
        if not self.enabled:
            return None
        by_type: dict[ProblemType, list[DeliveryProblem]] = {}
        for problem in problems:
            by_type.setdefault(problem.type, []).append(problem)
        if not by_type:  # no record at all: nothing can be violated (the usual case)
            return None
        worst: DeliveryProblem | None = None
        for problem_type, rules in self.rules.items():
            recorded = by_type.get(problem_type, ())
            for rule in rules:
                since = now_ms - rule.period_seconds * 1000
                recent = [p for p in recorded if p.created_at > since]
                if len(recent) > rule.limit:
                    newest = max(recent, key=_rank)
                    if worst is None or _rank(newest) > _rank(worst):
                        worst = newest
        return worst


def _rank(problem: DeliveryProblem) -> tuple[int, int]:
    return problem.created_at, _PRECEDENCE[problem.type]


def violation_error(address: str, problem: DeliveryProblem) -> LimitViolation:
    """The 429 error for ``address`` refused because of ``problem``."""
    error_type = _VIOLATIONS[problem.type]
    return error_type(
        f"email address {address} has a recent {problem.type.wire_name} and cannot be sent to",
        address=address,
        time=problem.created_at,
        bouncedAt=problem.created_at,
        problem=problem.to_json(),
    )
