"""The worker's metrics (docs/operations.md, metrics), scraped from its own HTTP port."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.metrics import serve_metrics
from adapters.queues.memory import MemoryNotificationSource
from domain.errors import QueueError
from domain.events import DeliveryEvent
from domain.notifications import Handled
from entrypoints.worker import Worker
from tests.entrypoints.test_worker import running
from tests.fakes import Faulty
from tests.fixtures import ses
from tests.servers import free_port
from tests.waiting import eventually

QUEUE_FAILURES = "fxa_email_queue_failures_total"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def metrics_url() -> Iterator[str]:
    port = free_port()
    stop = serve_metrics("127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        stop()


def scrape(url: str) -> Samples:
    response = httpx.get(url)
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_notifications_and_queue_failures_are_counted(metrics_url: str) -> None:
    source = Faulty(
        MemoryNotificationSource("q", wait_seconds=0.2, visibility_timeout=60), "receive", "delete"
    )
    bounce = ses.load("bounce-permanent")
    source.put(json.dumps(bounce))
    source.put(json.dumps(ses.load("delivery")))
    source.put("not json at all")
    handled: list[str] = []

    async def handle(event: DeliveryEvent) -> Handled:
        if event.message_id == bounce["mail"]["messageId"]:
            raise QueueError("the outgoing queue refused it")
        handled.append(event.kind)
        source.fail_with = QueueError("down")  # the delete, then receives, fail
        return Handled()

    def receive_failures() -> float:
        return delta(before, scrape(metrics_url), QUEUE_FAILURES, operation="receive")

    before = scrape(metrics_url)
    async with running(Worker([source.port], handle, first_backoff=0.05)):
        await eventually(lambda: receive_failures() >= 1)
    after = scrape(metrics_url)

    notifications = "fxa_email_notifications_total"
    assert delta(before, after, notifications, kind="delivery", outcome="handled") == 1
    assert delta(before, after, notifications, kind="bounce", outcome="failed") == 1
    assert delta(before, after, notifications, kind="unparseable", outcome="unparseable") == 1
    assert delta(before, after, QUEUE_FAILURES, operation="delete") == 1
    assert handled == ["Delivery"]
