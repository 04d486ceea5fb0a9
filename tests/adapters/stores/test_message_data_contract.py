"""The MessageDataStore contract, held by the fake and every real adapter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.stores.keys import KeyHasher
from tests.adapters.stores.backends import MESSAGE_STORES
from tests.fakes import FakeClock

TTL = 3600


@pytest.fixture(params=sorted(MESSAGE_STORES))
def store_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(store_backend: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Any]:
    async with MESSAGE_STORES[store_backend](KeyHasher("test key"), clock, TTL, tmp_path) as store:
        yield store


async def test_absent_message_has_no_metadata(store: Any) -> None:
    assert await store.consume("no-such-message") is None


async def test_metadata_is_returned_once(store: Any) -> None:
    await store.put("message-1", '{"flowId": "abc", "ünïcode": true}')

    assert await store.consume("message-1") == '{"flowId": "abc", "ünïcode": true}'
    assert await store.consume("message-1") is None


async def test_put_again_replaces(store: Any) -> None:
    await store.put("message-2", "first")
    await store.put("message-2", "second")

    assert await store.consume("message-2") == "second"


async def test_messages_are_independent(store: Any) -> None:
    await store.put("a", "for a")
    await store.put("b", "for b")

    assert await store.consume("b") == "for b"
    assert await store.consume("a") == "for a"


async def test_metadata_expires_after_ttl(store_backend: str, store: Any, clock: FakeClock) -> None:
    await store.put("message-3", "short-lived")
    clock.advance(TTL + 1)

    assert await store.consume("message-3") is None


async def test_concurrent_consumers_get_it_at_most_once(store: Any) -> None:
    await store.put("contended", "only once")

    results = await asyncio.gather(*(store.consume("contended") for _ in range(8)))

    assert results.count("only once") == 1
    assert results.count(None) == 7
