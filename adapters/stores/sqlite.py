"""SQLite stores: the embedded default, one WAL-mode file shared by `serve` and `queues`.

Statements run on the event loop first, on a connection that never waits for a lock
(``busy_timeout`` 0): each is an indexed lookup or a single-row write that takes
microseconds, far less than the ~200 us a thread hop costs here. Only when the other process
holds the lock (SQLITE_BUSY) is the statement run again in a worker thread, on a connection
of that thread that waits up to ``sqlite.busytimeout`` for the lock, so the loop never
waits on a lock and a write is not lost for one (docs/operations.md).

Reads of delivery problems (each send reads its recipients') are gathered too: one
``SELECT`` on the loop's connection for every address asked for in one loop iteration.

Writes (the metadata stored after each send, rate-limit takes) are group commits: every
write of one loop iteration runs in one ``BEGIN IMMEDIATE`` transaction on the loop's
connection, which costs far less than a thread hand-over per write (the GIL traffic of a
writer thread cost more than the commits). The loop's connection never checkpoints the WAL
(a checkpoint waits on the disk): the writer thread does, every few hundred commits. When
the file is locked by the other process, the batch goes to the writer thread instead, which
waits for the lock; each caller still awaits its own write's outcome (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import enum
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import anyio

from adapters.stores.keys import KeyHasher
from domain.errors import StoreError
from domain.model import DeliveryProblem, MessageData, ProblemSubtype, ProblemType
from ports.clock import Clock

_T = TypeVar("_T")
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS delivery_problems (
    address_key TEXT NOT NULL,
    type INTEGER NOT NULL,
    subtype INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    feedback_id TEXT
);
CREATE INDEX IF NOT EXISTS delivery_problems_by_address
    ON delivery_problems (address_key, created_at);
CREATE INDEX IF NOT EXISTS delivery_problems_by_age ON delivery_problems (created_at);
CREATE UNIQUE INDEX IF NOT EXISTS delivery_problems_once
    ON delivery_problems (address_key, feedback_id) WHERE feedback_id IS NOT NULL;
"""
_MESSAGE_DATA_TABLE = """
CREATE TABLE IF NOT EXISTS message_data (
    key TEXT PRIMARY KEY,
    metadata TEXT,
    expires_at INTEGER NOT NULL,
    relier TEXT
) WITHOUT ROWID"""
_MESSAGE_DATA_INDEX = (
    "CREATE INDEX IF NOT EXISTS message_data_by_expiry ON message_data (expires_at)"
)
_SCHEMA += f"{_MESSAGE_DATA_TABLE};\n{_MESSAGE_DATA_INDEX};\n"


# A file made before relier ids were stored: its message_data is rebuilt once, rows kept
# (metadata was NOT NULL there and a row may now hold a relier id without metadata).
_WITH_RELIER = (
    "ALTER TABLE message_data RENAME TO message_data_before_relier",
    _MESSAGE_DATA_TABLE,
    "INSERT INTO message_data (key, metadata, expires_at)"
    " SELECT key, metadata, expires_at FROM message_data_before_relier",
    "DROP TABLE message_data_before_relier",  # and its index, so the new one can be made
    _MESSAGE_DATA_INDEX,
)


def _has_relier_column(conn: sqlite3.Connection) -> bool:
    return any(row[1] == "relier" for row in conn.execute("PRAGMA table_info(message_data)"))


def _store_relier_ids(conn: sqlite3.Connection) -> None:
    """Rebuild an older file's message_data with the relier column, in one transaction."""
    if _has_relier_column(conn):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not _has_relier_column(conn):  # another process may have done it meanwhile
            for statement in _WITH_RELIER:
                conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class _NotNow(enum.Enum):
    NOT_NOW = "not open yet, or locked"


NOT_NOW = _NotNow.NOT_NOW  # what ``SqliteDatabase.run_now`` answers when it did nothing

_MAX_BATCH = 512
# The loop's connection never checkpoints (it would wait on the disk); the writer thread
# does, after this many of the loop's writes (each a page or so of WAL: a send's metadata
# lands on a page of its own, its key being a hash), whatever the transactions they made.
_CHECKPOINT_EVERY = 256
_WRITE, _CHECKPOINT, _CHECKPOINT_THEN_WRITE = 0, 1, 2  # what the writer thread is handed
_BUSY_ON_LOOP = "the file is locked"  # compared by identity: nothing was done
_Write = tuple[Callable[[sqlite3.Connection], object], "asyncio.Future[None]"]


def _written_with_the_first(conn: sqlite3.Connection) -> None:
    """The work of a row that its statement's first row in the batch writes."""


def _settle(futures: list[asyncio.Future[None]], error: str | None) -> None:
    for future in futures:
        if future.done():  # its caller was cancelled; the write was made all the same
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(StoreError(error))


def _is_busy(exc: sqlite3.Error) -> bool:
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _BUSY


_MAX_KEYS_PER_SELECT = 500  # host parameters per statement, well under SQLite's limit


def select_keys_in(
    conn: sqlite3.Connection, select: str, keys: Sequence[str], after: str = "", *args: object
) -> Iterator[Any]:
    """The rows of ``{select} IN (<keys>){after}``, ``args`` bound after the keys; the keys
    go in chunks, one statement each."""
    for start in range(0, len(keys), _MAX_KEYS_PER_SELECT):
        chunk = keys[start : start + _MAX_KEYS_PER_SELECT]
        marks = ",".join("?" * len(chunk))
        yield from conn.execute(f"{select} IN ({marks}){after}", (*chunk, *args))


class SqliteDatabase:
    """The shared file: a connection on the event loop, and one per waiting worker thread.

    The loop's connection never waits (``busy_timeout`` 0). A statement that finds the
    database locked runs again in a worker thread, on that thread's own connection with
    ``busy_timeout_ms``; at most ``max_waiting`` threads wait at once, the other callers wait
    their turn without holding the loop.
    """

    def __init__(self, path: str, busy_timeout_ms: int = 10000, max_waiting: int = 4) -> None:
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._conn: sqlite3.Connection | None = None
        self._waiting = anyio.CapacityLimiter(max_waiting)
        self._opening = anyio.Lock()
        self._local = threading.local()
        self._thread_conns: list[sqlite3.Connection] = []
        self._thread_conns_lock = threading.Lock()
        self._writes: queue.SimpleQueue[
            tuple[list[_Write], int, asyncio.AbstractEventLoop] | None
        ] = queue.SimpleQueue()
        self._gathering: list[_Write] = []  # this loop iteration's writes: one transaction
        self._rows: dict[str, list[tuple[object, ...]]] = {}  # its rows, by statement
        self._handed_over = 0  # batches the writer thread has not settled yet
        self._loop_uses = 0
        self._checkpointing = False  # the writer thread is copying the WAL into the file
        self._checkpointed = False  # it has: the next batch restarts the WAL
        self._writer: threading.Thread | None = None

    def _connect(self, busy_timeout_ms: int) -> sqlite3.Connection:
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(_SCHEMA)
            _store_relier_ids(conn)
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            if busy_timeout_ms == 0:  # the loop's: checkpoints are the writer thread's
                conn.execute("PRAGMA wal_autocheckpoint = 0")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"sqlite store {self.path} is unavailable: {exc}") from exc
        return conn

    @property
    def is_open(self) -> bool:
        """Whether the loop's connection is open (``write`` opens it first)."""
        return self._conn is not None

    @property
    def conn(self) -> sqlite3.Connection:
        """The event loop's connection, which never waits for a lock."""
        if self._conn is None:
            self._conn = self._connect(0)
        return self._conn

    async def _loop_conn(self) -> sqlite3.Connection:
        if self._conn is None:
            # Opening may wait for the lock (the schema): done once, in a worker thread, by
            # one caller at a time (two first connections setting WAL mode and the schema
            # at once may find each other's lock and fail at once, without waiting).
            async with self._opening:
                if self._conn is None:
                    self._conn = await anyio.to_thread.run_sync(
                        self._connect, 0, limiter=self._waiting
                    )
        return self._conn

    def _thread_conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect(self._busy_timeout_ms)
            with self._thread_conns_lock:
                self._thread_conns.append(conn)
        return conn

    def _run_waiting(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        return work(self._thread_conn())

    async def run(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """``work(connection)``: on the loop if the database is free, else in a thread that
        waits for the lock. ``work`` must be safe to run again after SQLITE_BUSY (each
        statement of it commits on its own, and a busy statement changed nothing)."""
        await self._loop_conn()
        done = self.run_now(work)
        if done is not NOT_NOW:
            self._used_loop_conn()
            return done
        try:
            return await anyio.to_thread.run_sync(self._run_waiting, work, limiter=self._waiting)
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite store failed: {exc}") from exc

    def run_now(self, work: Callable[[sqlite3.Connection], _T]) -> _T | Literal[_NotNow.NOT_NOW]:
        """``work(connection)`` on the loop's connection, at once, if it is open and the
        database is free; ``NOT_NOW`` when it is not (nothing was done: ``run`` it instead)."""
        if self._conn is None:
            return NOT_NOW
        try:
            return work(self._conn)
        except sqlite3.Error as exc:
            if not _is_busy(exc):
                raise StoreError(f"sqlite store failed: {exc}") from exc
        return NOT_NOW

    async def write(self, work: Callable[[sqlite3.Connection], object]) -> None:
        """``work(connection)``, committed together with the other writes of this loop
        iteration in one transaction; raises ``StoreError`` if that transaction failed (then
        none of its writes was made).

        The transaction runs on the loop's connection when the file is free (no wait: its
        ``busy_timeout`` is 0, and it never checkpoints, which would wait on the disk). When
        another process holds the lock, or batches handed over earlier are still pending,
        the batch goes to the writer thread, which waits for the lock; the loop never waits.
        """
        if self._conn is None:
            await self._loop_conn()
        await self.submit(work)

    def submit(self, work: Callable[[sqlite3.Connection], object]) -> asyncio.Future[None]:
        """``write`` without waiting: the future settles once the transaction has ended."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        if not self._gathering:  # one transaction per loop iteration
            loop.call_soon(self._flush)
        self._gathering.append((work, future))
        return future

    def submit_row(self, statement: str, row: tuple[object, ...]) -> asyncio.Future[None]:
        """``submit`` of one row of ``statement`` (an ``INSERT``): the rows of one statement
        in this loop iteration run as one ``executemany`` in its transaction. Each row is
        still a write of its own: it has its own future and counts toward a checkpoint."""
        rows = self._rows.get(statement)
        if rows is not None:  # written by the work of this statement's first row
            rows.append(row)
            return self.submit(_written_with_the_first)
        rows = self._rows[statement] = [row]
        return self.submit(lambda conn: conn.executemany(statement, rows))

    def _flush(self) -> None:
        batch, self._gathering = self._gathering, []
        self._rows = {}  # on the loop, with the batch: later rows are the next batch's
        if not batch:
            return
        if self._checkpointed:  # this batch restarts the WAL, behind a last checkpoint
            self._checkpointed = False
            self._hand_over(batch, _CHECKPOINT_THEN_WRITE)
            return
        if self._handed_over == 0:
            error = self._commit(batch)
            if error is not _BUSY_ON_LOOP:
                _settle([future for _, future in batch], error)
                self._used_loop_conn(len(batch))
                return
        self._hand_over(batch, _WRITE)

    def _used_loop_conn(self, writes: int = 1) -> None:
        """Counts the loop connection's writes (a batch's, or one statement ``run`` there);
        every so many, the writer thread checkpoints the WAL, which the loop's connection
        never does itself.

        The WAL starts over from its beginning only when a write follows a complete
        checkpoint with nothing between. The thread copies the WAL into the file while the
        loop goes on writing; then the loop's next batch goes to the thread, which copies
        the few pages written meanwhile and commits the batch: only that batch waits, and
        only for the short copy."""
        before, self._loop_uses = self._loop_uses, self._loop_uses + writes
        due = self._loop_uses // _CHECKPOINT_EVERY > before // _CHECKPOINT_EVERY
        if due and not self._checkpointing:
            self._checkpointing = True
            self._hand_over([], _CHECKPOINT)

    def _copied(self) -> None:
        self._checkpointing = False
        self._checkpointed = True

    def _hand_over(self, batch: list[_Write], kind: int) -> None:
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._write_loop, name="sqlite-writer", daemon=True
            )
            self._writer.start()
        if batch:
            self._handed_over += 1
        self._writes.put((batch, kind, asyncio.get_running_loop()))

    def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            item = self._writes.get()
            if item is None:
                return
            items = [item]
            while len(items) < _MAX_BATCH:  # what queued meanwhile: one transaction
                try:
                    more = self._writes.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                items.append(more)
            if any(kind != _WRITE for _, kind, _ in items):
                self._checkpoint()
                for _, kind, loop in items:
                    if kind == _CHECKPOINT:
                        try:
                            loop.call_soon_threadsafe(self._copied)
                        except RuntimeError:  # that loop has closed
                            pass
            batches = [batch for batch, _, _ in items if batch]
            if not batches:
                continue
            error = self._commit([write for batch in batches for write in batch])
            by_loop: dict[asyncio.AbstractEventLoop, list[list[_Write]]] = {}
            for batch in batches:  # a batch is one loop iteration's writes: one loop
                by_loop.setdefault(batch[0][1].get_loop(), []).append(batch)
            for loop, done in by_loop.items():
                try:
                    loop.call_soon_threadsafe(self._settle_handed_over, done, error)
                except RuntimeError:  # that loop has closed: nobody awaits these
                    pass

    def _settle_handed_over(self, batches: list[list[_Write]], error: str | None) -> None:
        self._handed_over -= len(batches)
        _settle([future for batch in batches for _, future in batch], error)

    def _checkpoint(self) -> None:
        """Copy the WAL into the file (what the loop's connection never does itself)."""
        try:
            self._thread_conn().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except (sqlite3.Error, StoreError):
            pass  # the next one, or another process's, does it

    def _commit(self, batch: list[_Write]) -> str | None:
        """One transaction for the batch: None when committed, else why it failed.

        In the writer thread it waits for the lock (``busy_timeout``); anywhere else it is
        the loop's connection, which does not wait: ``_BUSY_ON_LOOP`` then says the file was
        locked and nothing was done.
        """
        in_writer = threading.current_thread() is self._writer
        try:
            conn = self._thread_conn() if in_writer else self._conn
            if conn is None:
                return _BUSY_ON_LOOP  # not open yet: the writer thread opens its own
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                if not in_writer and _is_busy(exc):
                    return _BUSY_ON_LOOP
                raise
            try:
                for work, _ in batch:
                    work(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except (sqlite3.Error, StoreError) as exc:
            return f"sqlite store failed: {exc}"
        return None

    async def ping(self) -> None:
        await self.run(lambda conn: conn.execute("SELECT 1").fetchone())

    async def aclose(self) -> None:
        writer, self._writer = self._writer, None
        self._flush()  # writes in flight are committed first
        if writer is not None:
            self._writes.put(None)
            await anyio.to_thread.run_sync(writer.join)
        with self._thread_conns_lock:
            conns, self._thread_conns = self._thread_conns, []
        if self._conn is not None:
            conns.append(self._conn)
            self._conn = None
        self._local = threading.local()
        for conn in conns:
            conn.close()


_Row = tuple[int, int, int, str | None]  # type, subtype, created_at, feedback_id
_Asked = tuple[list[str], int, "asyncio.Future[dict[str, list[_Row]]]"]  # keys, cutoff


def _answer_reads(asked: list[_Asked], found: dict[str, list[_Row]] | StoreError) -> None:
    for _, _, future in asked:
        if future.done():  # its caller was cancelled
            continue
        if isinstance(found, StoreError):
            future.set_exception(found)
        else:
            future.set_result(found)


class SqliteDeliveryProblemStore:
    """Delivery problems in the shared file. The reads of one loop iteration (each send
    reads its recipients') are one ``SELECT`` on the loop's connection."""

    def __init__(
        self, db: SqliteDatabase, hasher: KeyHasher, clock: Clock, retention_seconds: int
    ) -> None:
        self._db = db
        self._hasher = hasher
        self._clock = clock
        self._retention_ms = retention_seconds * 1000
        self._asked: list[_Asked] = []
        self._reading: set[asyncio.Task[None]] = set()

    async def ping(self) -> None:
        await self._db.ping()

    async def fetch(self, address: str) -> Sequence[DeliveryProblem]:
        cutoff = self._clock.now_ms() - self._retention_ms
        key = self._hasher.address(address)
        rows = await self._db.run(
            lambda conn: conn.execute(
                "SELECT type, subtype, created_at, feedback_id FROM delivery_problems"
                " WHERE address_key = ? AND created_at > ? ORDER BY created_at DESC",
                (key, cutoff),
            ).fetchall()
        )
        return [
            DeliveryProblem(
                address, ProblemType(t), ProblemSubtype.from_db(s), created, feedback_id
            )
            for t, s, created, feedback_id in rows
        ]

    async def fetch_many(self, addresses: Sequence[str]) -> list[Sequence[DeliveryProblem]]:
        cutoff = self._clock.now_ms() - self._retention_ms
        keys = [self._hasher.address(address) for address in addresses]
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, list[_Row]]] = loop.create_future()
        if not self._asked:  # the first of this loop iteration: one read for them all
            loop.call_soon(self._read_asked)
        self._asked.append((keys, cutoff, future))
        by_key = await future
        return [
            [
                DeliveryProblem(
                    address, ProblemType(t), ProblemSubtype.from_db(s), created, feedback_id
                )
                for t, s, created, feedback_id in by_key.get(key, ())
                if created > cutoff
            ]
            for address, key in zip(addresses, keys, strict=True)
        ]

    def _read_asked(self) -> None:
        """One ``SELECT`` for every address asked for in this loop iteration."""
        asked, self._asked = self._asked, []
        keys = list(dict.fromkeys(key for keys, _, _ in asked for key in keys))
        cutoff = min(cutoff for _, cutoff, _ in asked)

        def read(conn: sqlite3.Connection) -> dict[str, list[_Row]]:
            by_key: dict[str, list[_Row]] = {}
            for key, *row in select_keys_in(
                conn,
                "SELECT address_key, type, subtype, created_at, feedback_id"
                " FROM delivery_problems WHERE address_key",
                keys,
                " AND created_at > ? ORDER BY created_at DESC",
                cutoff,
            ):
                by_key.setdefault(key, []).append(row)
            return by_key

        try:
            found = self._db.run_now(read)
        except StoreError as exc:
            _answer_reads(asked, exc)
            return
        if found is NOT_NOW:  # not open yet, or the file is locked: off the loop
            task = asyncio.ensure_future(self._read_later(asked, read))
            self._reading.add(task)  # held until done (the loop keeps only a weak one)
            task.add_done_callback(self._reading.discard)
            return
        _answer_reads(asked, found)

    async def _read_later(
        self, asked: list[_Asked], read: Callable[[sqlite3.Connection], dict[str, list[_Row]]]
    ) -> None:
        try:
            found = await self._db.run(read)
        except StoreError as exc:
            _answer_reads(asked, exc)
            return
        _answer_reads(asked, found)

    async def record(self, problem: DeliveryProblem) -> bool:
        cutoff = self._clock.now_ms() - self._retention_ms
        row = (
            self._hasher.address(problem.address),
            int(problem.type),
            int(problem.subtype),
            problem.created_at,
            problem.feedback_id,
        )

        def record(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM delivery_problems WHERE created_at <= ?", (cutoff,))
            cursor = conn.execute(
                "INSERT OR IGNORE INTO delivery_problems"
                " (address_key, type, subtype, created_at, feedback_id) VALUES (?, ?, ?, ?, ?)",
                row,
            )
            return cursor.rowcount == 1

        return await self._db.run(record)

    async def clear(self, address: str) -> int:
        key = self._hasher.address(address)

        def clear(conn: sqlite3.Connection) -> int:
            cursor = conn.execute("DELETE FROM delivery_problems WHERE address_key = ?", (key,))
            return cursor.rowcount

        return await self._db.run(clear)


_PUT = "INSERT OR REPLACE INTO message_data (key, metadata, relier, expires_at) VALUES (?, ?, ?, ?)"


class SqliteMessageDataStore:
    _PURGE_EVERY = 256

    def __init__(
        self, db: SqliteDatabase, hasher: KeyHasher, clock: Clock, ttl_seconds: int
    ) -> None:
        self._db = db
        self._hasher = hasher
        self._clock = clock
        self._ttl_ms = ttl_seconds * 1000
        self._puts = 0

    async def ping(self) -> None:
        await self._db.ping()

    async def put(self, message_id: str, metadata: str | None, relier: str | None = None) -> None:
        now = self._clock.now_ms()
        row = (self._hasher.message(message_id), metadata, relier, now + self._ttl_ms)
        self._puts += 1
        purge = self._puts % self._PURGE_EVERY == 0
        if self._db.is_open and not purge:  # the rows of a loop iteration: one executemany
            await self._db.submit_row(_PUT, row)
            return

        def put(conn: sqlite3.Connection) -> None:
            conn.execute(_PUT, row)
            if purge:
                conn.execute("DELETE FROM message_data WHERE expires_at <= ?", (now,))

        await self._db.write(put)  # opens the loop's connection first

    async def get(self, message_id: str) -> MessageData | None:
        key = self._hasher.message(message_id)
        row = await self._db.run(
            lambda conn: conn.execute(
                "SELECT metadata, relier, expires_at FROM message_data WHERE key = ?", (key,)
            ).fetchone()
        )
        if row is None or row[2] <= self._clock.now_ms():
            return None
        return MessageData(row[0], row[1])
