"""The accounts-database stores when MariaDB or the HTTP API goes away and comes back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncmy
import httpx
import pytest

from adapters.stores.authdb_http import AuthDbDeliveryProblemStore
from adapters.stores.authdb_mysql import MysqlDeliveryProblemStore, MysqlUrl
from domain.errors import AccountsDbError
from domain.model import DeliveryProblem, ProblemSubtype, ProblemType
from tests.doubles.accountsdb import (
    MYSQL,
    MYSQL_DB,
    MYSQL_URL,
    AccountsDbHttpDouble,
    reset_accounts_db,
    shared_http_double,
)
from tests.doubles.accountsdb_proxy import TcpProxy
from tests.fakes import FakeClock
from tests.waiting import eventually

SECRET = "s3cret-Pa55word"


async def fetch_when_back(store: Any, address: str) -> Any:
    """Fetch once the accounts DB answers again; its last error at the deadline."""
    return await eventually(lambda: store.fetch(address), 5, retry_on=(AccountsDbError,))


def bounce(address: str, clock: FakeClock) -> DeliveryProblem:
    clock.advance(1)
    return DeliveryProblem(address, ProblemType.HARD_BOUNCE, ProblemSubtype.GENERAL, clock.now_ms())


async def assert_outage(store: Any, clock: FakeClock) -> None:
    for call in (
        store.fetch("a@example.com"),
        store.record(bounce("a@example.com", clock)),
        store.ping(),
    ):
        with pytest.raises(AccountsDbError) as raised:
            await call
        assert raised.value.errno == 109
        assert "a@example.com" not in raised.value.message
        assert SECRET not in raised.value.message


@pytest.fixture
async def mariadb_proxy() -> AsyncIterator[TcpProxy]:
    await reset_accounts_db()
    proxy = TcpProxy(3306).start()
    yield proxy
    proxy.close()


@pytest.fixture
def http_double(mariadb_proxy: TcpProxy) -> Iterator[AccountsDbHttpDouble]:
    double = AccountsDbHttpDouble(mysql_port=mariadb_proxy.port).start()
    yield double
    double.stop()


async def test_mysql_store_reports_outage_and_recovers(mariadb_proxy: TcpProxy) -> None:
    clock = FakeClock()
    store = MysqlDeliveryProblemStore(
        f"mysql://root@127.0.0.1:{mariadb_proxy.port}/{MYSQL_DB}", poolsize=2, timeout=1
    )
    try:
        assert await store.record(bounce("a@example.com", clock)) is True

        mariadb_proxy.stop()
        await assert_outage(store, clock)

        mariadb_proxy.start()
        assert len(await fetch_when_back(store, "a@example.com")) == 1
        assert await store.record(bounce("a@example.com", clock)) is True
        await store.ping()
    finally:
        await store.aclose()


async def test_mysql_password_never_reaches_errors() -> None:
    url = MysqlUrl.parse(f"mysql://fxa:{SECRET}@127.0.0.1:3306/{MYSQL_DB}")
    assert SECRET not in repr(url) and SECRET not in str(url)
    clock = FakeClock()
    wrong_password = MysqlDeliveryProblemStore(f"mysql://root:{SECRET}@127.0.0.1:3306/{MYSQL_DB}")
    try:
        await assert_outage(wrong_password, clock)
    finally:
        await wrong_password.aclose()


async def test_authdb_store_reports_api_outage_and_recovers(
    http_double: AccountsDbHttpDouble,
) -> None:
    clock = FakeClock()
    api_proxy = TcpProxy(http_double.port).start()
    store = AuthDbDeliveryProblemStore(f"http://127.0.0.1:{api_proxy.port}/", timeout=1)
    try:
        assert await store.record(bounce("a@example.com", clock)) is True

        api_proxy.stop()
        await assert_outage(store, clock)

        api_proxy.start()
        assert len(await fetch_when_back(store, "a@example.com")) == 1
        await store.ping()
    finally:
        await store.aclose()
        api_proxy.close()


async def test_authdb_store_reports_failing_database_behind_the_api(
    http_double: AccountsDbHttpDouble, mariadb_proxy: TcpProxy
) -> None:
    clock = FakeClock()
    store = AuthDbDeliveryProblemStore(http_double.baseuri, timeout=1)
    try:
        assert await store.record(bounce("a@example.com", clock)) is True

        mariadb_proxy.stop()  # the API hangs, as the real one does: 109 within the timeout
        await assert_outage(store, clock)

        mariadb_proxy.start()
        assert len(await fetch_when_back(store, "a@example.com")) == 1
    finally:
        await store.aclose()


async def test_the_http_double_hangs_like_the_real_server_when_its_database_is_gone(
    http_double: AccountsDbHttpDouble, mariadb_proxy: TcpProxy
) -> None:
    mariadb_proxy.stop()
    async with httpx.AsyncClient(base_url=http_double.baseuri, timeout=1) as client:
        for method, path in [("GET", "emailBounces/00"), ("GET", "__heartbeat__")]:
            with pytest.raises(httpx.ReadTimeout):
                await client.request(method, path)


async def test_the_table_compares_addresses_as_the_real_one_does(
    http_double: AccountsDbHttpDouble,
) -> None:
    # utf8mb3_unicode_ci: case- and accent-insensitive, primary key included.
    async with httpx.AsyncClient(base_url=http_double.baseuri, timeout=5) as client:
        body = {"email": "Foo@Example.COM", "bounceType": 1, "bounceSubType": 2}
        assert (await client.post("emailBounces", json=body)).status_code == 200
        for address in ("foo@example.com", "f\u00f3o@example.com"):
            found = await client.get(f"emailBounces/{address.encode().hex()}")
            assert [r["email"] for r in found.json()] == ["Foo@Example.COM"]


async def test_authdb_409_record_already_exists_counts_as_recorded(
    http_double: AccountsDbHttpDouble,
) -> None:
    # The real server stamps createdAt itself: two problems of one address in the same
    # millisecond collide on its primary key and the second is answered 409.
    http_double.pinned_ms = 1_700_000_000_000
    clock = FakeClock()
    store = AuthDbDeliveryProblemStore(http_double.baseuri, timeout=3)
    try:
        assert await store.record(bounce("a@example.com", clock)) is True
        complaint = DeliveryProblem(
            "a@example.com", ProblemType.COMPLAINT, ProblemSubtype.ABUSE, clock.now_ms()
        )
        assert await store.record(complaint) is True
        assert len(await store.fetch("a@example.com")) == 1
    finally:
        await store.aclose()


async def test_mysql_heartbeat_fails_without_the_procedures() -> None:
    empty = f"{MYSQL_DB}_noprocedures"
    conn = await asyncmy.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{empty}`")
    finally:
        await conn.ensure_closed()
    await reset_accounts_db()
    healthy = MysqlDeliveryProblemStore(MYSQL_URL, timeout=2)
    bare = MysqlDeliveryProblemStore(f"mysql://root@127.0.0.1:3306/{empty}", timeout=2)
    try:
        await healthy.ping()
        with pytest.raises(AccountsDbError) as raised:
            await bare.ping()
        assert "procedures" in raised.value.message
    finally:
        await healthy.aclose()
        await bare.aclose()


@pytest.mark.parametrize("backend", ["mysql", "authdb"])
async def test_an_unknown_bounce_type_in_the_database_counts_as_soft(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    await reset_accounts_db()
    conn = await asyncmy.connect(**MYSQL, autocommit=True)
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(
                "INSERT INTO emailBounces VALUES (%s, %s, %s, %s)",
                ("odd@example.com", 9, 2, 1_700_000_000_000),
            )
    finally:
        await conn.ensure_closed()
    store: Any = (
        MysqlDeliveryProblemStore(MYSQL_URL, timeout=2)
        if backend == "mysql"
        else AuthDbDeliveryProblemStore(shared_http_double().baseuri, timeout=2)
    )
    try:
        fetched = list(await store.fetch("odd@example.com"))
    finally:
        await store.aclose()

    assert [(p.type, p.subtype) for p in fetched] == [
        (ProblemType.SOFT_BOUNCE, ProblemSubtype.GENERAL)
    ]
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("bounceType 9" in m for m in warned)
    assert not any("odd@example.com" in r.getMessage() for r in caplog.records)
