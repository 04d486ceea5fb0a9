"""The accounts database for tests: its emailBounces table and procedures in MariaDB's `test`
database, and an HTTP double of its /emailBounces API on top of the same procedures.

The table and procedures mirror fxa-auth-db's. MariaDB must be running on 127.0.0.1:3306
(root, empty password); when it is not, the helpers fail loudly, never skip.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncmy
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.servers import free_port
from tests.waiting import wait_for

# FXA_TEST_MYSQL_DB lets concurrent test runs on one machine use databases of their own.
MYSQL_DB = os.environ.get("FXA_TEST_MYSQL_DB", "test")
MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "db": MYSQL_DB}
MYSQL_URL = f"mysql://root@127.0.0.1:3306/{MYSQL_DB}"

# The real table's collation: case- and accent-insensitive, in its primary key too.
SCHEMA = [
    "DROP TABLE IF EXISTS emailBounces",
    """CREATE TABLE IF NOT EXISTS emailBounces (
        email VARCHAR(255) NOT NULL,
        bounceType TINYINT UNSIGNED NOT NULL,
        bounceSubType TINYINT UNSIGNED NOT NULL,
        createdAt BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (email, createdAt)
    ) ENGINE=InnoDB CHARACTER SET utf8mb3 COLLATE utf8mb3_unicode_ci""",
    """CREATE OR REPLACE PROCEDURE createEmailBounce_1 (
        IN inEmail VARCHAR(255),
        IN inBounceType TINYINT UNSIGNED,
        IN inBounceSubType TINYINT UNSIGNED,
        IN inCreatedAt BIGINT UNSIGNED
    )
    BEGIN
        INSERT INTO emailBounces (email, bounceType, bounceSubType, createdAt)
        VALUES (inEmail, inBounceType, inBounceSubType, inCreatedAt);
    END""",
    """CREATE OR REPLACE PROCEDURE fetchEmailBounces_1 (IN inEmail VARCHAR(255))
    BEGIN
        SELECT email, bounceType, bounceSubType, createdAt
        FROM emailBounces WHERE email = inEmail
        ORDER BY createdAt DESC LIMIT 20;
    END""",
]

_schema_ready = False


async def _connect() -> Any:
    try:
        if MYSQL_DB != "test":
            server = {key: value for key, value in MYSQL.items() if key != "db"}
            conn = await asyncmy.connect(**server, connect_timeout=5, autocommit=True)
            async with conn.cursor() as cursor:
                await cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{MYSQL_DB}`")
            await conn.ensure_closed()
        return await asyncmy.connect(**MYSQL, connect_timeout=5, autocommit=True)
    except (asyncmy.errors.Error, OSError) as exc:
        raise RuntimeError(
            "MariaDB is not answering on 127.0.0.1:3306 (root, empty password, database "
            "`test`); start it as /work/shared/STACK-NOTES.md says. " + repr(exc)
        ) from exc


async def reset_accounts_db() -> None:
    """Create the table (afresh) and procedures once per process, then empty the table."""
    global _schema_ready
    conn = await _connect()
    try:
        async with conn.cursor() as cursor:
            if not _schema_ready:
                for statement in SCHEMA:
                    await cursor.execute(statement)
                _schema_ready = True
            await cursor.execute("TRUNCATE TABLE emailBounces")
    finally:
        await conn.ensure_closed()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class AccountsDbHttpDouble:
    """fxa-auth-db's emailBounces routes over the same MariaDB table and procedures.

    As the real server does, it sets ``createdAt`` itself from the wall clock (``pinned_ms``
    fixes it, for a test of two records in one millisecond), answers a duplicate key with
    409 "Record already exists", and when its database is gone it does not answer at all:
    a request hangs until its client gives up. ``mysql_port`` lets a test put a proxy
    between the double and MariaDB.
    """

    def __init__(self, mysql_port: int = 3306) -> None:
        self._mysql: dict[str, Any] = {**MYSQL, "port": mysql_port}
        self._pool: Any = None
        self.pinned_ms: int | None = None
        self.port = free_port()
        self.baseuri = f"http://127.0.0.1:{self.port}/"
        app = Starlette(
            lifespan=self._lifespan,
            routes=[
                Route("/emailBounces/{hex}", self._fetch, methods=["GET"]),
                Route("/emailBounces", self._create, methods=["POST"]),
                Route("/__heartbeat__", self._heartbeat, methods=["GET"]),
            ],
        )
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="critical",
            loop="asyncio",
            timeout_graceful_shutdown=1,  # requests left hanging do not hold the stop
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> AccountsDbHttpDouble:
        self._thread.start()

        def started() -> bool:
            if not self._thread.is_alive():
                raise RuntimeError("the accounts DB HTTP double did not start")
            return self._server.started

        wait_for(started, 10, "the accounts DB HTTP double to start")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        yield
        if self._pool is not None:
            self._pool.close()
            await self._pool.wait_closed()

    def _created_at(self) -> int:
        return _now_ms() if self.pinned_ms is None else self.pinned_ms

    async def _call(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        if self._pool is None:
            self._pool = await asyncmy.create_pool(
                minsize=0, maxsize=4, connect_timeout=2, read_timeout=2, autocommit=True,
                **self._mysql,
            )  # fmt: skip
        async with self._pool.acquire() as conn, conn.cursor() as cursor:
            await cursor.execute(sql, args)
            return list(await cursor.fetchall() or [])

    async def _fetch(self, request: Request) -> JSONResponse:
        email = bytes.fromhex(request.path_params["hex"]).decode("utf-8")
        try:
            rows = await self._call("CALL fetchEmailBounces_1(%s)", (email,))
        except (TimeoutError, asyncmy.errors.Error, OSError):
            return await _hang(request)
        return JSONResponse(
            [
                {"email": e, "bounceType": t, "bounceSubType": s, "createdAt": c}
                for e, t, s, c in rows
            ]
        )

    async def _create(self, request: Request) -> JSONResponse:
        body = await request.json()
        args = (body["email"], body["bounceType"], body["bounceSubType"], self._created_at())
        try:
            await self._call("CALL createEmailBounce_1(%s, %s, %s, %s)", args)
        except asyncmy.errors.IntegrityError:
            return JSONResponse(
                {"code": 409, "errno": 101, "message": "Record already exists"}, status_code=409
            )
        except (TimeoutError, asyncmy.errors.Error, OSError):
            return await _hang(request)
        return JSONResponse({})

    async def _heartbeat(self, request: Request) -> JSONResponse:
        try:
            await self._call("SELECT 1", ())
        except (TimeoutError, asyncmy.errors.Error, OSError):
            return await _hang(request)
        return JSONResponse({})


async def _hang(request: Request) -> JSONResponse:
    """What fxa-auth-db does when its database is gone: no answer, until the client leaves."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
    return JSONResponse({}, status_code=500)  # goes nowhere: the client has left


_shared_double: AccountsDbHttpDouble | None = None


def shared_http_double() -> AccountsDbHttpDouble:
    """One double straight onto MariaDB per test process, started on first use."""
    global _shared_double
    if _shared_double is None:
        _shared_double = AccountsDbHttpDouble().start()
    return _shared_double
