"""Redis stores beyond the contract: a killed, frozen or restarted server, racing clients,
keys without personal data, and bounded growth."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.stores.keys import KeyHasher
from adapters.stores.redis import (
    RedisConnection,
    RedisDeliveryProblemStore,
    RedisMessageDataStore,
)
from domain.errors import StoreError
from domain.model import DeliveryProblem, MessageData, ProblemSubtype, ProblemType
from tests.adapters.stores.backends import fresh_redis
from tests.conftest import PrivateRedis
from tests.fakes import FakeClock
from tests.waiting import eventually

YEAR = 365 * 86400
HASHER = KeyHasher("test key")


def bounce(address: str, clock: FakeClock, feedback_id: str | None = None) -> DeliveryProblem:
    return DeliveryProblem(
        address, ProblemType.HARD_BOUNCE, ProblemSubtype.GENERAL, clock.now_ms(), feedback_id
    )


@pytest.fixture
async def private_conn(private_redis: PrivateRedis) -> AsyncIterator[RedisConnection]:
    conn = RedisConnection("127.0.0.1", private_redis.port, timeout=0.5)
    yield conn
    await conn.aclose()


async def test_outage_raises_store_error_and_the_same_adapters_recover(
    private_redis: PrivateRedis, private_conn: RedisConnection
) -> None:
    clock = FakeClock()
    problems = RedisDeliveryProblemStore(private_conn, HASHER, clock, YEAR)
    messages = RedisMessageDataStore(private_conn, HASHER, clock, 3600)
    assert await problems.record(bounce("a@example.com", clock, "fb-1")) is True
    await messages.put("m-1", "meta")

    private_redis.kill()
    for call in (
        problems.fetch("a@example.com"),
        problems.record(bounce("a@example.com", clock)),
        messages.put("m-2", "meta"),
        messages.get("m-1"),
        problems.ping(),
    ):
        with pytest.raises(StoreError) as raised:
            await call
        assert raised.value.errno == 117
        assert "a@example.com" not in raised.value.message

    private_redis.start()  # same port, empty: the server keeps nothing
    # The very first calls succeed: a pooled connection broken by the restart is retried
    # once on a fresh one, and the record script is loaded again into the new server.
    assert list(await problems.fetch("a@example.com")) == []
    assert await problems.record(bounce("a@example.com", clock, "fb-1")) is True
    assert len(await problems.fetch("a@example.com")) == 1
    await messages.put("m-3", "again")
    assert await messages.get("m-3") == MessageData("again")
    await messages.ping()


async def test_a_frozen_server_times_out_as_store_error_then_recovers(
    private_redis: PrivateRedis, private_conn: RedisConnection
) -> None:
    clock = FakeClock()
    messages = RedisMessageDataStore(private_conn, HASHER, clock, 3600)
    await messages.put("m-1", "meta")
    assert private_redis.process is not None
    pid = private_redis.process.pid

    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(StoreError):
            await messages.get("m-1")
        assert time.monotonic() - started < 3  # socket timeout 0.5 s, not forever
    finally:
        os.kill(pid, signal.SIGCONT)

    async def put_back() -> bool:
        await messages.put("m-2", "back")
        return True

    # The frozen command may or may not have run; the store answers again.
    await eventually(put_back, 5, retry_on=(StoreError,))
    assert await messages.get("m-2") == MessageData("back")


async def test_readers_on_separate_clients_all_get_the_metadata() -> None:
    clock = FakeClock()
    conns = [await fresh_redis() for _ in range(6)]
    try:
        stores = [RedisMessageDataStore(c, HASHER, clock, 3600) for c in conns]
        for n in range(30):
            await stores[0].put(f"raced-{n}", f"meta {n}")
        for n in range(30):
            results = await asyncio.gather(*(s.get(f"raced-{n}") for s in stores))
            assert results == [MessageData(f"meta {n}")] * len(stores)
    finally:
        for conn in conns:
            await conn.aclose()


async def test_same_feedback_from_separate_clients_is_recorded_once() -> None:
    clock = FakeClock()
    conns = [await fresh_redis() for _ in range(6)]
    try:
        stores = [RedisDeliveryProblemStore(c, HASHER, clock, YEAR) for c in conns]
        for n in range(10):
            address = f"raced-{n}@example.com"
            problem = bounce(address, clock, f"feedback-{n}")
            results = await asyncio.gather(*(s.record(problem) for s in stores))
            assert results.count(True) == 1
            assert len(await stores[-1].fetch(address)) == 1
    finally:
        for conn in conns:
            await conn.aclose()


async def test_keys_hold_no_address_or_message_id() -> None:
    clock = FakeClock()
    conn = await fresh_redis()
    try:
        await RedisMessageDataStore(conn, HASHER, clock, 3600).put("provider-id-42", "m")
        problems = RedisDeliveryProblemStore(conn, HASHER, clock, YEAR)
        await problems.record(bounce("Private.Person@example.com", clock, "fb"))
        keys = [key async for key in conn.client.scan_iter()]
        assert len(keys) == 3  # metadata, the address's records, its feedback marker
        for key in keys:
            assert key.startswith("fxa-email:")
            assert "provider-id-42" not in key and "private" not in key.lower()
            assert "example" not in key
            assert await conn.client.pttl(key) > 0  # everything expires
    finally:
        await conn.aclose()


async def test_an_address_keeps_only_its_newest_records() -> None:
    clock = FakeClock()
    conn = await fresh_redis()
    try:
        problems = RedisDeliveryProblemStore(conn, HASHER, clock, YEAR, max_records=5)
        for _ in range(8):
            clock.advance(1)
            await problems.record(bounce("busy@example.com", clock))

        fetched = await problems.fetch("busy@example.com")

        assert [p.created_at for p in fetched] == [clock.now_ms() - n * 1000 for n in range(5)]
    finally:
        await conn.aclose()


def connections_taken(conn: RedisConnection, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every connection taken from ``conn``'s pool from now on (the arguments of each)."""
    pool = conn.client.connection_pool
    taken: list[object] = []
    real: Any = pool.get_connection

    async def counting(*args: object, **kwargs: object) -> object:
        taken.append(args)
        return await real(*args, **kwargs)

    monkeypatch.setattr(pool, "get_connection", counting)
    return taken


async def test_fetch_many_is_one_pipeline_for_all_addresses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    conn = await fresh_redis()
    try:
        problems = RedisDeliveryProblemStore(conn, HASHER, clock, YEAR)
        await problems.record(bounce("c@example.com", clock))
        taken = connections_taken(conn, monkeypatch)

        histories = await problems.fetch_many([f"{n}@example.com" for n in "abcde"])

        assert [len(h) for h in histories] == [0, 0, 1, 0, 0]
        assert len(taken) == 1  # one connection, one write of five commands, one read
    finally:
        await conn.aclose()


async def test_concurrent_requests_share_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    conn = await fresh_redis()
    try:
        problems = RedisDeliveryProblemStore(conn, HASHER, clock, YEAR)
        messages = RedisMessageDataStore(conn, HASHER, clock, 3600)
        await problems.record(bounce("c3@example.com", clock))
        taken = connections_taken(conn, monkeypatch)

        async def one_request(n: int) -> int:
            histories = await problems.fetch_many([f"to{n}@example.com", f"c{n}@example.com"])
            await messages.put(f"m{n}", f"meta {n}")
            return sum(len(h) for h in histories)

        found = await asyncio.gather(*(one_request(n) for n in range(20)))

        assert found == [1 if n == 3 else 0 for n in range(20)]
        assert len(taken) < 20  # 40 commands in far fewer round trips
        assert [await messages.get(f"m{n}") for n in range(20)] == [
            MessageData(f"meta {n}") for n in range(20)
        ]
    finally:
        await conn.aclose()


async def test_round_trips_one_after_the_other_take_one_connection_from_the_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn = await fresh_redis()
    try:
        messages = RedisMessageDataStore(conn, HASHER, FakeClock(), 3600)
        taken = connections_taken(conn, monkeypatch)
        for n in range(10):
            await messages.put(f"m{n}", f"meta {n}")

        assert len(taken) == 1  # kept between round trips, not taken and checked each time
        assert [await messages.get(f"m{n}") for n in range(10)] == [
            MessageData(f"meta {n}") for n in range(10)
        ]
    finally:
        await conn.aclose()


async def test_a_failing_command_fails_only_its_caller() -> None:
    clock = FakeClock()
    conn = await fresh_redis()
    try:
        problems = RedisDeliveryProblemStore(conn, HASHER, clock, YEAR)
        messages = RedisMessageDataStore(conn, HASHER, clock, 3600)
        await conn.client.set(problems._key("odd@example.com"), "not a sorted set")

        results = await asyncio.gather(
            problems.fetch_many(["odd@example.com"]),
            problems.fetch_many(["fine@example.com"]),
            messages.put("m", "kept"),
            return_exceptions=True,
        )

        assert isinstance(results[0], StoreError)
        assert results[1] == [[]] and results[2] is None
        assert await messages.get("m") == MessageData("kept")
    finally:
        await conn.aclose()


async def test_a_value_stored_before_relier_ids_reads_as_before() -> None:
    clock = FakeClock()
    conn = await fresh_redis()
    try:
        store = RedisMessageDataStore(conn, HASHER, clock, 3600)
        await store.put("new", None, "fxa-auth")
        [key] = [key async for key in conn.client.scan_iter()]
        expires_at = clock.now_ms() + 3_600_000
        await conn.client.set(key, f"{expires_at}:old: meta/with:colons", px=3_600_000)

        assert await store.get("new") == MessageData("old: meta/with:colons", None)
        clock.advance(3601)
        assert await store.get("new") is None
    finally:
        await conn.aclose()
