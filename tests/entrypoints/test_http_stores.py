"""`POST /send` over each production store: limits refuse exactly as with SQLite, and a store
outage answers 117 (own store) or 109 (accounts database), then 200 once it is back."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from dependency_injector import providers

from config.container import Container, shutdown
from domain.model import DeliveryProblem, MessageData, ProblemSubtype, ProblemType
from tests.adapters.stores.backends import REDIS_PORT, REDIS_TEST_DB, fresh_redis
from tests.conftest import PrivateRedis
from tests.doubles.accountsdb import MYSQL_DB, MYSQL_URL, reset_accounts_db, shared_http_double
from tests.doubles.accountsdb_proxy import TcpProxy
from tests.fakes import RecordingProvider
from tests.http_app import client_for, make_container
from tests.servers import free_port

BLOCKED = "blocked@example.com"


def body(to: str, **extra: Any) -> dict[str, Any]:
    return {"to": to, "subject": "s", "body": {"text": "t"}, **extra}


def settings_for(backend: str, tmp_path: Path, redis_port: int = REDIS_PORT) -> dict[str, Any]:
    return {
        "deliveryproblems": {"backend": backend},
        "messagedata": {"backend": "sqlite" if backend == "sqlite" else "redis"},
        "sqlite": {"path": str(tmp_path / "store.sqlite3")},
        "redis": {"port": redis_port, "db": REDIS_TEST_DB, "timeout": 1},
        "mysql": {"url": MYSQL_URL, "timeout": 1},
        "authdb": {"baseuri": shared_http_double().baseuri, "timeout": 1},
    }


@asynccontextmanager
async def service(settings: dict[str, Any]) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    container = make_container(**settings)
    container.mock_provider.override(providers.Singleton(RecordingProvider, "mock"))
    try:
        async with client_for(container) as client:
            yield container, client
    finally:
        await shutdown(container)  # ASGITransport runs no lifespan


@pytest.fixture(params=["sqlite", "redis", "mysql", "authdb"])
async def backend(request: pytest.FixtureRequest) -> str:
    conn = await fresh_redis()  # DB 15 emptied: metadata and Redis problems start clean
    await conn.aclose()
    await reset_accounts_db()
    return str(request.param)


async def test_recorded_problems_refuse_the_recipient_as_with_sqlite(
    backend: str, tmp_path: Path
) -> None:
    async with service(settings_for(backend, tmp_path)) as (container, client):
        now = container.clock().now_ms()
        recorded = DeliveryProblem(BLOCKED, ProblemType.HARD_BOUNCE, ProblemSubtype.GENERAL, now)
        assert await container.delivery_problems().record(recorded) is True

        refused = await client.post("/send", json=body(BLOCKED))
        skipped = await client.post("/send", json=body("ok@example.com", cc=[BLOCKED]))
        sent = await client.post("/send", json=body("ok@example.com", metadata="opaque"))

        assert refused.status_code == 429, refused.text
        error = refused.json()
        assert (error["code"], error["errno"], error["address"]) == (429, 108, BLOCKED)
        assert error["problem"]["type"] == "hardBounce"
        assert error["problem"]["subtype"] == "General"
        assert error["time"] == error["bouncedAt"] == error["problem"]["createdAt"] >= now
        assert skipped.status_code == 200, skipped.text
        assert skipped.json()["skipped"] == [{"address": BLOCKED, "errno": 108}]
        assert sent.status_code == 200, sent.text
        provider_id = sent.json()["messageId"].removeprefix("mock:")
        assert await container.message_data().get(provider_id) == MessageData("opaque")


async def poll_status(client: httpx.AsyncClient, expected: int, seconds: float = 5) -> Any:
    """POST /send until it answers ``expected``; fail with the last answer at the deadline."""
    deadline = time.monotonic() + seconds
    while True:
        response = await client.post("/send", json=body("ok@example.com"))
        if response.status_code == expected or time.monotonic() > deadline:
            assert response.status_code == expected, response.text
            return response.json()


async def assert_outage_then_recovery(
    settings: dict[str, Any], errno: int, stop: Callable[[], object], start: Callable[[], object]
) -> None:
    async with service(settings) as (container, client):
        assert (await client.post("/send", json=body("ok@example.com"))).status_code == 200
        assert (await client.get("/__heartbeat__")).status_code == 200
        recording = cast(RecordingProvider, container.mock_provider())
        sent_before = len(recording.sent)

        stop()
        error = await poll_status(client, 500)
        assert (error["code"], error["errno"]) == (500, errno)
        assert "ok@example.com" not in str(error)
        heartbeat = await client.get("/__heartbeat__")
        assert heartbeat.status_code == 500
        assert "deliveryproblems" in heartbeat.text
        assert (
            len(cast(RecordingProvider, container.mock_provider()).sent) == sent_before
        )  # nothing sent on error

        start()
        assert "messageId" in await poll_status(client, 200)
        assert (await client.get("/__heartbeat__")).status_code == 200


@pytest.fixture
def mariadb_proxy() -> Iterator[TcpProxy]:
    proxy = TcpProxy(3306).start()
    yield proxy
    proxy.close()


async def test_redis_outage_answers_117_then_200(
    private_redis: PrivateRedis, tmp_path: Path
) -> None:
    settings = settings_for("redis", tmp_path, redis_port=private_redis.port)
    await assert_outage_then_recovery(settings, 117, private_redis.kill, private_redis.start)


async def test_mysql_outage_answers_109_then_200(
    mariadb_proxy: TcpProxy, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    await reset_accounts_db()
    settings = settings_for("mysql", tmp_path, redis_port=private_redis.port)
    settings["mysql"] = {
        "url": f"mysql://root@127.0.0.1:{mariadb_proxy.port}/{MYSQL_DB}",
        "timeout": 1,
    }
    await assert_outage_then_recovery(settings, 109, mariadb_proxy.stop, mariadb_proxy.start)


async def test_authdb_outage_answers_109_then_200(
    private_redis: PrivateRedis, tmp_path: Path
) -> None:
    await reset_accounts_db()
    api_proxy = TcpProxy(shared_http_double().port).start()
    try:
        settings = settings_for("authdb", tmp_path, redis_port=private_redis.port)
        settings["authdb"] = {"baseuri": f"http://127.0.0.1:{api_proxy.port}/", "timeout": 1}
        await assert_outage_then_recovery(settings, 109, api_proxy.stop, api_proxy.start)
    finally:
        api_proxy.close()


async def test_heartbeat_names_the_failing_check_with_a_generic_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()  # nothing listens there
    settings = settings_for("mysql", tmp_path)
    settings["mysql"] = {"url": f"mysql://heartbeatuser:s3cret@127.0.0.1:{port}/fxa", "timeout": 1}
    settings["messagedata"] = {"backend": "memory"}
    async with service(settings) as (_, client):
        heartbeat = await client.get("/__heartbeat__")

    assert heartbeat.status_code == 500
    body = heartbeat.json()
    assert body["checks"]["deliveryproblems"] == "error"
    assert body["details"]["deliveryproblems"]["messages"] == {
        "deliveryproblems.failed": "deliveryproblems is unavailable"
    }
    for detail in ("127.0.0.1", str(port), "heartbeatuser", "s3cret", "Can't connect", "2003"):
        assert detail not in heartbeat.text
    # the details are for the operator, in the log
    assert any("deliveryproblems" in r.getMessage() for r in caplog.records)
