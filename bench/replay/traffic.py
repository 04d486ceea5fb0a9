"""The senders: an accounts system's sign-ups, sign-in codes and password resets.

Exogenous traffic (who starts a session, when) is drawn once from the seed, so every
configuration replays the same sessions. What a user does next (ask for another code, try
again when nothing came) depends on what happened, and is drawn from keyed draws.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import Enum

from bench.replay.draws import between, uniforms
from bench.replay.population import DAY_MS, Mailbox, Population


class Kind(Enum):
    SIGNUP = "signup"  # a confirmation code to a new, sometimes mistyped, address
    LOGIN = "login"  # a sign-in code; impatient users ask again within a minute
    RESET = "reset"  # a password reset; tried again when it does not arrive


@dataclass(frozen=True, slots=True)
class Session:
    """One user's errand, which may send several emails to one mailbox."""

    id: int
    kind: Kind
    start_ms: int
    mailbox: int


@dataclass(frozen=True, slots=True)
class Retry:
    """What a user does when nothing arrived (refused or bounced: they cannot tell)."""

    probability: float
    attempts: int  # at most, the first included
    delay_s: tuple[float, float]


@dataclass(frozen=True, slots=True)
class TrafficSpec:
    logins_per_account_day: float = 1 / 12
    resets_per_account_day: float = 1 / 250
    signups_per_account_day: float = 0.012
    typo_share: float = 0.03  # sign-ups to an address that does not exist
    corrected_share: float = 0.6  # of those, how many sign up again with the right address
    corrected_delay_s: tuple[float, float] = (120.0, 1800.0)
    # another code although one arrived (impatience), at most twice
    again: dict[Kind, float] = field(
        default_factory=lambda: {Kind.SIGNUP: 0.05, Kind.LOGIN: 0.15, Kind.RESET: 0.0}
    )
    again_delay_s: tuple[float, float] = (20.0, 90.0)
    retry: dict[Kind, Retry] = field(
        default_factory=lambda: {
            Kind.SIGNUP: Retry(0.7, 4, (60.0, 300.0)),
            Kind.LOGIN: Retry(0.6, 3, (60.0, 300.0)),
            Kind.RESET: Retry(0.8, 5, (120.0, 900.0)),
        }
    )


def schedule(
    population: Population, spec: TrafficSpec, seed: int, start_ms: int, days: int
) -> list[Session]:
    """Every session that starts within the month, in order; sign-ups add their mailboxes."""
    rng = random.Random(f"traffic:{seed}")
    end_ms = start_ms + days * DAY_MS
    starts: list[tuple[int, Kind, int]] = []
    for index in range(len(population)):
        mailbox = population.mailboxes[index]
        for kind, per_day in (
            (Kind.LOGIN, spec.logins_per_account_day),
            (Kind.RESET, spec.resets_per_account_day),
        ):
            rate_per_ms = per_day * mailbox.activity / DAY_MS
            if rate_per_ms <= 0:
                continue
            when = start_ms + rng.expovariate(rate_per_ms)
            while when < end_ms:
                starts.append((int(when), kind, index))
                when += rng.expovariate(rate_per_ms)
    signup_rate_per_ms = spec.signups_per_account_day * max(population.spec.accounts, 1) / DAY_MS
    when = start_ms + rng.expovariate(signup_rate_per_ms)
    count = 0
    while when < end_ms:
        typo = rng.random() < spec.typo_share
        mailbox = Mailbox(
            f"signup{count}@{'exmaple' if typo else 'example'}.com", 0 if typo else None
        )
        starts.append((int(when), Kind.SIGNUP, population.add(mailbox)))
        count += 1
        when += rng.expovariate(signup_rate_per_ms)
    starts.sort(key=lambda start: start[0])
    return [Session(i, kind, at, index) for i, (at, kind, index) in enumerate(starts)]


CORRECTED = 10**9  # a corrected sign-up's session id is this plus the first one's


def next_attempt(
    spec: TrafficSpec, seed: int, session: Session, attempt: int, received: bool
) -> int | None:
    """Milliseconds until the session's next email, or None when the user is done.

    ``attempt`` counts the emails the session sent so far; ``received`` says whether the
    last one reached the user.
    """
    odds, when = uniforms(seed, 2, "next", session.id, attempt)
    if received:
        if attempt < 3 and odds < spec.again[session.kind]:
            return int(between(when, *spec.again_delay_s) * 1000)
        return None
    retry = spec.retry[session.kind]
    if attempt < retry.attempts and odds < retry.probability:
        return int(between(when, *retry.delay_s) * 1000)
    return None


def corrected_signup(
    spec: TrafficSpec, seed: int, session: Session, gave_up_ms: int, population: Population
) -> Session | None:
    """A user whose sign-up never arrived may sign up again, once, with the address fixed."""
    odds, when = uniforms(seed, 2, "corrected", session.id)
    if session.kind is not Kind.SIGNUP or session.id >= CORRECTED or odds >= spec.corrected_share:
        return None
    delay = between(when, *spec.corrected_delay_s)
    index = population.add(Mailbox(f"signup{session.id}.fixed@example.com"))
    return Session(CORRECTED + session.id, Kind.SIGNUP, gave_up_ms + int(delay * 1000), index)
