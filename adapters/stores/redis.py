"""Redis stores: one redis-py asyncio client and connection pool per process.

Keys (docs/operations.md, stored data) hold only HMACs: ``fxa-email:mdata:<hmac(message id)>`` and
``fxa-email:dp:{<hmac(lower-cased address)>}`` (the braces keep an address's keys in one
cluster slot). Records also carry their own expiry, read against the injected clock, so
tests with a fake clock see the same expiry as production sees through Redis TTLs.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from typing import Any

from hiredis import pack_command
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from adapters.stores.keys import KeyHasher
from domain.errors import StoreError
from domain.model import DeliveryProblem, MessageData, ProblemSubtype, ProblemType
from ports.clock import Clock

_PREFIX = "fxa-email:"
_KEPT = 4  # connections kept out of the pool for the batches' round trips


def _store_error(exc: Exception) -> StoreError:
    # redis-py's messages name the host and port and the failure, never the password.
    return StoreError(f"redis store failed: {type(exc).__name__}: {exc}")


class RedisConnection:
    """The process's Redis client, created on first use inside the running event loop.

    Every socket operation has a finite timeout; a pooled connection broken by a Redis
    restart is retried once on a fresh connection, so the stores recover by themselves.
    """

    def __init__(
        self,
        host: str,
        port: int,
        db: int = 0,
        password: str | None = None,
        timeout: float = 2.0,
        poolsize: int = 64,
    ) -> None:
        self._options: dict[str, Any] = {
            "host": host,
            "port": port,
            "db": db,
            "password": password,
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "max_connections": poolsize,
            "timeout": timeout,  # waiting for a free pooled connection
            "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            "retry_on_error": [RedisConnectionError],  # redis-py 5 retries only these
            "decode_responses": True,
        }
        self._client: Redis | None = None
        self._pending: list[tuple[Sequence[tuple[Any, ...]], asyncio.Future[list[Any]]]] = []
        self._flushes: set[asyncio.Task[None]] = set()
        # Pooled connections kept between round trips (at most _KEPT): taking one from the
        # pool costs its lock twice, a timer and a read attempt to check it, ~20k
        # instructions a round trip. A kept one was clean when kept: every answer read.
        self._kept: list[Any] = []

    async def batched(self, *commands: tuple[Any, ...]) -> list[Any]:
        """The commands' answers, sent in one pipeline with every command that other tasks
        issue before the loop next runs its callbacks: under load, one round trip and one
        pooled connection serve many requests (redis-py costs ~50 us of CPU per round trip
        here, far less per command in a pipeline). Raises the first error of the commands."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        self._pending.append((commands, future))
        if len(self._pending) == 1:
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._send(batch))
        self._flushes.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._flushes.discard)

    async def _send(
        self, batch: list[tuple[Sequence[tuple[Any, ...]], asyncio.Future[list[Any]]]]
    ) -> None:
        try:
            sent = [command for commands, _ in batch for command in commands]
            answers = iter(await self._round_trip(sent))
        except BaseException as exc:  # noqa: BLE001 - handed to every caller, who raises it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for commands, future in batch:
            mine = [next(answers) for _ in commands]
            if future.done():  # its caller was cancelled
                continue
            error = next((a for a in mine if isinstance(a, Exception)), None)
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(mine)

    async def _round_trip(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Every command written at once on one pooled connection (one kept from an earlier
        round trip when there is one), then every answer read (an error answer is returned
        in its place). Packed by hiredis, without redis-py's
        pipeline object, which cost more CPU than the rest of a request (~15 us a command
        to pack alone). A connection broken by a Redis restart is retried once on a fresh
        one, as redis-py's own retry does: harmless for ZREVRANGEBYSCORE and SET; a
        rate-limit take sent again may take its token twice (a stricter limit for that
        moment, never a looser one)."""
        packed = b"".join(map(pack_command, commands))
        pool = self.client.connection_pool
        for attempt in (1, 2):
            if attempt == 1 and self._kept:
                conn = self._kept.pop()
            else:  # the retry always takes one from the pool, which checks it
                conn = await pool.get_connection("_")  # type: ignore[no-untyped-call]
            try:
                await conn.send_packed_command(packed, check_health=False)
                answers = await self._read_answers(conn, len(commands))
            except RedisConnectionError:
                await conn.disconnect()
                await pool.release(conn)
                await self._release_kept()  # a restart broke them all
                if attempt == 2:
                    raise
                continue
            except BaseException:
                await pool.release(conn)  # disconnected: never handed back half-read
                raise
            if len(self._kept) < _KEPT:
                self._kept.append(conn)
            else:
                await pool.release(conn)
            return answers
        raise AssertionError("unreachable")

    async def _release_kept(self) -> None:
        kept, self._kept = self._kept, []
        for conn in kept:
            await conn.disconnect()
            await self.client.connection_pool.release(conn)

    async def _read_answers(self, conn: Any, count: int) -> list[Any]:
        """``count`` answers, an error answer in its place, under one read timeout for them
        all. What ``Connection.read_response`` does for one answer, without its timeout
        context per answer (a timer handle each: ~5 us here); redis-py is pinned to 5.2.x,
        whose parser this reads from."""
        answers: list[Any] = []
        try:
            async with asyncio.timeout(self._options["socket_timeout"]):
                for _ in range(count):
                    answers.append(await conn._parser.read_response())
        except TimeoutError:
            await conn.disconnect(nowait=True)
            raise RedisTimeoutError("Timeout reading from Redis") from None
        except OSError as exc:
            await conn.disconnect(nowait=True)
            raise RedisConnectionError(f"Error while reading from Redis: {exc.args}") from None
        except BaseException:
            await conn.disconnect(nowait=True)  # never hand back a half-read connection
            raise
        return answers

    @property
    def client(self) -> Redis:
        if self._client is None:
            pool = BlockingConnectionPool(**self._options)
            self._client = Redis(connection_pool=pool)
        return self._client

    async def ping(self) -> None:
        try:
            await self.client.ping()
        except (RedisError, OSError) as exc:
            raise _store_error(exc) from exc

    async def aclose(self) -> None:
        if self._client is not None:
            await self._release_kept()
            client, self._client = self._client, None
            await client.aclose()
            await client.connection_pool.disconnect()


# KEYS[1]: the address's sorted set; KEYS[2] (when the problem has a feedback id): a marker
# that the feedback was recorded. ARGV: cutoff, createdAt, member, retention ms, max records.
_RECORD = """
if KEYS[2] and not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[4]) then
  return 0
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[5]) + 1))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""


class RedisDeliveryProblemStore:
    """One sorted set per address, scored by createdAt: a check is one ZREVRANGEBYSCORE.

    A member is ``<createdAt>:<type>:<subtype>:f<feedback id>`` or, without a feedback id,
    ``...:r<random>`` so that every such problem counts. Recording is one atomic script:
    it sets a per-(address, feedback id) marker with SET NX, trims records older than the
    retention and keeps at most ``max_records`` newest per address (far more than any limit
    rule needs), then refreshes the key's TTL to the retention.
    """

    def __init__(
        self,
        conn: RedisConnection,
        hasher: KeyHasher,
        clock: Clock,
        retention_seconds: int,
        max_records: int = 100,
    ) -> None:
        self._conn = conn
        self._hasher = hasher
        self._clock = clock
        self._retention_ms = retention_seconds * 1000
        self._max_records = max_records
        self._script: Any = None

    async def ping(self) -> None:
        await self._conn.ping()

    def _key(self, address: str) -> str:
        return f"{_PREFIX}dp:{{{self._hasher.address(address)}}}"

    async def fetch(self, address: str) -> Sequence[DeliveryProblem]:
        cutoff = self._clock.now_ms() - self._retention_ms
        try:
            members = await self._conn.client.zrevrangebyscore(
                self._key(address), "+inf", f"({cutoff}"
            )
        except (RedisError, OSError) as exc:
            raise _store_error(exc) from exc
        try:
            return [_decode(address, member) for member in members]
        except ValueError as exc:  # not written by this service
            raise StoreError("redis store holds an unreadable delivery-problem record") from exc

    async def fetch_many(self, addresses: Sequence[str]) -> list[Sequence[DeliveryProblem]]:
        cutoff = f"({self._clock.now_ms() - self._retention_ms}"
        try:
            answers = await self._conn.batched(
                *(("ZREVRANGEBYSCORE", self._key(a), "+inf", cutoff) for a in addresses)
            )
        except (RedisError, OSError) as exc:
            raise _store_error(exc) from exc
        try:
            return [
                [_decode(address, member) for member in members]
                for address, members in zip(addresses, answers, strict=True)
            ]
        except ValueError as exc:  # not written by this service
            raise StoreError("redis store holds an unreadable delivery-problem record") from exc

    async def record(self, problem: DeliveryProblem) -> bool:
        key = self._key(problem.address)
        keys = [key]
        if problem.feedback_id is None:
            tag = "r" + secrets.token_hex(8)
        else:
            tag = "f" + problem.feedback_id
            keys.append(f"{key}:fb:{self._hasher.message(problem.feedback_id)}")
        member = f"{problem.created_at}:{int(problem.type)}:{int(problem.subtype)}:{tag}"
        cutoff = self._clock.now_ms() - self._retention_ms
        try:
            client = self._conn.client
            if self._script is None:
                self._script = client.register_script(_RECORD)
            added = await self._script(  # EVALSHA; loads the script again after a restart
                keys=keys,
                args=[cutoff, problem.created_at, member, self._retention_ms, self._max_records],
                client=client,
            )
        except (RedisError, OSError) as exc:
            raise _store_error(exc) from exc
        return bool(added)

    async def clear(self, address: str) -> int:
        """Deletes the sorted set and the feedback markers of the records it holds."""
        key = self._key(address)
        try:
            client = self._conn.client
            members = await client.zrange(key, 0, -1)
            markers = [
                f"{key}:fb:{self._hasher.message(tag[1:])}"
                for tag in (m.split(":", 3)[-1] for m in members)
                if tag.startswith("f")
            ]
            await client.delete(key, *markers)
        except (RedisError, OSError) as exc:
            raise _store_error(exc) from exc
        return len(members)


def _decode(address: str, member: str) -> DeliveryProblem:
    created, kind, subtype, tag = member.split(":", 3)
    return DeliveryProblem(
        address,
        ProblemType.from_db(int(kind)),
        ProblemSubtype.from_db(int(subtype)),
        int(created),
        tag[1:] if tag.startswith("f") else None,
    )


class RedisMessageDataStore:
    """``SET ... PX ttl`` to store, ``GET`` to read: every notification gets the data.

    The value is ``<expiresAt ms>[/<relier>][:<metadata>]`` so expiry also holds against
    the injected clock; Redis's own TTL removes it. A relier id never holds ``/`` or ``:``
    (docs/reliers.md), and a value written before relier ids were stored
    (``<expiresAt ms>:<metadata>``) reads as before.
    """

    def __init__(
        self, conn: RedisConnection, hasher: KeyHasher, clock: Clock, ttl_seconds: int
    ) -> None:
        self._conn = conn
        self._hasher = hasher
        self._clock = clock
        self._ttl_ms = ttl_seconds * 1000

    async def ping(self) -> None:
        await self._conn.ping()

    def _key(self, message_id: str) -> str:
        return f"{_PREFIX}mdata:{self._hasher.message(message_id)}"

    async def put(self, message_id: str, metadata: str | None, relier: str | None = None) -> None:
        value = str(self._clock.now_ms() + self._ttl_ms)
        if relier is not None:
            value += f"/{relier}"
        if metadata is not None:
            value += f":{metadata}"
        try:
            await self._conn.batched(("SET", self._key(message_id), value, "PX", self._ttl_ms))
        except (RedisError, OSError) as exc:
            raise _store_error(exc) from exc

    async def get(self, message_id: str) -> MessageData | None:
        try:
            value = await self._conn.client.get(self._key(message_id))
        except (RedisError, OSError) as exc:
            raise _store_error(exc) from exc
        if value is None:
            return None
        head, colon, metadata = str(value).partition(":")
        expires_at, slash, relier = head.partition("/")
        if not expires_at.isdigit() or (slash and not relier):  # not written by this service
            raise StoreError("redis store holds an unreadable message data record")
        if int(expires_at) <= self._clock.now_ms():
            return None
        return MessageData(metadata if colon else None, relier or None)
