"""Sentry reports (docs/operations.md, Sentry), received by a local HTTP server as DSN host."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
from dependency_injector import providers

from adapters.queues.memory import MemoryNotificationSource
from config.settings import load_settings
from domain.events import DeliveryEvent
from domain.model import Email
from domain.notifications import Handled
from entrypoints.errorreports import configure_error_reports, scrub
from entrypoints.worker import Worker
from tests.doubles.http import HttpDouble, Reply, ScriptedServer
from tests.entrypoints.test_worker import running
from tests.fakes import RecordingProvider
from tests.fixtures import ses
from tests.http_app import client_for, make_container
from tests.waiting import eventually

ADDRESS = "victim.person@example.com"
SEND: dict[str, Any] = {
    "to": ADDRESS,
    "cc": ["other.person@example.org"],
    "subject": "private subject",
    "body": {"text": "private body"},
    "metadata": "private metadata",
}
PRIVATE = (ADDRESS, "other.person@example.org", "private subject", "private body", "private")


class Sentry:
    def __init__(self, server: HttpDouble) -> None:
        self.server = server
        self.dsn = f"http://publickey@127.0.0.1:{server.port}/42"

    def envelopes(self) -> list[bytes]:
        bodies = []
        for request in self.server.received:
            assert request.path.startswith("/api/42/envelope/"), request.path
            body = request.body
            if request.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            bodies.append(body)
        return bodies

    def events(self) -> list[dict[str, Any]]:
        events = []
        for envelope in self.envelopes():
            lines = envelope.split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if json.loads(header).get("type") == "event":
                    events.append(json.loads(payload))
        return events


@pytest.fixture
def sentry() -> Iterator[Sentry]:
    with ScriptedServer(Reply(200, {})) as server:
        yield Sentry(server)


@pytest.fixture
def reporting(sentry: Sentry) -> Iterator[Sentry]:
    """Reports on, to the local server; flushed and off again afterwards."""
    stop = configure_error_reports(load_settings(sentry={"dsn": sentry.dsn}))
    assert stop is not None
    try:
        yield sentry
    finally:
        stop()


class ExplodingProvider(RecordingProvider):
    async def send(self, email: Email) -> str:
        raise RuntimeError(f"the provider's SDK crashed on {email.to} and {email.subject}")


async def test_an_internal_error_is_reported_without_private_data(reporting: Sentry) -> None:
    container = make_container()
    container.mock_provider.override(providers.Object(ExplodingProvider()))
    async with client_for(container) as client:
        response = await client.post("/send", json=SEND)
    assert response.json()["errno"] == 100

    await eventually(lambda: reporting.events() or None, what="an event at the DSN host")
    [event] = reporting.events()
    assert event["level"] == "error"
    [exception] = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == "[Filtered]"  # another library's message may quote anything
    assert "request" not in event
    raw = b"".join(reporting.envelopes()).decode()
    assert not [text for text in PRIVATE if text in raw]


async def test_a_provider_failure_is_reported_at_error_level(reporting: Sentry) -> None:
    container = make_container()
    failing = RecordingProvider()
    failing.fail = True
    container.mock_provider.override(providers.Object(failing))
    async with client_for(container) as client:
        assert (await client.post("/send", json=SEND)).json()["errno"] == 104

    await eventually(lambda: reporting.events() or None, what="an event at the DSN host")
    [event] = reporting.events()
    assert event["level"] == "error"
    assert "errno 104" in event["logentry"]["formatted"]
    raw = b"".join(reporting.envelopes()).decode()
    assert not [text for text in PRIVATE if text in raw]


async def test_a_worker_failure_is_reported(reporting: Sentry) -> None:
    source = MemoryNotificationSource("q", wait_seconds=0.1, visibility_timeout=60)
    source.put(json.dumps(ses.load("bounce-permanent")))

    async def handle(event: DeliveryEvent) -> Handled:
        raise RuntimeError(f"could not record {event.recipients}")

    async with running(Worker([source], handle)) as work:
        await eventually(lambda: work.counts.failed == 1)
    await eventually(lambda: reporting.events() or None, what="an event at the DSN host")
    [event] = reporting.events()
    assert event["exception"]["values"][0]["type"] == "RuntimeError"
    recipients = ses.load("bounce-permanent")["bounce"]["bouncedRecipients"]
    raw = b"".join(reporting.envelopes()).decode()
    assert not [r["emailAddress"] for r in recipients if r["emailAddress"] in raw]


async def test_nothing_is_reported_without_a_dsn(sentry: Sentry) -> None:
    assert configure_error_reports(load_settings()) is None
    container = make_container()
    container.mock_provider.override(providers.Object(ExplodingProvider()))
    async with client_for(container) as client:
        assert (await client.post("/send", json=SEND)).json()["errno"] == 100
    assert sentry.server.received == []


def test_scrub_drops_requests_users_and_private_keys() -> None:
    event: Any = {
        "request": {"headers": {"Authorization": "Bearer k"}, "data": "private body"},
        "user": {"email": ADDRESS},
        "extra": {"metadata": "private metadata", "note": f"for <{ADDRESS}>", "n": 1},
        "logentry": {"message": "failed for %s", "params": [ADDRESS]},
        "exception": {
            "values": [
                {"type": "ProviderError", "module": "domain.errors", "value": f"{ADDRESS} no"},
                {"type": "SMTPRecipientsRefused", "module": "aiosmtplib", "value": "subject x"},
            ]
        },
        "breadcrumbs": {"values": [{"data": {"to": ADDRESS}, "message": "x"}]},
    }
    scrubbed: Any = scrub(event, {})

    assert "request" not in scrubbed and "user" not in scrubbed
    assert scrubbed["extra"] == {"metadata": "[Filtered]", "note": "for <[address]>", "n": 1}
    assert scrubbed["logentry"]["params"] == ["[address]"]
    assert scrubbed["breadcrumbs"]["values"][0]["data"] == "[Filtered]"
    own, other = scrubbed["exception"]["values"]
    assert (own["value"], other["value"]) == ("[address] no", "[Filtered]")
    assert ADDRESS not in json.dumps(scrubbed)


def test_a_dsn_must_be_an_http_url() -> None:
    from config.errors import ConfigError

    with pytest.raises(ConfigError, match="sentry.dsn: not an http"):
        load_settings(sentry={"dsn": "ftp://key@host/1"})
    assert load_settings(sentry={"dsn": ""}).sentry.dsn is None
