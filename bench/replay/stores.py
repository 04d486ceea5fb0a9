"""The real store adapters the replay runs on: SQLite in a temporary folder, or Redis."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from adapters.stores.keys import KeyHasher
from adapters.stores.redis import RedisConnection, RedisDeliveryProblemStore, RedisMessageDataStore
from adapters.stores.sqlite import (
    SqliteDatabase,
    SqliteDeliveryProblemStore,
    SqliteMessageDataStore,
)
from ports.clock import Clock
from ports.stores import DeliveryProblemStore, MessageDataStore

Stores = tuple[DeliveryProblemStore, MessageDataStore]
StoreFactory = Callable[[Clock, int], AbstractAsyncContextManager[Stores]]
_HMACKEY = "reputation replay"
_TTL = 30 * 86400


@asynccontextmanager
async def sqlite_stores(clock: Clock, retention_seconds: int) -> AsyncIterator[Stores]:
    """A fresh SQLite file (WAL, as in production) in a folder removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="fxa-replay-"))
    db = SqliteDatabase(str(folder / "replay.sqlite3"))
    hasher = KeyHasher(_HMACKEY)
    try:
        yield (
            SqliteDeliveryProblemStore(db, hasher, clock, retention_seconds),
            SqliteMessageDataStore(db, hasher, clock, _TTL),
        )
    finally:
        await db.aclose()
        shutil.rmtree(folder, ignore_errors=True)


def redis_stores(db: int | None = None) -> StoreFactory:
    """Redis at FXA_EMAIL_REDIS_HOST/PORT, logical DB ``db`` (else FXA_EMAIL_REDIS_DB, else 15).

    The service's keys in that DB are deleted before and after each run: give it a DB of
    its own.
    """
    host = os.environ.get("FXA_EMAIL_REDIS_HOST", "127.0.0.1")
    port = int(os.environ.get("FXA_EMAIL_REDIS_PORT", "6379"))
    number = db if db is not None else int(os.environ.get("FXA_EMAIL_REDIS_DB", "15"))

    @asynccontextmanager
    async def factory(clock: Clock, retention_seconds: int) -> AsyncIterator[Stores]:
        conn = RedisConnection(host, port, number)
        hasher = KeyHasher(_HMACKEY)
        await _clear(conn)
        try:
            yield (
                RedisDeliveryProblemStore(conn, hasher, clock, retention_seconds),
                RedisMessageDataStore(conn, hasher, clock, _TTL),
            )
        finally:
            await _clear(conn)
            await conn.aclose()

    return factory


async def _clear(conn: RedisConnection) -> None:
    keys = [key async for key in conn.client.scan_iter(match="fxa-email:*", count=1000)]
    for start in range(0, len(keys), 1000):
        await conn.client.delete(*keys[start : start + 1000])
