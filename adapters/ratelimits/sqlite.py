"""Token buckets in the shared SQLite file: one IMMEDIATE transaction per take.

``BEGIN IMMEDIATE`` takes the file's write lock before reading the buckets, so two `serve`
processes on one file never both read the same state and both take its last token. The
transaction is a few indexed reads and writes, run as ``SqliteDatabase.run`` runs every
statement: on the event loop when the file is free, in a thread that waits for the lock
when another process holds it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from adapters.ratelimits.keys import bucket_key
from adapters.stores.keys import KeyHasher
from adapters.stores.sqlite import SqliteDatabase
from domain.buckets import Take, take_tokens

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rate_limits (
    key TEXT PRIMARY KEY,
    full_at INTEGER NOT NULL
) WITHOUT ROWID
"""


class SqliteRateLimiter:
    _PURGE_EVERY = 1024

    def __init__(self, db: SqliteDatabase, hasher: KeyHasher) -> None:
        self._db = db
        self._hasher = hasher
        self._ready = False
        self._takes = 0

    async def ping(self) -> None:
        await self._db.ping()

    async def aclose(self) -> None:
        await self._db.aclose()

    async def take(self, takes: Sequence[Take], required: int, now_us: int) -> Sequence[int]:
        keys = [bucket_key(self._hasher, t.key) for t in takes]

        def take(conn: sqlite3.Connection) -> list[int]:
            # BEGIN IMMEDIATE either takes the write lock or fails busy having changed
            # nothing, so SqliteDatabase.run may run this again where it can wait.
            conn.execute("BEGIN IMMEDIATE")
            try:
                if not self._ready:
                    conn.execute(_SCHEMA)
                waits = self._take(conn, keys, takes, required, now_us)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._ready = True
            return waits

        return await self._db.run(take)

    def _take(
        self,
        conn: sqlite3.Connection,
        keys: list[str],
        takes: Sequence[Take],
        required: int,
        now_us: int,
    ) -> list[int]:
        marks = ",".join("?" * len(keys))
        found = dict(
            conn.execute(f"SELECT key, full_at FROM rate_limits WHERE key IN ({marks})", keys)
        )
        states = [int(found.get(k, 0)) for k in keys]
        new, waits = take_tokens([t.bucket for t in takes], states, required, now_us)
        changed = [(k, s) for k, old, s in zip(keys, states, new, strict=True) if s != old]
        if changed:
            conn.executemany(
                "INSERT INTO rate_limits (key, full_at) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET full_at = excluded.full_at",
                changed,
            )
        self._takes += 1
        if self._takes % self._PURGE_EVERY == 0:  # a full bucket needs no state
            conn.execute("DELETE FROM rate_limits WHERE full_at <= ?", (now_us,))
        return waits
