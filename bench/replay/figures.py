"""What one configuration's month measured: counts per day and the rates drawn from them."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from bench.replay.population import DAY_MS, HOUR_MS
from bench.replay.provider import Outcome, Sent

GOAL_BOUNCE = 0.01  # worst-day hard-bounce rate
GOAL_COMPLAINT = 0.0005  # worst-day complaint rate
GOAL_REFUSED = 0.001  # share of deliverable mail refused


@dataclass(slots=True)
class Day:
    """One day's sends, and the fate of the messages accepted that day."""

    attempted: int = 0
    accepted: int = 0
    refused: int = 0
    failed: int = 0  # any other error: none expected
    deliverable: int = 0  # attempts while the mailbox would have taken the mail
    deliverable_refused: int = 0
    delivered: int = 0
    hard: int = 0
    soft: int = 0
    complaints: int = 0
    first_hard: int = 0  # the address's first hard bounce of the month: no limit prevents it
    first_complaint: int = 0


@dataclass(slots=True)
class Figures:
    """Counts of one run. A message's bounce or complaint counts on the day it was sent."""

    name: str
    start_ms: int
    days: list[Day]
    refused_by_errno: dict[int, int] = field(default_factory=dict)
    deliverable_refused_by_errno: dict[int, int] = field(default_factory=dict)
    posted: int = 0  # notifications the provider posted, duplicates included
    handled: int = 0  # notifications the handler handled
    forwarded: int = 0  # notifications forwarded to the outgoing queue
    recorded: int = 0  # problems the handler recorded
    death_to_block_h: list[float] = field(default_factory=list)
    sent_after_death: list[int] = field(default_factory=list)
    never_blocked: int = 0  # died, was written to afterwards, never blocked

    def day_of(self, when_ms: int) -> Day:
        index = (when_ms - self.start_ms) // DAY_MS
        return self.days[min(max(index, 0), len(self.days) - 1)]

    def add_outcomes(self, sent: list[Sent]) -> None:
        """The provider's own view of every accepted message, in the order sent."""
        hard_before: set[str] = set()
        complained_before: set[str] = set()
        for message in sent:
            day = self.day_of(message.at_ms)
            if message.outcome is Outcome.DELIVERED:
                day.delivered += 1
            elif message.outcome is Outcome.SOFT_BOUNCE:
                day.soft += 1
            else:
                day.hard += 1
                day.first_hard += message.address not in hard_before
                hard_before.add(message.address)
            if message.complained:
                day.complaints += 1
                day.first_complaint += message.address not in complained_before
                complained_before.add(message.address)

    def total(self, name: str) -> int:
        return sum(getattr(day, name) for day in self.days)

    def rate(self, name: str) -> float:
        """The whole month's ``name`` per accepted message."""
        return _ratio(self.total(name), self.total("accepted"))

    def daily(self, name: str) -> list[float]:
        return [_ratio(getattr(day, name), day.accepted) for day in self.days]

    def worst(self, name: str) -> float:
        return max(self.daily(name), default=0.0)

    @property
    def deliverable_refused(self) -> float:
        return _ratio(self.total("deliverable_refused"), self.total("deliverable"))

    @property
    def meets_goal(self) -> bool:
        return (
            self.worst("hard") < GOAL_BOUNCE
            and self.worst("complaints") < GOAL_COMPLAINT
            and self.deliverable_refused < GOAL_REFUSED
        )

    def death_to_block(self) -> str:
        """Median and longest time from a mailbox's death to its block, in hours."""
        if not self.death_to_block_h:
            return "never" if self.never_blocked else "-"
        hours = sorted(self.death_to_block_h)
        text = f"{statistics.median(hours):.0f} h, max {hours[-1]:.0f} h"
        return text + (f" ({self.never_blocked} never)" if self.never_blocked else "")

    def unaccounted(self) -> list[str]:
        """What does not add up; empty when every send and notification is accounted for."""
        wrong = []
        attempted = self.total("attempted")
        ended = self.total("accepted") + self.total("refused") + self.total("failed")
        if attempted != ended:
            wrong.append(f"{attempted} attempted, {ended} accepted, refused or failed")
        if sum(self.refused_by_errno.values()) != self.total("refused"):
            wrong.append("refusals by errno do not add up to the refusals")
        fates = sum(self.total(name) for name in ("delivered", "hard", "soft"))
        if fates != self.total("accepted"):
            wrong.append(f"{self.total('accepted')} accepted, {fates} delivered or bounced")
        if not self.posted == self.handled == self.forwarded:
            wrong.append(
                f"{self.posted} notifications posted, {self.handled} handled, "
                f"{self.forwarded} forwarded"
            )
        return wrong


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def hours(milliseconds: int) -> float:
    return milliseconds / HOUR_MS
