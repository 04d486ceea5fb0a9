"""The embedded SQLite store shared by two processes: `serve` and `queues` each open it."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest

from adapters.stores.keys import KeyHasher
from adapters.stores.sqlite import (
    SqliteDatabase,
    SqliteDeliveryProblemStore,
    SqliteMessageDataStore,
    select_keys_in,
)
from domain.errors import StoreError
from domain.model import DeliveryProblem, MessageData, ProblemSubtype, ProblemType
from tests.fakes import FakeClock
from tests.waiting import eventually

YEAR = 365 * 86400


def _read_all(path: str, count: int, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import asyncio

    async def run() -> None:
        db = SqliteDatabase(path)
        store = SqliteMessageDataStore(db, KeyHasher("k"), FakeClock(), YEAR)
        got = [await store.get(f"m{i}") for i in range(count)]
        results.put([g.metadata for g in got if g is not None])
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


_T = TypeVar("_T")


async def waits_off_the_loop(work: Awaitable[_T], release: Callable[[], object], what: str) -> _T:
    """``work``'s answer. While another connection holds the lock, ``work`` must wait
    without holding the loop (the loop runs over 100 times and ``work`` is not done); then
    ``release`` lets the lock go."""
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.sleep(0)

    async with anyio.create_task_group() as group:
        group.start_soon(tick)
        waiting = asyncio.ensure_future(work)
        await eventually(lambda: ticks > 100, 5, what)
        assert not waiting.done()  # waiting for the lock, off the loop
        release()
        answer = await waiting
        group.cancel_scope.cancel()
    return answer


async def test_a_lock_held_elsewhere_neither_stalls_the_loop_nor_drops_a_write(
    tmp_path: Path,
) -> None:
    # Another process (here another connection) holds the write lock. Before, the write
    # waited on the event loop for busy_timeout and then failed, dropping the metadata.
    path = str(tmp_path / "shared.sqlite3")
    db = SqliteDatabase(path, busy_timeout_ms=3000)
    store = SqliteMessageDataStore(db, KeyHasher("k"), FakeClock(), YEAR)
    await store.put("warm-up", "x")  # the schema exists before the lock is taken
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")

    await waits_off_the_loop(
        store.put("m1", "kept"),
        lambda: holder.execute("COMMIT"),
        "the loop to run while the lock is held",
    )

    assert await store.get("m1") == MessageData("kept")
    holder.close()
    await db.aclose()


async def _store_with_a_complaint_for_c(
    tmp_path: Path,
) -> tuple[SqliteDatabase, SqliteDeliveryProblemStore, list[str]]:
    """A store whose file holds one complaint, for c@example.com, and the statements its
    loop connection runs from then on."""
    db = SqliteDatabase(str(tmp_path / "one.sqlite3"))
    clock = FakeClock()
    store = SqliteDeliveryProblemStore(db, KeyHasher("k"), clock, YEAR)
    await store.record(
        DeliveryProblem(
            "c@example.com", ProblemType.COMPLAINT, ProblemSubtype.ABUSE, clock.now_ms(), None
        )
    )
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    return db, store, statements


async def test_fetch_many_is_one_statement_for_all_addresses(tmp_path: Path) -> None:
    db, store, statements = await _store_with_a_complaint_for_c(tmp_path)

    histories = await store.fetch_many([f"{n}@example.com" for n in "abcde"])

    db.conn.set_trace_callback(None)
    assert [len(h) for h in histories] == [0, 0, 1, 0, 0]
    assert len(statements) == 1 and " IN (" in statements[0]
    await db.aclose()


def test_keys_past_a_statements_parameters_are_read_in_chunks() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (key TEXT, n INTEGER)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(f"k{n}", n) for n in range(1300)])
    statements: list[str] = []
    conn.set_trace_callback(statements.append)

    rows = list(
        select_keys_in(
            conn, "SELECT key FROM t WHERE key", [f"k{n}" for n in range(1201)], " AND n % ? = 0", 2
        )
    )

    assert sorted(rows) == sorted((f"k{n}",) for n in range(0, 1201, 2))
    assert len(statements) == 3  # 500 keys at most per statement
    conn.close()


async def test_the_reads_of_one_loop_iteration_are_one_statement(tmp_path: Path) -> None:
    # Each send reads its recipients' problems; concurrent sends share one SELECT.
    db, store, statements = await _store_with_a_complaint_for_c(tmp_path)

    histories = await asyncio.gather(
        *(store.fetch_many([f"{n}@example.com", "C@example.com"]) for n in "abdefgh")
    )

    db.conn.set_trace_callback(None)
    assert [[len(h) for h in pair] for pair in histories] == [[0, 1]] * 7
    assert {p.address for pair in histories for p in pair[1]} == {"C@example.com"}
    assert len(statements) == 1
    await db.aclose()


async def test_a_read_finding_the_file_locked_waits_off_the_loop(tmp_path: Path) -> None:
    path = str(tmp_path / "locked.sqlite3")
    clock = FakeClock()
    writer_db = SqliteDatabase(path)
    problem = DeliveryProblem(
        "a@example.com", ProblemType.HARD_BOUNCE, ProblemSubtype.GENERAL, clock.now_ms()
    )
    await SqliteDeliveryProblemStore(writer_db, KeyHasher("k"), clock, YEAR).record(problem)
    await writer_db.aclose()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")  # no other connection may read
    holder.execute("BEGIN EXCLUSIVE")
    db = SqliteDatabase(path, busy_timeout_ms=5000)
    store = SqliteDeliveryProblemStore(db, KeyHasher("k"), clock, YEAR)

    def release() -> None:
        holder.execute("COMMIT")
        holder.close()  # the exclusive lock is held until the connection closes

    read = store.fetch_many(["a@example.com", "b@example.com"])
    found = await waits_off_the_loop(read, release, "the loop to run while the file is locked")
    assert found == [[problem], []]
    await db.aclose()


async def test_concurrent_metadata_writes_share_commits_and_all_land(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = SqliteDatabase(str(tmp_path / "group.sqlite3"))
    store = SqliteMessageDataStore(db, KeyHasher("k"), FakeClock(), YEAR)
    batches: list[int] = []
    real = SqliteDatabase._commit

    def counting(self: SqliteDatabase, batch: list[Any]) -> str | None:
        batches.append(len(batch))
        return real(self, batch)

    monkeypatch.setattr(SqliteDatabase, "_commit", counting)

    await asyncio.gather(*(store.put(f"m{i}", f"meta {i}") for i in range(50)))

    assert sum(batches) == 50 and len(batches) < 50  # group commits
    assert [await store.get(f"m{i}") for i in range(50)] == [
        MessageData(f"meta {i}") for i in range(50)
    ]
    await db.aclose()


class _CountingExecutemany:
    """The loop's connection, with the rows of each ``executemany`` counted."""

    def __init__(self, conn: sqlite3.Connection, calls: list[int]) -> None:
        self._conn = conn
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def executemany(self, statement: str, rows: Any) -> sqlite3.Cursor:
        rows = list(rows)
        self._calls.append(len(rows))
        return self._conn.executemany(statement, rows)


async def test_the_metadata_of_one_loop_iteration_is_one_executemany(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = SqliteDatabase(str(tmp_path / "rows.sqlite3"))
    store = SqliteMessageDataStore(db, KeyHasher("k"), FakeClock(), YEAR)
    await store.put("m0", "meta 0")  # opens the loop's connection
    calls: list[int] = []
    monkeypatch.setattr(db, "_conn", _CountingExecutemany(db.conn, calls))

    await asyncio.gather(*(store.put(f"m{i}", f"meta {i}") for i in range(1, 21)))
    await store.put("m21", "meta 21")  # a later iteration: a statement of its own

    assert calls == [20, 1]
    assert [await store.get(f"m{i}") for i in range(22)] == [
        MessageData(f"meta {i}") for i in range(22)
    ]
    await db.aclose()


async def test_the_wal_starts_over_while_sends_go_on(tmp_path: Path) -> None:
    """The loop's connection never checkpoints; the writer thread's checkpoints must still
    let the WAL start from its beginning again, or it grows with every send."""
    path = tmp_path / "wal.sqlite3"
    db = SqliteDatabase(str(path))
    hasher, clock = KeyHasher("k"), FakeClock()
    store = SqliteMessageDataStore(db, hasher, clock, YEAR)
    problems = SqliteDeliveryProblemStore(db, hasher, clock, YEAR)
    for round in range(1200):  # what a send does: a read, then writes committed together
        await problems.fetch_many(["a@example.com", "b@example.com"])
        await asyncio.gather(*(store.put(f"m{round}.{i}", "metadata") for i in range(4)))
    wal = Path(f"{path}-wal").stat().st_size
    # Never started over, it holds every commit's pages: 1200 x ~11 x 4 KiB, ~54 MB; started
    # over after each checkpoint (every 256 transactions), at most a few MB.
    assert wal < 16_000_000
    await db.aclose()


async def test_a_failed_metadata_commit_raises_store_error_and_later_writes_recover(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "broken.sqlite3")
    db = SqliteDatabase(path)
    store = SqliteMessageDataStore(db, KeyHasher("k"), FakeClock(), YEAR)
    await store.put("before", "x")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("ALTER TABLE message_data RENAME TO moved_away")

    with pytest.raises(StoreError):
        await store.put("lost", "y")

    other.execute("ALTER TABLE moved_away RENAME TO message_data")
    other.close()
    await store.put("after", "z")
    assert (await store.get("before"), await store.get("after")) == (
        MessageData("x"),
        MessageData("z"),
    )
    await db.aclose()


async def test_many_first_writes_to_a_new_file_all_land(tmp_path: Path) -> None:
    """The loop's connection is opened by the first of them, once: two first connections
    setting up a new file at once may fail with 'database is locked' without waiting."""
    for round in range(15):
        db = SqliteDatabase(str(tmp_path / f"new{round}.sqlite3"))
        store = SqliteMessageDataStore(db, KeyHasher("k"), FakeClock(), YEAR)
        await asyncio.gather(*(store.put(f"m{i}", "first") for i in range(20)))
        assert [await store.get(f"m{i}") for i in range(20)] == [MessageData("first")] * 20
        await db.aclose()


async def test_closing_commits_the_writes_in_flight(tmp_path: Path) -> None:
    path = str(tmp_path / "close.sqlite3")
    db = SqliteDatabase(path)
    store = SqliteMessageDataStore(db, KeyHasher("k"), FakeClock(), YEAR)
    writes = [asyncio.ensure_future(store.put(f"m{i}", "kept")) for i in range(20)]
    await asyncio.sleep(0)  # every put is queued for the writer

    await db.aclose()
    await asyncio.gather(*writes)

    reopened = SqliteDatabase(path)
    again = SqliteMessageDataStore(reopened, KeyHasher("k"), FakeClock(), YEAR)
    assert [await again.get(f"m{i}") for i in range(20)] == [MessageData("kept")] * 20
    await reopened.aclose()


async def test_a_file_made_before_relier_ids_keeps_its_records_and_stores_them(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "old.sqlite3")
    hasher, clock = KeyHasher("k"), FakeClock()
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE message_data (
            key TEXT PRIMARY KEY, metadata TEXT NOT NULL, expires_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX message_data_by_expiry ON message_data (expires_at);
        """
    )
    expires_at = clock.now_ms() + YEAR * 1000
    old.execute(
        "INSERT INTO message_data VALUES (?, ?, ?)", (hasher.message("m"), "old", expires_at)
    )
    old.commit()
    old.close()

    db = SqliteDatabase(path)
    store = SqliteMessageDataStore(db, hasher, clock, YEAR)
    assert await store.get("m") == MessageData("old", None)
    await store.put("n", None, "fxa-auth")
    assert await store.get("n") == MessageData(None, "fxa-auth")
    await db.aclose()
