"""The support API over each delivery-problem backend: admins look up and clear an address."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from dependency_injector import providers

from config.container import Container, shutdown
from domain.model import DeliveryProblem, ProblemSubtype, ProblemType
from tests.adapters.stores.backends import REDIS_TEST_DB, fresh_redis
from tests.doubles.accountsdb import MYSQL_URL, reset_accounts_db, shared_http_double
from tests.entrypoints.test_http_auth import ADMIN_KEY, ADMINS, KEY, RELIERS, bearer, body
from tests.fakes import RecordingProvider
from tests.http_app import client_for, make_container

FIXED = "Fixed.Mailbox@example.com"


@asynccontextmanager
async def service(
    backend: str, tmp_path: Path
) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    container = make_container(
        auth={"required": True, "reliers": RELIERS, "admins": ADMINS},
        deliveryproblems={"backend": backend},
        sqlite={"path": str(tmp_path / "store.sqlite3")},
        redis={"db": REDIS_TEST_DB, "timeout": 1},
        mysql={"url": MYSQL_URL, "timeout": 1},
        authdb={"baseuri": shared_http_double().baseuri, "timeout": 1},
    )
    container.mock_provider.override(providers.Singleton(RecordingProvider, "mock"))
    try:
        async with client_for(container) as client:
            yield container, client
    finally:
        await shutdown(container)


@pytest.fixture(params=["sqlite", "redis", "mysql", "authdb", "memory"])
async def backend(request: pytest.FixtureRequest) -> str:
    conn = await fresh_redis()
    await conn.aclose()
    await reset_accounts_db()
    return str(request.param)


async def record_bounce(container: Container, address: str) -> None:
    now = container.clock().now_ms()
    problem = DeliveryProblem(address, ProblemType.HARD_BOUNCE, ProblemSubtype.NO_EMAIL, now)
    assert await container.delivery_problems().record(problem)


async def test_admins_list_an_addresses_problems_on_every_backend(
    backend: str, tmp_path: Path
) -> None:
    async with service(backend, tmp_path) as (container, client):
        await record_bounce(container, FIXED)
        await record_bounce(container, "someone.else@example.com")
        response = await client.get(f"/problems/{FIXED.lower()}", headers=bearer(ADMIN_KEY))

    assert response.status_code == 200, response.text
    listed = response.json()
    assert listed["backend"] == backend
    assert [(p["type"], p["subtype"]) for p in listed["problems"]] == [("hardBounce", "NoEmail")]
    assert set(listed["problems"][0]) == {"type", "subtype", "createdAt", "provider"}


@pytest.mark.parametrize("backend", ["sqlite", "redis", "memory"], indirect=True)
async def test_admins_clear_an_address_and_it_can_be_sent_to_again(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with service(backend, tmp_path) as (container, client):
        await record_bounce(container, FIXED)
        blocked = await client.post("/send", json=body(FIXED), headers=bearer(KEY))
        cleared = await client.delete(f"/problems/{FIXED}", headers=bearer(ADMIN_KEY))
        listed = await client.get(f"/problems/{FIXED}", headers=bearer(ADMIN_KEY))
        sent = await client.post("/send", json=body(FIXED), headers=bearer(KEY))
        hmac = container.hasher().address(FIXED)

    assert blocked.status_code == 429 and blocked.json()["errno"] == 108
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["cleared"] == 1
    assert listed.json()["problems"] == []
    assert sent.status_code == 200, sent.text
    support_lines = [r.getMessage() for r in caplog.records if "support:" in r.getMessage()]
    assert len(support_lines) == 3
    assert all("support-1" in line and hmac in line for line in support_lines[::2])
    service_lines = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]
    assert FIXED.lower() not in "\n".join(service_lines).lower()
    summaries = [vars(r) for r in caplog.records if r.name == "request.summary"]
    support = [s for s in summaries if s["method"] in ("GET", "DELETE")]
    assert [(s["path"], s.get("admin")) for s in support] == [
        ("/problems/{address}", "support-1"),
        ("/problems/{address}", "support-1"),
    ]
    assert not any(FIXED.lower() in str(s).lower() for s in summaries)


@pytest.mark.parametrize("backend", ["mysql", "authdb"], indirect=True)
async def test_clearing_the_accounts_database_answers_409_naming_the_backend(
    backend: str, tmp_path: Path
) -> None:
    async with service(backend, tmp_path) as (container, client):
        await record_bounce(container, FIXED)
        refused = await client.delete(f"/problems/{FIXED}", headers=bearer(ADMIN_KEY))
        listed = await client.get(f"/problems/{FIXED}", headers=bearer(ADMIN_KEY))

    assert refused.status_code == 409, refused.text
    error = refused.json()
    assert (error["code"], error["errno"], error["backend"]) == (409, 129, backend)
    assert backend in error["message"]
    assert len(listed.json()["problems"]) == 1


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize(
    "headers",
    [{}, bearer(KEY), bearer("nope")],
    ids=["missing", "relier key", "wrong"],
)
async def test_the_support_api_refuses_everyone_but_admins(
    method: str, headers: dict[str, str], tmp_path: Path
) -> None:
    async with service("memory", tmp_path) as (container, client):
        await record_bounce(container, FIXED)
        response = await client.request(method, f"/problems/{FIXED}", headers=headers)
        left = await container.delivery_problems().fetch(FIXED)

    assert response.status_code == 401, response.text
    assert response.json()["errno"] == 124
    assert FIXED not in response.text
    assert len(left) == 1


async def test_a_bad_address_is_a_clear_error(tmp_path: Path) -> None:
    async with service("memory", tmp_path) as (_, client):
        response = await client.get("/problems/not-an-address", headers=bearer(ADMIN_KEY))

    assert response.status_code == 400
    assert (response.json()["errno"], response.json()["field"]) == (101, "address")


def test_admin_keys_work_without_required_relier_keys(tmp_path: Path) -> None:
    # auth.required concerns reliers; the support API always wants an admin key
    container = make_container(auth={"required": False, "admins": ADMINS})
    authenticator: Any = container.authenticator()
    assert authenticator.admin(f"Bearer {ADMIN_KEY}") == "support-1"
