"""The token-bucket arithmetic and the RateLimits service, with an injected clock."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from adapters.ratelimits.memory import MemoryRateLimiter
from adapters.stores.keys import KeyHasher
from domain.buckets import Take, TokenBucket, retry_after_seconds, take_tokens
from domain.errors import RateLimited, StoreError
from domain.model import Email
from domain.ratelimits import RateLimits
from tests.fakes import FakeClock

SECOND = 1_000_000


def test_a_bucket_gives_its_burst_then_one_token_per_interval() -> None:
    bucket = TokenBucket(rate=10, period_seconds=1, burst=3)
    state, now, taken = 0, 5 * SECOND, []
    for _ in range(5):
        (state,), (wait,) = take_tokens([bucket], [state], 1, now)
        taken.append(wait)
    assert taken == [0, 0, 0, SECOND // 10, SECOND // 10]
    (_, (wait,)) = take_tokens([bucket], [state], 1, now + SECOND // 10)
    assert wait == 0


def test_nothing_is_taken_when_a_required_bucket_is_empty() -> None:
    full, empty = TokenBucket(1, 1, 1), TokenBucket(1, 60, 1)
    now = 100 * SECOND
    states, waits = take_tokens([full, empty, full], [0, now + 60 * SECOND, 0], 2, now)
    assert states == [0, now + 60 * SECOND, 0]
    assert waits == [0, 60 * SECOND, 0]


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    assert [retry_after_seconds(w) for w in (1, SECOND, SECOND + 1)] == [1, 1, 2]


@pytest.mark.parametrize("values", [(0, 1, 1), (1, 0, 1), (1, 1, 0)])
def test_a_bucket_needs_positive_values(values: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError):
        TokenBucket(*values)


def service(relier: TokenBucket | None, recipient: TokenBucket | None) -> RateLimits:
    return RateLimits(MemoryRateLimiter(KeyHasher("k")), FakeClock(), relier, recipient)


EMAIL = Email(to="to@example.com", cc=("a@example.com", "b@example.com"), subject="s", text="t")


async def test_the_relier_bucket_is_per_relier() -> None:
    limits = service(TokenBucket(1, 60, 1), None)
    await limits.take("one", EMAIL)
    await limits.take("two", EMAIL)
    with pytest.raises(RateLimited) as refused:
        await limits.take("one", EMAIL)
    assert (refused.value.errno, refused.value.extra) == (125, {"retryAfter": 60})
    assert "relier" in refused.value.message


async def test_an_empty_cc_bucket_drops_that_cc_only() -> None:
    limits = service(None, TokenBucket(1, 3600, 1))
    await limits.take("r", Email(to="x@example.com", cc=("b@example.com",), subject="", text=""))

    email, skipped = await limits.take("r", EMAIL)

    assert (email.to, email.cc) == ("to@example.com", ("a@example.com",))
    assert [(s.address, s.errno) for s in skipped] == [("b@example.com", 125)]
    with pytest.raises(RateLimited) as refused:
        await limits.take("r", Email(to="TO@example.com", subject="", text=""))
    assert "recipient" in refused.value.message


class FailingLimiter:
    async def take(self, takes: Sequence[Take], required: int, now_us: int) -> Sequence[int]:
        raise StoreError("down")


async def test_no_buckets_means_no_store_call() -> None:
    limits = RateLimits(FailingLimiter(), FakeClock(), None, None)
    assert await limits.take("r", EMAIL) == (EMAIL, [])
    with pytest.raises(StoreError):
        await RateLimits(FailingLimiter(), FakeClock(), TokenBucket(1, 1, 1), None).take("r", EMAIL)


async def test_every_name_keeps_its_own_bucket_however_many_names_came_between() -> None:
    # A Take is kept for reuse per name, and the kept ones are dropped when there are many:
    # neither may mix two names' buckets nor grow without bound.
    limits = service(TokenBucket(1, 60, 1), TokenBucket(1, 3600, 1))
    for n in range(600):
        await limits.take(f"relier{n}", Email(to=f"to{n}@example.com", subject="", text=""))
        assert len(limits._takes) <= 256
    for n in (0, 255, 256, 599):
        with pytest.raises(RateLimited) as refused:
            await limits.take(f"relier{n}", Email(to="someone@example.com", subject="", text=""))
        assert "relier" in refused.value.message
        with pytest.raises(RateLimited) as refused:
            await limits.take("new", Email(to=f"to{n}@example.com", subject="", text=""))
        assert "recipient" in refused.value.message


def test_a_bucket_is_its_rate_period_and_burst() -> None:
    assert TokenBucket(10, 1, 3) == TokenBucket(10, 1, 3) != TokenBucket(10, 1, 4)
    assert repr(TokenBucket(10, 1, 3)) == "TokenBucket(rate=10, period_seconds=1, burst=3)"
    assert (TokenBucket(10, 1, 3).interval_us, TokenBucket(10, 1, 3).span_us) == (100_000, 300_000)
    assert TokenBucket(3_000_000, 1, 2).interval_us == 1  # never zero
