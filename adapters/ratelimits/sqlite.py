"""Token buckets in the shared SQLite file, taken in the database's writer transaction.

Every take of one loop iteration is applied by one piece of work in the database's group
commit (``SqliteDatabase.submit``): one ``SELECT`` of all their buckets, the takes in the
order they were asked for (several requests take from their relier's bucket), one write of
the buckets that changed. The transaction is ``BEGIN IMMEDIATE``: it holds the file's write
lock before the buckets are read, so two `serve` processes on one file never both read the
same state and both take its last token. A take's answer is given once that transaction has
committed; if it fails, every take in it fails and none was made (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

from adapters.ratelimits.keys import bucket_key
from adapters.stores.keys import KeyHasher
from adapters.stores.sqlite import SqliteDatabase, select_keys_in
from domain.buckets import Take, TokenBucket, take_tokens
from domain.errors import StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rate_limits (
    key TEXT PRIMARY KEY,
    full_at INTEGER NOT NULL
) WITHOUT ROWID
"""


@dataclass(slots=True)
class _Asked:
    keys: list[str]
    buckets: list[TokenBucket]
    required: int
    now_us: int
    future: asyncio.Future[list[int]]


@dataclass(slots=True)
class _Applied:
    """What one piece of work applied: the takes and their waits, once it has run."""

    asked: list[_Asked] | None = None
    waits: list[list[int]] = field(default_factory=list)


class SqliteRateLimiter:
    _PURGE_EVERY = 1024

    def __init__(self, db: SqliteDatabase, hasher: KeyHasher) -> None:
        self._db = db
        self._hasher = hasher
        self._ready = False
        self._takes = 0
        self._pending: list[_Asked] = []

    async def ping(self) -> None:
        await self._db.ping()

    async def aclose(self) -> None:
        await self._db.aclose()

    async def take(self, takes: Sequence[Take], required: int, now_us: int) -> Sequence[int]:
        keys = [bucket_key(self._hasher, t.key) for t in takes]
        future: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._pending.append(_Asked(keys, [t.bucket for t in takes], required, now_us, future))
        if len(self._pending) == 1:  # the first since the last work took them: a new one
            applied = _Applied()
            done = self._db.submit(lambda conn: self._apply(conn, applied))
            done.add_done_callback(lambda done: self._answer(applied, done))
        return await future  # raises StoreError when the transaction failed

    def _apply(self, conn: sqlite3.Connection, applied: _Applied) -> None:
        """Inside the writer's transaction: every take asked for until now, in order."""
        asked, self._pending = self._pending, []
        applied.asked = asked
        if not asked:
            return
        if not self._ready:
            conn.execute(_SCHEMA)
        keys = list(dict.fromkeys(key for a in asked for key in a.keys))
        state: dict[str, int] = dict(
            select_keys_in(conn, "SELECT key, full_at FROM rate_limits WHERE key", keys)
        )
        changed: dict[str, int] = {}
        for a in asked:
            states = [int(state.get(k, 0)) for k in a.keys]
            new, waits = take_tokens(a.buckets, states, a.required, a.now_us)
            for key, old, now in zip(a.keys, states, new, strict=True):
                if now != old:
                    state[key] = changed[key] = now
            applied.waits.append(waits)
        if changed:
            conn.executemany(
                "INSERT INTO rate_limits (key, full_at) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET full_at = excluded.full_at",
                changed.items(),
            )
        purges = (self._takes + len(asked)) // self._PURGE_EVERY - self._takes // self._PURGE_EVERY
        self._takes += len(asked)
        if purges:  # a full bucket needs no state
            conn.execute("DELETE FROM rate_limits WHERE full_at <= ?", (asked[-1].now_us,))

    def _answer(self, applied: _Applied, done: asyncio.Future[None]) -> None:
        error = done.exception()
        asked = applied.asked
        if asked is None:  # the transaction failed before the work ran: these were its
            asked, self._pending = self._pending, []
        if error is None:
            self._ready = True
        for index, a in enumerate(asked):
            if a.future.done():  # its caller was cancelled; the take stands all the same
                continue
            if error is None:
                a.future.set_result(applied.waits[index])
            elif isinstance(error, StoreError):
                a.future.set_exception(error)
            else:
                a.future.set_exception(StoreError(f"sqlite store failed: {error}"))
