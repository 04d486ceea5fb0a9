"""The addresses mail is sent to, and what each mailbox does over the month."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


class MailboxState(Enum):
    DELIVERABLE = "deliverable"
    FULL = "full"  # soft-bounces (MailboxFull) until the spell ends
    DEAD = "dead"  # hard-bounces (NoEmail) for ever


@dataclass(frozen=True, slots=True)
class Mailbox:
    """One address and its fate: when it dies, when it is full, how readily its owner complains.

    ``complains`` is the chance that a delivered message draws a complaint; ``activity`` scales
    how often its owner signs in (1.0 is the average account).
    """

    address: str
    dead_from_ms: int | None = None
    full_spells: tuple[tuple[int, int], ...] = ()
    complains: float = 0.0
    activity: float = 1.0

    def state_at(self, when_ms: int) -> MailboxState:
        if self.dead_from_ms is not None and when_ms >= self.dead_from_ms:
            return MailboxState.DEAD
        for start, end in self.full_spells:
            if start <= when_ms < end:
                return MailboxState.FULL
        return MailboxState.DELIVERABLE

    @property
    def dies_mid_month(self) -> bool:
        return self.dead_from_ms is not None and self.dead_from_ms > 0


@dataclass(frozen=True, slots=True)
class PopulationSpec:
    """The existing accounts' mailboxes. Shares are drawn independently per account.

    The store starts empty: an address dead before the month has no record, as if nobody
    had written to it within the longest limit period (the hardest case for the limits).
    """

    accounts: int = 50_000
    dead_share: float = 0.01
    dead_activity: float = 0.5  # their owners still try to sign in, less often
    dying_share: float = 0.004
    full_share: float = 0.02
    full_spells_per_month: float = 1.5
    full_spell_median_hours: float = 10.0
    full_spell_sigma: float = 1.2
    complainer_share: float = 0.001
    complainer_probability: float = 0.2
    background_complaint: float = 0.00002  # anyone's "this is spam" click on a login code
    activity_shape: float = 0.5  # gamma shape of per-account activity (mean 1): heavy users


class Population:
    """Mailboxes by index and by address; sign-ups add theirs as the month goes."""

    def __init__(self, spec: PopulationSpec, seed: int, start_ms: int, days: int) -> None:
        self.spec = spec
        self.mailboxes: list[Mailbox] = []
        self._by_address: dict[str, int] = {}
        rng = random.Random(f"population:{seed}")
        end_ms = start_ms + days * DAY_MS
        for index in range(spec.accounts):
            self.add(_draw_account(rng, spec, index, start_ms, end_ms, days))

    def add(self, mailbox: Mailbox) -> int:
        key = mailbox.address.lower()
        if key in self._by_address:
            raise ValueError(f"{mailbox.address} is already in the population")
        self._by_address[key] = len(self.mailboxes)
        self.mailboxes.append(mailbox)
        return len(self.mailboxes) - 1

    def __getitem__(self, address: str) -> Mailbox:
        return self.mailboxes[self._by_address[address.lower()]]

    def __len__(self) -> int:
        return len(self.mailboxes)


def _draw_account(
    rng: random.Random, spec: PopulationSpec, index: int, start_ms: int, end_ms: int, days: int
) -> Mailbox:
    activity = rng.gammavariate(spec.activity_shape, 1 / spec.activity_shape)
    dead_from: int | None = None
    if rng.random() < spec.dead_share:
        dead_from, activity = 0, activity * spec.dead_activity
    elif rng.random() < spec.dying_share:
        dead_from = rng.randrange(start_ms, end_ms)
    spells: list[tuple[int, int]] = []
    if rng.random() < spec.full_share:
        count = _poisson(rng, spec.full_spells_per_month * days / 30)
        for _ in range(max(count, 1)):
            begin = rng.randrange(start_ms, end_ms)
            hours = spec.full_spell_median_hours * rng.lognormvariate(0, spec.full_spell_sigma)
            spells.append((begin, begin + int(min(max(hours, 0.25), 24 * 7) * HOUR_MS)))
    complains = spec.background_complaint
    if rng.random() < spec.complainer_share:
        complains = spec.complainer_probability
    return Mailbox(
        f"user{index}@example.com", dead_from, tuple(sorted(spells)), complains, activity
    )


def _poisson(rng: random.Random, mean: float) -> int:
    count, total = 0, rng.expovariate(1.0)
    while total < mean:
        count += 1
        total += rng.expovariate(1.0)
    return count
