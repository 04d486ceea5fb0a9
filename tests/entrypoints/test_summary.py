"""Request summaries (docs/operations.md, logs): one mozlog line per request, id echoed."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from dependency_injector import providers
from dockerflow.logging import MozlogFormatter

from domain.model import DeliveryProblem, ProblemSubtype, ProblemType
from entrypoints.logs import configure_logging
from tests.fakes import RecordingProvider
from tests.http_app import client_for, make_container

ADDRESS = "secret.person@example.com"
SEND: dict[str, Any] = {
    "to": ADDRESS,
    "subject": "private subject",
    "body": {"text": "private body"},
    "metadata": "private metadata",
}


class Lines:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def summaries(self) -> list[dict[str, Any]]:
        return [line for line in self.all() if line["Type"] == "request.summary"]


@pytest.fixture
def logs() -> Iterator[Lines]:
    """Every log line at debug and above, as the mozlog formatter writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(MozlogFormatter(logger_name="fxa-email-service"))
    root = logging.getLogger()
    previous = root.level, root.handlers[:]
    configure_logging(make_container().settings())  # installs the request-id filter
    handler.filters = root.handlers[0].filters
    handler.addFilter(lambda record: not record.name.startswith(("httpx", "httpcore")))  # client
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG)
    try:
        yield Lines(stream)
    finally:
        root.setLevel(previous[0])
        root.handlers[:] = previous[1]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(make_container()) as client:
        yield client


async def test_one_summary_line_per_request_with_a_generated_id(
    client: httpx.AsyncClient, logs: Lines
) -> None:
    response = await client.post("/send", json=SEND)

    assert response.status_code == 200
    [line] = logs.summaries()
    assert line["Severity"] == 6  # info
    fields = line["Fields"]
    assert fields["method"] == "POST"
    assert fields["path"] == "/send"
    assert fields["code"] == 200
    assert fields["errno"] == 0
    assert isinstance(fields["t"], float) and fields["t"] >= 0
    rid = response.headers["x-request-id"]
    assert fields["rid"] == rid and len(rid) == 32
    for secret in (ADDRESS, "private subject", "private body", "private metadata"):
        assert secret not in logs.stream.getvalue()


async def test_a_plain_request_id_is_kept_and_echoed(
    client: httpx.AsyncClient, logs: Lines
) -> None:
    response = await client.post("/send", json=SEND, headers={"X-Request-Id": "abc-123.x:y_z"})

    assert response.headers["x-request-id"] == "abc-123.x:y_z"
    assert logs.summaries()[0]["Fields"]["rid"] == "abc-123.x:y_z"


@pytest.mark.parametrize("given", [ADDRESS, "x" * 129, "a b", "ünï"])
async def test_a_request_id_that_is_not_a_plain_token_is_replaced(
    client: httpx.AsyncClient, logs: Lines, given: str
) -> None:
    response = await client.get("/__lbheartbeat__", headers={b"X-Request-Id": given.encode()})

    rid = response.headers["x-request-id"]
    assert rid != given and len(rid) == 32
    assert logs.summaries()[0]["Fields"]["rid"] == rid
    assert ADDRESS not in logs.stream.getvalue()


async def test_an_error_logs_its_errno_and_status(client: httpx.AsyncClient, logs: Lines) -> None:
    response = await client.post("/send", json={**SEND, "to": "not an address"})

    assert response.status_code == 400
    fields = logs.summaries()[0]["Fields"]
    assert (fields["code"], fields["errno"]) == (400, 101)


async def test_a_refused_recipient_logs_429_without_the_address(logs: Lines) -> None:
    container = make_container()
    now = container.clock().now_ms()
    problem = DeliveryProblem(ADDRESS, ProblemType.HARD_BOUNCE, ProblemSubtype.GENERAL, now)
    await container.delivery_problems().record(problem)
    async with client_for(container) as client:
        response = await client.post("/send", json=SEND)

    assert response.status_code == 429
    fields = logs.summaries()[0]["Fields"]
    assert (fields["code"], fields["errno"]) == (429, 108)
    assert ADDRESS not in logs.stream.getvalue()


async def test_an_unknown_path_is_logged_as_unmatched_never_as_written(
    client: httpx.AsyncClient, logs: Lines
) -> None:
    response = await client.get(f"/no/such/route/{ADDRESS}")

    assert response.status_code == 404
    fields = logs.summaries()[0]["Fields"]
    assert (fields["path"], fields["code"], fields["errno"]) == ("unmatched", 404, 123)
    assert ADDRESS not in logs.stream.getvalue()


async def test_a_wrong_method_is_logged_under_its_route(
    client: httpx.AsyncClient, logs: Lines
) -> None:
    response = await client.get("/send")

    assert response.status_code == 405
    fields = logs.summaries()[0]["Fields"]
    assert (fields["path"], fields["code"], fields["errno"]) == ("/send", 405, 123)


@pytest.mark.parametrize(
    "path", ["/__lbheartbeat__", "/__heartbeat__", "/__version__", "/__metrics__"]
)
async def test_health_routes_are_summarised_at_debug(
    client: httpx.AsyncClient, logs: Lines, path: str
) -> None:
    response = await client.get(path)

    assert response.status_code == 200
    [line] = logs.summaries()
    assert line["Severity"] == 7  # debug
    assert line["Fields"]["path"] == path


async def test_other_log_lines_of_a_request_carry_its_id(logs: Lines) -> None:
    container = make_container()
    failing = RecordingProvider("mock")
    failing.fail = True
    container.mock_provider.override(providers.Object(failing))
    async with client_for(container) as client:
        response = await client.post("/send", json=SEND, headers={"X-Request-Id": "req-1"})

    assert response.status_code == 500
    [error] = [line for line in logs.all() if line["Type"] == "entrypoints.http"]
    assert error["Fields"]["rid"] == "req-1"
