"""The RateLimiter contract, held by the fake and every real adapter, with an injected clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from adapters.ratelimits.memory import MemoryRateLimiter
from adapters.ratelimits.redis import RedisRateLimiter
from adapters.ratelimits.sqlite import SqliteRateLimiter
from adapters.stores.keys import KeyHasher
from adapters.stores.sqlite import SqliteDatabase
from domain.buckets import RECIPIENT, RELIER, BucketKey, Take, TokenBucket
from domain.errors import StoreError
from tests.adapters.stores.backends import fresh_redis
from tests.fakes import FakeClock

HASHER = KeyHasher("test key")
SECOND = 1_000_000


@asynccontextmanager
async def memory_limiter(tmp: Path) -> AsyncIterator[Any]:
    yield MemoryRateLimiter(HASHER)


@asynccontextmanager
async def sqlite_limiter(tmp: Path) -> AsyncIterator[Any]:
    db = SqliteDatabase(str(tmp / "store.sqlite3"))
    yield SqliteRateLimiter(db, HASHER)
    await db.aclose()


@asynccontextmanager
async def redis_limiter(tmp: Path) -> AsyncIterator[Any]:
    conn = await fresh_redis()
    yield RedisRateLimiter(conn, HASHER)
    await conn.aclose()


LIMITERS: dict[str, Callable[[Path], AbstractAsyncContextManager[Any]]] = {
    "memory": memory_limiter,
    "sqlite": sqlite_limiter,
    "redis": redis_limiter,
}


@pytest.fixture(params=sorted(LIMITERS))
async def limiter(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    async with LIMITERS[request.param](tmp_path) as limiter:
        yield limiter


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def now(clock: FakeClock) -> int:
    return clock.now_ms() * 1000


def relier(name: str = "fxa-auth", rate: int = 2, per: int = 1, burst: int = 3) -> Take:
    return Take(BucketKey(RELIER, name), TokenBucket(rate, per, burst))


def recipient(address: str, rate: int = 1, per: int = 3600, burst: int = 2) -> Take:
    return Take(BucketKey(RECIPIENT, address), TokenBucket(rate, per, burst))


async def test_a_full_bucket_gives_burst_tokens_then_says_how_long_to_wait(
    limiter: Any, clock: FakeClock
) -> None:
    taken = [await limiter.take([relier()], 1, now(clock)) for _ in range(3)]
    refused = await limiter.take([relier()], 1, now(clock))

    assert taken == [[0], [0], [0]]
    assert refused == [SECOND // 2]  # 2 tokens a second: the next one in half a second


async def test_buckets_refill_at_their_rate(limiter: Any, clock: FakeClock) -> None:
    for _ in range(3):
        await limiter.take([relier()], 1, now(clock))

    clock.advance(0.5)
    assert await limiter.take([relier()], 1, now(clock)) == [0]
    assert await limiter.take([relier()], 1, now(clock)) == [SECOND // 2]
    clock.advance(10)  # never more than burst
    assert [await limiter.take([relier()], 1, now(clock)) for _ in range(4)] == [
        [0],
        [0],
        [0],
        [SECOND // 2],
    ]


async def test_buckets_are_separate_per_key(limiter: Any, clock: FakeClock) -> None:
    for _ in range(3):
        await limiter.take([relier("a")], 1, now(clock))

    assert await limiter.take([relier("b")], 1, now(clock)) == [0]
    assert (await limiter.take([relier("a")], 1, now(clock)))[0] > 0


async def test_recipient_addresses_compare_case_insensitively(
    limiter: Any, clock: FakeClock
) -> None:
    await limiter.take([recipient("Person@Example.com")], 1, now(clock))
    await limiter.take([recipient("person@example.com")], 1, now(clock))

    assert await limiter.take([recipient("PERSON@example.COM")], 1, now(clock)) == [3600 * SECOND]


async def test_a_refused_required_bucket_takes_nothing(limiter: Any, clock: FakeClock) -> None:
    for _ in range(2):
        await limiter.take([recipient("to@example.com")], 1, now(clock))

    waits = await limiter.take(
        [relier(), recipient("to@example.com"), recipient("cc@example.com")], 2, now(clock)
    )

    assert waits[0] == 0 and waits[1] > 0
    # neither the relier's token nor the cc's was taken
    assert [await limiter.take([relier()], 1, now(clock)) for _ in range(3)] == [[0], [0], [0]]
    assert await limiter.take([recipient("cc@example.com")], 1, now(clock)) == [0]
    assert await limiter.take([recipient("cc@example.com")], 1, now(clock)) == [0]


async def test_an_optional_bucket_refused_alone_keeps_the_others_taken(
    limiter: Any, clock: FakeClock
) -> None:
    for _ in range(2):
        await limiter.take([recipient("cc@example.com")], 1, now(clock))

    waits = await limiter.take([relier(), recipient("cc@example.com")], 1, now(clock))

    assert waits[0] == 0 and waits[1] > 0
    assert await limiter.take([relier(), relier("other")], 2, now(clock)) == [0, 0]
    assert await limiter.take([relier()], 1, now(clock)) == [0]  # the third of 3
    assert (await limiter.take([relier()], 1, now(clock)))[0] > 0


async def test_redis_limiter_stores_no_address_in_clear_and_expires_its_keys(
    clock: FakeClock,
) -> None:
    conn = await fresh_redis()
    try:
        limiter = RedisRateLimiter(conn, HASHER)
        await limiter.take([relier(), recipient("private@example.com")], 2, now(clock))
        keys = await conn.client.keys("*")
        ttls = [await conn.client.pttl(k) for k in keys]
    finally:
        await conn.aclose()

    assert len(keys) == 2 and not any("private" in k for k in keys)
    assert all(0 < ttl <= 3600 * 1000 for ttl in ttls)


async def test_sqlite_limiter_reports_a_broken_file_as_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite3").mkdir()
    limiter = SqliteRateLimiter(SqliteDatabase(str(tmp_path / "dir.sqlite3")), HASHER)

    with pytest.raises(StoreError):
        await limiter.take([relier()], 1, 0)


async def test_redis_limiter_loads_its_script_again_after_redis_forgot_it(
    clock: FakeClock,
) -> None:
    # Takes go out as EVALSHA in the requests' shared batch; a restarted Redis has no script.
    conn = await fresh_redis()
    try:
        limiter = RedisRateLimiter(conn, HASHER)
        await conn.client.script_flush()
        first = await limiter.take([relier(burst=1)], 1, now(clock))
        second = await limiter.take([relier(burst=1)], 1, now(clock))
    finally:
        await conn.aclose()

    assert list(first) == [0] and list(second)[0] > 0
