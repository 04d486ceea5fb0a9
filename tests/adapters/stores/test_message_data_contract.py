"""The MessageDataStore contract, held by the fake and every real adapter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.stores.keys import KeyHasher
from domain.model import MessageData
from ports.stores import MessageDataStore
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
async def store(
    store_backend: str, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[MessageDataStore]:
    async with MESSAGE_STORES[store_backend](KeyHasher("test key"), clock, TTL, tmp_path) as store:
        yield store


async def test_absent_message_has_no_metadata(store: MessageDataStore) -> None:
    assert await store.get("no-such-message") is None


async def test_metadata_is_read_never_consumed(store: MessageDataStore) -> None:
    await store.put("message-1", '{"flowId": "abc", "ünïcode": true}')

    assert await store.get("message-1") == MessageData('{"flowId": "abc", "ünïcode": true}')
    assert await store.get("message-1") == MessageData('{"flowId": "abc", "ünïcode": true}')


async def test_put_again_replaces(store: MessageDataStore) -> None:
    await store.put("message-2", "first")
    await store.put("message-2", "second")

    assert await store.get("message-2") == MessageData("second")


async def test_the_relier_id_is_stored_beside_the_metadata(
    store: MessageDataStore, clock: FakeClock
) -> None:
    await store.put("both", '{"flowId": 1}', "fxa-auth")
    await store.put("relier only", None, "fxa-auth.stage@example")
    await store.put("metadata only", "meta")

    assert await store.get("both") == MessageData('{"flowId": 1}', "fxa-auth")
    assert await store.get("both") == MessageData('{"flowId": 1}', "fxa-auth")  # not consumed
    assert await store.get("relier only") == MessageData(None, "fxa-auth.stage@example")
    assert await store.get("metadata only") == MessageData("meta", None)
    clock.advance(TTL + 1)
    assert await store.get("both") is None


async def test_messages_are_independent(store: MessageDataStore) -> None:
    await store.put("a", "for a")
    await store.put("b", "for b")

    assert await store.get("b") == MessageData("for b")
    assert await store.get("a") == MessageData("for a")


async def test_metadata_expires_after_ttl(
    store_backend: str, store: MessageDataStore, clock: FakeClock
) -> None:
    await store.put("message-3", "short-lived")
    clock.advance(TTL + 1)

    assert await store.get("message-3") is None


async def test_metadata_read_until_the_ttl_expires_it(
    store: MessageDataStore, clock: FakeClock
) -> None:
    await store.put("message-4", "for every notification")
    clock.advance(TTL - 1)
    assert await store.get("message-4") == MessageData("for every notification")

    clock.advance(2)
    assert await store.get("message-4") is None


async def test_concurrent_readers_all_get_it(store: MessageDataStore) -> None:
    await store.put("contended", "for all")

    results = await asyncio.gather(*(store.get("contended") for _ in range(8)))

    assert results == [MessageData("for all")] * 8
