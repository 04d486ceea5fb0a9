"""Token buckets, the values and arithmetic of the rate limits (docs/reliers.md).

A bucket holds at most ``burst`` tokens and gains ``rate`` tokens per ``period``; each email
takes one token from its relier's bucket and one from each recipient's. The state kept for a
bucket is a single number, the time (in microseconds) at which it will be full again: no
state means full. Taking a token moves that time one token interval later; the take is
refused when that would put it more than ``burst`` intervals ahead of now. (This is the
"generic cell rate algorithm" form of a token bucket: same decisions, one number to store.)

``take_tokens`` is the whole arithmetic, used as it is by the SQLite and memory adapters
and mirrored line for line by the Redis adapter's script; the contract suite holds them to
the same answers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

RELIER, RECIPIENT = "relier", "recipient"


@dataclass(frozen=True, slots=True)
class TokenBucket:
    """``rate`` tokens every ``period_seconds``, at most ``burst`` held."""

    rate: int
    period_seconds: int
    burst: int
    # Derived once, as every take reads them; not part of the value (repr, equality).
    interval_us: int = field(init=False, repr=False, compare=False)
    """Microseconds between two tokens (at least 1)."""
    span_us: int = field(init=False, repr=False, compare=False)
    """Microseconds that ``burst`` tokens take to come back: how far ahead a take may go."""

    def __post_init__(self) -> None:
        if self.rate < 1 or self.period_seconds < 1 or self.burst < 1:
            raise ValueError("rate, period and burst must be positive")
        interval = max(1, self.period_seconds * 1_000_000 // self.rate)
        object.__setattr__(self, "interval_us", interval)
        object.__setattr__(self, "span_us", self.burst * interval)


@dataclass(frozen=True, slots=True)
class BucketKey:
    """Which bucket: ``kind`` is ``relier`` (name: its id) or ``recipient`` (an address)."""

    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class Take:
    key: BucketKey
    bucket: TokenBucket


def take_tokens(
    buckets: Sequence[TokenBucket], full_at: Sequence[int], required: int, now_us: int
) -> tuple[list[int], list[int]]:
    """One token from each bucket, all or nothing for the first ``required`` ones.

    ``full_at`` is each bucket's stored state (0 for none). Returns the new states and, per
    bucket, 0 when its token was taken or else the microseconds until one is available.
    Buckets whose token is refused keep their state; when any of the first ``required`` is
    refused, every bucket keeps its state (nothing is taken).
    """
    states = list(full_at)
    waits: list[int] = []
    for index, bucket in enumerate(buckets):
        candidate = max(full_at[index], now_us) + bucket.interval_us
        wait = candidate - bucket.span_us - now_us
        if wait > 0:
            waits.append(wait)
        else:
            waits.append(0)
            states[index] = candidate
    if any(waits[:required]):
        return list(full_at), waits
    return states, waits


def retry_after_seconds(wait_us: int) -> int:
    """Whole seconds a caller should wait (at least 1), for ``retryAfter``/``Retry-After``."""
    return max(1, math.ceil(wait_us / 1_000_000))
