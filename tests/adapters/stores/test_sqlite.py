"""The embedded SQLite store shared by two processes: `serve` and `queues` each open it."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from adapters.stores.keys import KeyHasher
from adapters.stores.sqlite import (
    SqliteDatabase,
    SqliteDeliveryProblemStore,
    SqliteMessageDataStore,
)
from domain.model import DeliveryProblem, ProblemSubtype, ProblemType
from tests.fakes import FakeClock

YEAR = 365 * 86400


def _read_all(path: str, count: int, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import asyncio

    async def run() -> None:
        db = SqliteDatabase(path)
        store = SqliteMessageDataStore(db, KeyHasher("k"), FakeClock(), YEAR)
        got = [await store.get(f"m{i}") for i in range(count)]
        results.put([g for g in got if g is not None])
        await db.aclose()

    asyncio.run(run())


async def test_a_record_written_by_one_connection_is_seen_by_another(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite3")
    clock = FakeClock()
    writer_db, reader_db = SqliteDatabase(path), SqliteDatabase(path)
    writer = SqliteDeliveryProblemStore(writer_db, KeyHasher("k"), clock, YEAR)
    reader = SqliteDeliveryProblemStore(reader_db, KeyHasher("k"), clock, YEAR)

    await writer.record(
        DeliveryProblem("a@example.com", ProblemType.HARD_BOUNCE, ProblemSubtype.GENERAL, clock.now)
    )

    assert [p.type for p in await reader.fetch("A@example.com")] == [ProblemType.HARD_BOUNCE]
    assert writer_db.conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    await writer_db.aclose()
    await reader_db.aclose()


async def test_two_processes_both_read_every_record(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite3")
    count = 300
    db = SqliteDatabase(path)
    store = SqliteMessageDataStore(db, KeyHasher("k"), FakeClock(), YEAR)
    for i in range(count):
        await store.put(f"m{i}", f"metadata {i}")
    await db.aclose()

    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
    workers = [context.Process(target=_read_all, args=(path, count, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    got = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    expected = [f"metadata {i}" for i in range(count)]
    assert got == [expected, expected]
