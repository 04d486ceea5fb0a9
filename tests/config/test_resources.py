"""Clients are closed once, by the container that built them, in serve and queues alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.stores.sqlite import SqliteDatabase
from config.container import shutdown
from config.resources import Resources
from tests.http_app import make_container


class Client:
    def __init__(self, closed: list[str], name: str, fails: bool = False) -> None:
        self.closed, self.name, self.fails = closed, name, fails

    async def aclose(self) -> None:
        self.closed.append(self.name)
        if self.fails:
            raise OSError("gone")


async def test_the_shared_sqlite_database_is_closed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closes: list[SqliteDatabase] = []
    original = SqliteDatabase.aclose

    async def counted(self: SqliteDatabase) -> None:
        closes.append(self)
        await original(self)

    monkeypatch.setattr(SqliteDatabase, "aclose", counted)
    container = make_container(
        deliveryproblems={"backend": "sqlite"},
        messagedata={"backend": "sqlite"},
        sqlite={"path": str(tmp_path / "db.sqlite3")},
    )
    container.delivery_problems()
    container.message_data()
    container.email_providers()

    await shutdown(container)

    assert closes == [container.sqlite_db()]


async def test_only_what_was_built_is_closed(tmp_path: Path) -> None:
    container = make_container(
        deliveryproblems={"backend": "sqlite"},
        messagedata={"backend": "sqlite"},
        sqlite={"path": str(tmp_path / "db.sqlite3")},
        aws={"sqsurls": {"bounce": "http://127.0.0.1:9/1/bounce"}},
    )
    container.delivery_problems()  # as the worker does: stores and SQS, no email provider
    container.message_data()
    container.sqs()
    assert container.resources().names == ["sqlite", "sqs"]

    await shutdown(container)

    assert container.resources().names == []


async def test_each_client_closes_once_newest_first_and_a_failure_stops_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed: list[str] = []
    resources = Resources()
    first, failing, last = Client(closed, "a"), Client(closed, "b", fails=True), Client(closed, "c")
    for name, client in [("a", first), ("b", failing), ("a again", first), ("c", last)]:
        assert resources.own(name, client) is client
    resources.own("not a client", object())

    await resources.aclose()
    await resources.aclose()

    assert closed == ["c", "b", "a"]
    assert "closing b failed" in caplog.text
