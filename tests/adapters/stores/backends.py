"""Builds each store adapter for the store contract suites.

Each backend is a factory taking (hasher, clock, retention_or_ttl, tmp_path) and returning
an async context manager that yields the adapter. ``OWN_PROBLEM_STORES`` are the service's
own stores (they expire records); the accounts database keeps its records itself, and over
its HTTP API (``SERVER_TIMESTAMPED``) it sets ``createdAt`` itself when it records.

Real backends: Redis on 127.0.0.1:6379 logical DB 15 (flushed per test) and MariaDB's
`test` database (emailBounces emptied per test). A missing server fails the test loudly.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from adapters.stores.authdb_http import AuthDbDeliveryProblemStore
from adapters.stores.authdb_mysql import MysqlDeliveryProblemStore
from adapters.stores.keys import KeyHasher
from adapters.stores.memory import MemoryDeliveryProblemStore, MemoryMessageDataStore
from adapters.stores.redis import RedisConnection, RedisDeliveryProblemStore, RedisMessageDataStore
from adapters.stores.sqlite import (
    SqliteDatabase,
    SqliteDeliveryProblemStore,
    SqliteMessageDataStore,
)
from ports.stores import DeliveryProblemStore, MessageDataStore
from tests.doubles.accountsdb import MYSQL_URL, reset_accounts_db, shared_http_double
from tests.fakes import FakeClock

# FXA_TEST_REDIS_DB lets concurrent test runs on one machine use logical DBs of their own.
REDIS_PORT, REDIS_TEST_DB = 6379, int(os.environ.get("FXA_TEST_REDIS_DB", "15"))

# Typed as the ports, so that mypy holds every real store to its Protocol.
ProblemFactory = Callable[
    [KeyHasher, FakeClock, int, Path], AbstractAsyncContextManager[DeliveryProblemStore]
]
MessageFactory = Callable[
    [KeyHasher, FakeClock, int, Path], AbstractAsyncContextManager[MessageDataStore]
]


@asynccontextmanager
async def memory_problems(
    hasher: KeyHasher, clock: FakeClock, retention: int, tmp: Path
) -> AsyncIterator[DeliveryProblemStore]:
    yield MemoryDeliveryProblemStore(hasher, clock, retention)


@asynccontextmanager
async def sqlite_problems(
    hasher: KeyHasher, clock: FakeClock, retention: int, tmp: Path
) -> AsyncIterator[DeliveryProblemStore]:
    db = SqliteDatabase(str(tmp / "store.sqlite3"))
    yield SqliteDeliveryProblemStore(db, hasher, clock, retention)
    await db.aclose()


@asynccontextmanager
async def memory_messages(
    hasher: KeyHasher, clock: FakeClock, ttl: int, tmp: Path
) -> AsyncIterator[MessageDataStore]:
    yield MemoryMessageDataStore(hasher, clock, ttl)


@asynccontextmanager
async def sqlite_messages(
    hasher: KeyHasher, clock: FakeClock, ttl: int, tmp: Path
) -> AsyncIterator[MessageDataStore]:
    db = SqliteDatabase(str(tmp / "store.sqlite3"))
    yield SqliteMessageDataStore(db, hasher, clock, ttl)
    await db.aclose()


async def fresh_redis(port: int = REDIS_PORT) -> RedisConnection:
    """Logical DB ``REDIS_TEST_DB`` (15), emptied; fails loudly when Redis does not answer."""
    conn = RedisConnection("127.0.0.1", port, db=REDIS_TEST_DB, timeout=2.0)
    try:
        await conn.client.flushdb()
    except Exception as exc:
        await conn.aclose()
        raise RuntimeError(
            f"Redis is not answering on 127.0.0.1:{port}; start it as "
            f"/work/shared/STACK-NOTES.md says. {exc!r}"
        ) from exc
    return conn


@asynccontextmanager
async def redis_problems(
    hasher: KeyHasher, clock: FakeClock, retention: int, tmp: Path
) -> AsyncIterator[DeliveryProblemStore]:
    conn = await fresh_redis()
    yield RedisDeliveryProblemStore(conn, hasher, clock, retention)
    await conn.aclose()


@asynccontextmanager
async def redis_messages(
    hasher: KeyHasher, clock: FakeClock, ttl: int, tmp: Path
) -> AsyncIterator[MessageDataStore]:
    conn = await fresh_redis()
    yield RedisMessageDataStore(conn, hasher, clock, ttl)
    await conn.aclose()


@asynccontextmanager
async def mysql_problems(
    hasher: KeyHasher, clock: FakeClock, retention: int, tmp: Path
) -> AsyncIterator[DeliveryProblemStore]:
    await reset_accounts_db()
    store = MysqlDeliveryProblemStore(MYSQL_URL, poolsize=4, timeout=2.0, clock=clock)
    yield store
    await store.aclose()


@asynccontextmanager
async def authdb_problems(
    hasher: KeyHasher, clock: FakeClock, retention: int, tmp: Path
) -> AsyncIterator[DeliveryProblemStore]:
    await reset_accounts_db()
    store = AuthDbDeliveryProblemStore(shared_http_double().baseuri, timeout=2.0, clock=clock)
    yield store
    await store.aclose()


PROBLEM_STORES: dict[str, ProblemFactory] = {
    "memory": memory_problems,
    "sqlite": sqlite_problems,
    "redis": redis_problems,
    "mysql": mysql_problems,
    "authdb": authdb_problems,
}
OWN_PROBLEM_STORES = {"memory", "sqlite", "redis"}
# The accounts database's stores stamp a record with the time it is recorded (docs/stores.md).
SERVER_TIMESTAMPED = {"authdb", "mysql"}
MESSAGE_STORES: dict[str, MessageFactory] = {
    "memory": memory_messages,
    "sqlite": sqlite_messages,
    "redis": redis_messages,
}
