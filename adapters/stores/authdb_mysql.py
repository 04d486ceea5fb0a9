"""The accounts database's ``emailBounces`` table, reached directly through its procedures.

Only ``createEmailBounce_1`` and ``fetchEmailBounces_1`` are called, exactly as the accounts
database's own server calls them, so both can share the table. The asyncmy pool is created
on first use (inside the running loop) with no idle connections, so building the adapter
never touches the network; every connect and read has a finite timeout, and connections
broken by an outage are dropped by the pool, so the adapter recovers by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from adapters.clock import SystemClock
from adapters.stores.recent_feedback import RecentFeedback
from domain.errors import AccountsDbError, RecordsNotClearable
from domain.model import DeliveryProblem, ProblemSubtype, ProblemType
from ports.clock import Clock

_DUPLICATE_KEY = 1062
_FREE_MILLISECOND_TRIES = 20
_PROCEDURES = ("createEmailBounce_1", "fetchEmailBounces_1")


@dataclass(frozen=True, slots=True, repr=False)
class MysqlUrl:
    """``mysql://user:password@host:port/database``; ``repr`` and ``str`` hide the password."""

    host: str
    port: int
    user: str
    password: str
    database: str

    @classmethod
    def parse(cls, url: str) -> MysqlUrl:
        parts = urlsplit(url)
        if parts.scheme not in ("mysql", "mariadb") or not parts.hostname:
            raise ValueError("mysql.url: expected mysql://user:password@host:port/database")
        return cls(
            host=parts.hostname,
            port=parts.port or 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            database=unquote(parts.path.lstrip("/")) or "fxa",
        )

    def __repr__(self) -> str:
        return f"mysql://{self.user}:[hidden]@{self.host}:{self.port}/{self.database}"

    __str__ = __repr__


def _mysql_error() -> type[Exception]:
    """asyncmy's base error. asyncmy is imported when the pool is made, not with this module:
    it loads cryptography, ~10 MB to every process that never uses this store."""
    from asyncmy.errors import Error

    return Error


def _db_error(action: str, exc: BaseException) -> AccountsDbError:
    # Server and driver messages name the user and host, never the password; the URL is not
    # part of any message.
    detail = exc.args[-1] if isinstance(exc, _mysql_error()) and exc.args else type(exc).__name__
    return AccountsDbError(f"accounts database failed to {action}: {detail}")


class MysqlDeliveryProblemStore:
    """Delivery problems in the accounts database's ``emailBounces`` table.

    The same record as the accounts database's own server makes (docs/stores.md):
    ``createdAt`` is the time of recording, and a notification is recorded once per
    feedback id and address (remembered by this process for a day). Two different problems
    for one address in the same millisecond are both kept: the primary key is
    (email, createdAt), so the second takes the next free millisecond. Addresses are stored
    and looked up lower-cased. The procedure returns the newest 20 records, as the accounts
    database always has.
    """

    def __init__(
        self, url: str, poolsize: int = 10, timeout: float = 5.0, clock: Clock | None = None
    ) -> None:
        self._clock = clock or SystemClock()
        self._recent = RecentFeedback(self._clock)
        self._url = MysqlUrl.parse(url)
        self._poolsize = poolsize
        self._timeout = timeout
        self._pool: Any = None
        self._pool_lock = asyncio.Lock()

    async def _get_pool(self) -> Any:
        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None:
                    import asyncmy

                    self._pool = await asyncmy.create_pool(
                        minsize=0,
                        maxsize=self._poolsize,
                        pool_recycle=600,
                        host=self._url.host,
                        port=self._url.port,
                        user=self._url.user,
                        password=self._url.password,
                        db=self._url.database,
                        connect_timeout=self._timeout,
                        read_timeout=self._timeout,
                        autocommit=True,
                    )
        return self._pool

    async def _call(self, action: str, sql: str, args: tuple[Any, ...]) -> list[Any]:
        try:
            pool = await self._get_pool()
            async with asyncio.timeout(self._timeout):
                conn = await pool.acquire()
            try:
                async with conn.cursor() as cursor:
                    await cursor.execute(sql, args)
                    rows = list(await cursor.fetchall() or [])
            except BaseException as exc:
                if not _server_error(exc):
                    conn.close()  # never hand a connection in an unknown state back to the pool
                raise
            finally:
                pool.release(conn)
        except (_mysql_error(), OSError, TimeoutError) as exc:
            if isinstance(exc, _mysql_error()) and exc.args and exc.args[0] == _DUPLICATE_KEY:
                raise _Duplicate from exc
            raise _db_error(action, exc) from exc
        return rows

    async def fetch(self, address: str) -> Sequence[DeliveryProblem]:
        rows = await self._call(
            "fetch delivery problems", "CALL fetchEmailBounces_1(%s)", (address.lower(),)
        )
        return [
            DeliveryProblem(
                address, ProblemType.from_db(kind), ProblemSubtype.from_db(subtype), int(created)
            )
            for _email, kind, subtype, created in rows
        ]

    async def fetch_many(self, addresses: Sequence[str]) -> list[Sequence[DeliveryProblem]]:
        # The accounts database answers one address at a time.
        return [await self.fetch(address) for address in addresses]

    async def record(self, problem: DeliveryProblem) -> bool:
        if not self._recent.claim(problem):
            return False
        created_at = self._clock.now_ms()
        try:
            for offset in range(_FREE_MILLISECOND_TRIES):
                try:
                    await self._call(
                        "record a delivery problem",
                        "CALL createEmailBounce_1(%s, %s, %s, %s)",
                        (
                            problem.address.lower(),
                            int(problem.type),
                            int(problem.subtype),
                            created_at + offset,
                        ),
                    )
                except _Duplicate:
                    continue  # another problem of this address in that millisecond
                return True
            raise AccountsDbError(
                "accounts database failed to record a delivery problem: no free millisecond"
            )
        except BaseException:
            self._recent.release(problem)
            raise

    async def clear(self, address: str) -> int:
        """The accounts database has no procedure or endpoint that deletes records."""
        raise RecordsNotClearable(
            "the accounts database (mysql) offers no deletion of delivery problems",
            backend="mysql",
        )

    async def ping(self) -> None:
        """Up only when the procedures the service calls exist: ``SELECT 1`` would pass on a
        database that cannot serve one send."""
        rows = await self._call(
            "answer a ping",
            "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()"
            " AND ROUTINE_TYPE = 'PROCEDURE' AND ROUTINE_NAME IN (%s, %s)",
            _PROCEDURES,
        )
        if not rows or int(rows[0][0]) != len(_PROCEDURES):
            raise AccountsDbError("accounts database lacks its emailBounces procedures")

    async def aclose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.close()
            await pool.wait_closed()


def _server_error(exc: BaseException) -> bool:
    """An error the server answered with (errno below 2000): the connection is still sound."""
    return (
        isinstance(exc, _mysql_error())
        and bool(exc.args)
        and isinstance(exc.args[0], int)
        and (exc.args[0] < 2000)
    )


class _Duplicate(Exception):
    """The primary key already holds this (email, createdAt): the problem is recorded."""
