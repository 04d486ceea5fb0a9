"""Builds each store adapter for the store contract suites.

Each backend is a factory taking (hasher, clock, retention_or_ttl, tmp_path) and returning
an async context manager that yields the adapter. ``OWN_STORES`` are the service's own stores
(they expire records); the accounts database keeps its records itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from adapters.stores.keys import KeyHasher
from adapters.stores.memory import MemoryDeliveryProblemStore, MemoryMessageDataStore
from adapters.stores.sqlite import (
    SqliteDatabase,
    SqliteDeliveryProblemStore,
    SqliteMessageDataStore,
)
from tests.fakes import FakeClock

Factory = Callable[[KeyHasher, FakeClock, int, Path], AbstractAsyncContextManager[Any]]


@asynccontextmanager
async def memory_problems(
    hasher: KeyHasher, clock: FakeClock, retention: int, tmp: Path
) -> AsyncIterator[Any]:
    yield MemoryDeliveryProblemStore(hasher, clock, retention)


@asynccontextmanager
async def sqlite_problems(
    hasher: KeyHasher, clock: FakeClock, retention: int, tmp: Path
) -> AsyncIterator[Any]:
    db = SqliteDatabase(str(tmp / "store.sqlite3"))
    yield SqliteDeliveryProblemStore(db, hasher, clock, retention)
    await db.aclose()


@asynccontextmanager
async def memory_messages(
    hasher: KeyHasher, clock: FakeClock, ttl: int, tmp: Path
) -> AsyncIterator[Any]:
    yield MemoryMessageDataStore(hasher, clock, ttl)


@asynccontextmanager
async def sqlite_messages(
    hasher: KeyHasher, clock: FakeClock, ttl: int, tmp: Path
) -> AsyncIterator[Any]:
    db = SqliteDatabase(str(tmp / "store.sqlite3"))
    yield SqliteMessageDataStore(db, hasher, clock, ttl)
    await db.aclose()


PROBLEM_STORES: dict[str, Factory] = {
    "memory": memory_problems,
    "sqlite": sqlite_problems,
}
OWN_PROBLEM_STORES = {"memory", "sqlite"}
MESSAGE_STORES: dict[str, Factory] = {
    "memory": memory_messages,
    "sqlite": sqlite_messages,
}
