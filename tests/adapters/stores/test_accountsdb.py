"""The accounts-database stores when MariaDB or the HTTP API goes away and comes back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from adapters.stores.authdb_http import AuthDbDeliveryProblemStore
from adapters.stores.authdb_mysql import MysqlDeliveryProblemStore, MysqlUrl
from domain.errors import AccountsDbError
from domain.model import DeliveryProblem, ProblemSubtype, ProblemType
from tests.doubles.accountsdb import MYSQL_DB, AccountsDbHttpDouble, reset_accounts_db
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
    store = AuthDbDeliveryProblemStore(http_double.baseuri, timeout=3)
    try:
        assert await store.record(bounce("a@example.com", clock)) is True

        mariadb_proxy.stop()  # the API answers, with 500s
        await assert_outage(store, clock)

        mariadb_proxy.start()
        assert len(await fetch_when_back(store, "a@example.com")) == 1
    finally:
        await store.aclose()
