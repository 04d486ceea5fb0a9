"""`GET /__metrics__` (docs/operations.md, metrics): scraped after sends, refusals, failures."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
from dependency_injector import providers
from prometheus_client.parser import text_string_to_metric_families

from config.container import Container
from domain.errors import StoreError
from domain.model import DeliveryProblem, ProblemSubtype, ProblemType
from tests.fakes import RecordingProvider
from tests.http_app import client_for, make_container

ADDRESS = "secret.person@example.com"
SEND: dict[str, Any] = {"to": ADDRESS, "subject": "s", "body": {"text": "t"}, "metadata": "m"}


async def scrape(client: httpx.AsyncClient) -> tuple[str, dict[tuple[str, frozenset[Any]], float]]:
    response = await client.get("/__metrics__")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    return response.text, samples


class Metrics:
    def __init__(self, before: dict[tuple[str, frozenset[Any]], float]) -> None:
        self.before = before
        self.after: dict[tuple[str, frozenset[Any]], float] = {}
        self.text = ""

    def delta(self, name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return self.after.get(key, 0.0) - self.before.get(key, 0.0)

    async def rescrape(self, client: httpx.AsyncClient) -> None:
        self.text, self.after = await scrape(client)


@pytest.fixture
def container() -> Container:
    container = make_container()
    container.mock_provider.override(providers.Singleton(RecordingProvider, "mock"))
    return container


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(container) as client:
        yield client


async def test_a_send_and_a_refusal_are_counted_without_an_address(
    container: Container, client: httpx.AsyncClient
) -> None:
    metrics = Metrics((await scrape(client))[1])
    assert (await client.post("/send", json=SEND)).status_code == 200
    now = container.clock().now_ms()
    problem = DeliveryProblem(ADDRESS, ProblemType.HARD_BOUNCE, ProblemSubtype.GENERAL, now)
    await container.delivery_problems().record(problem)
    assert (await client.post("/send", json=SEND)).status_code == 429

    await metrics.rescrape(client)
    assert metrics.delta("fxa_email_sends_total", provider="mock", outcome="sent") == 1
    assert metrics.delta("fxa_email_provider_duration_seconds_count", provider="mock") == 1
    assert metrics.delta("fxa_email_refusals_total", errno="108") == 1
    route = {"route": "/send", "method": "POST"}
    assert metrics.delta("fxa_email_requests_total", **route, status="200") == 1
    assert metrics.delta("fxa_email_requests_total", **route, status="429") == 1
    assert metrics.delta("fxa_email_request_duration_seconds_count", route="/send") == 2
    assert ADDRESS not in metrics.text and "secret" not in metrics.text


async def test_a_provider_failure_is_counted(
    container: Container, client: httpx.AsyncClient
) -> None:
    container.mock_provider().fail = True  # type: ignore[attr-defined]
    metrics = Metrics((await scrape(client))[1])

    assert (await client.post("/send", json=SEND)).status_code == 500

    await metrics.rescrape(client)
    assert metrics.delta("fxa_email_sends_total", provider="mock", outcome="failed") == 1
    assert metrics.delta("fxa_email_sends_total", provider="mock", outcome="sent") == 0
    assert metrics.delta("fxa_email_refusals_total", errno="104") == 1


class FailingProblemStore:
    async def fetch(self, address: str) -> list[DeliveryProblem]:
        raise StoreError("the store is down")

    async def fetch_many(self, addresses: Sequence[str]) -> list[Sequence[DeliveryProblem]]:
        raise StoreError("the store is down")

    async def record(self, problem: DeliveryProblem) -> bool:
        raise StoreError("the store is down")


async def test_a_store_error_is_counted_by_store(container: Container) -> None:
    container.delivery_problems.override(providers.Object(FailingProblemStore()))
    async with client_for(container) as client:
        metrics = Metrics((await scrape(client))[1])
        assert (await client.post("/send", json=SEND)).status_code == 500
        await metrics.rescrape(client)

    assert metrics.delta("fxa_email_store_errors_total", store="deliveryproblems") == 1
    assert metrics.delta("fxa_email_store_errors_total", store="messagedata") == 0
    assert metrics.delta("fxa_email_refusals_total", errno="117") == 1


async def test_unknown_paths_share_one_label(client: httpx.AsyncClient) -> None:
    metrics = Metrics((await scrape(client))[1])
    for path in ("/a", f"/no/such/route/{ADDRESS}", "/b/c"):
        assert (await client.get(path)).status_code == 404

    await metrics.rescrape(client)
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    assert metrics.delta("fxa_email_requests_total", **unmatched) == 3
    assert ADDRESS not in metrics.text
