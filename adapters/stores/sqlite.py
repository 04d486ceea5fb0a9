"""SQLite stores: the embedded default, one WAL-mode file shared by `serve` and `queues`.

Calls run on the event loop, not in a thread: each statement is an indexed lookup or a
single-row write that takes microseconds, far less than the ~200 us a thread hop costs here.
WAL lets the other process read while one writes; ``busy_timeout`` bounds a writer's wait.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from adapters.stores.keys import KeyHasher
from domain.errors import StoreError
from domain.model import DeliveryProblem, ProblemSubtype, ProblemType
from ports.clock import Clock

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
CREATE TABLE IF NOT EXISTS message_data (
    key TEXT PRIMARY KEY,
    metadata TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS message_data_by_expiry ON message_data (expires_at);
"""


class SqliteDatabase:
    """One connection per process to the shared file, created on first use."""

    def __init__(self, path: str, busy_timeout_ms: int = 2000) -> None:
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._conn: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                if self.path != ":memory:":
                    Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.executescript(_SCHEMA)
            except (sqlite3.Error, OSError) as exc:
                raise StoreError(f"sqlite store {self.path} is unavailable: {exc}") from exc
            self._conn = conn
        return self._conn

    async def ping(self) -> None:
        try:
            self.conn.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite store failed: {exc}") from exc

    async def aclose(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class SqliteDeliveryProblemStore:
    def __init__(
        self, db: SqliteDatabase, hasher: KeyHasher, clock: Clock, retention_seconds: int
    ) -> None:
        self._db = db
        self._hasher = hasher
        self._clock = clock
        self._retention_ms = retention_seconds * 1000

    async def ping(self) -> None:
        await self._db.ping()

    async def aclose(self) -> None:
        await self._db.aclose()

    async def fetch(self, address: str) -> Sequence[DeliveryProblem]:
        cutoff = self._clock.now_ms() - self._retention_ms
        try:
            rows = self._db.conn.execute(
                "SELECT type, subtype, created_at, feedback_id FROM delivery_problems"
                " WHERE address_key = ? AND created_at > ? ORDER BY created_at DESC",
                (self._hasher.address(address), cutoff),
            ).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite store failed: {exc}") from exc
        return [
            DeliveryProblem(
                address, ProblemType(t), ProblemSubtype.from_db(s), created, feedback_id
            )
            for t, s, created, feedback_id in rows
        ]

    async def record(self, problem: DeliveryProblem) -> bool:
        cutoff = self._clock.now_ms() - self._retention_ms
        try:
            conn = self._db.conn
            conn.execute("DELETE FROM delivery_problems WHERE created_at <= ?", (cutoff,))
            cursor = conn.execute(
                "INSERT OR IGNORE INTO delivery_problems"
                " (address_key, type, subtype, created_at, feedback_id) VALUES (?, ?, ?, ?, ?)",
                (
                    self._hasher.address(problem.address),
                    int(problem.type),
                    int(problem.subtype),
                    problem.created_at,
                    problem.feedback_id,
                ),
            )
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite store failed: {exc}") from exc
        return cursor.rowcount == 1


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

    async def aclose(self) -> None:
        await self._db.aclose()

    async def put(self, message_id: str, metadata: str) -> None:
        now = self._clock.now_ms()
        try:
            conn = self._db.conn
            conn.execute(
                "INSERT OR REPLACE INTO message_data (key, metadata, expires_at) VALUES (?, ?, ?)",
                (self._hasher.message(message_id), metadata, now + self._ttl_ms),
            )
            self._puts += 1
            if self._puts % self._PURGE_EVERY == 0:
                conn.execute("DELETE FROM message_data WHERE expires_at <= ?", (now,))
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite store failed: {exc}") from exc

    async def get(self, message_id: str) -> str | None:
        try:
            row = self._db.conn.execute(
                "SELECT metadata, expires_at FROM message_data WHERE key = ?",
                (self._hasher.message(message_id),),
            ).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite store failed: {exc}") from exc
        if row is None or row[1] <= self._clock.now_ms():
            return None
        return str(row[0])
