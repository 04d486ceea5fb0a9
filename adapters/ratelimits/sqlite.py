"""Token buckets in the shared SQLite file, taken in the database's writer transaction.

Each take is handed to ``SqliteDatabase.write``: the writer thread runs every write that
arrived meanwhile (other takes, metadata) in one ``BEGIN IMMEDIATE`` transaction, which holds
the file's write lock before the buckets are read, so two `serve` processes on one file never
both read the same state and both take its last token. Taking on the event loop instead
contended with that writer for the lock on every request (measured with
``bench/send.py --auth``: docs/performance.md).
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
        waits: list[int] = []
        ready = self._ready

        def take(conn: sqlite3.Connection) -> None:
            # Runs inside the writer's transaction, after the takes handed over before it.
            if not ready:
                conn.execute(_SCHEMA)
            waits[:] = self._take(conn, keys, takes, required, now_us)

        await self._db.write(take)  # raises StoreError when the transaction failed
        self._ready = True
        return waits

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
