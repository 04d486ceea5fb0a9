"""The worker loop's resilience, over the in-memory queues (fast, no server needed)."""

from __future__ import annotations

import json
import logging
import time

import anyio
import anyio.lowlevel
import pytest

from adapters.queues.memory import MemoryNotificationSource
from domain.errors import QueueError
from domain.events import DeliveryEvent
from domain.notifications import Handled
from entrypoints.worker import Worker
from tests.entrypoints.test_worker import running
from tests.fakes import Faulty
from tests.fixtures import ses
from tests.waiting import eventually


class CountingSource(MemoryNotificationSource):
    def __init__(self, name: str = "memory") -> None:
        super().__init__(name, wait_seconds=0.2, visibility_timeout=0.2)
        self.receives = 0

    async def receive(self):  # type: ignore[no-untyped-def]
        self.receives += 1
        return await super().receive()


async def ok(event: DeliveryEvent) -> Handled:
    return Handled(forwarded=True)


async def test_receive_errors_back_off_instead_of_spinning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = Faulty(CountingSource("flaky"), "receive", "delete")
    source.fail_with = QueueError("unreachable")
    started = time.monotonic()
    async with running(Worker([source.port], ok, first_backoff=0.1)) as work:
        await eventually(lambda: source.calls.count("receive") >= 4)
        elapsed = time.monotonic() - started
        source.fail_with = None
        source.put(json.dumps(ses.load("delivery")))
        await eventually(lambda: work.counts.processed == 1, what="recovered")
    assert elapsed >= 0.1 + 0.2 + 0.4 - 0.05  # doubling back-off between failed receives
    assert "receiving from flaky failed" in caplog.text


async def test_an_unexpected_error_fails_one_message_not_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = CountingSource("bounces")
    bad = ses.load("bounce-permanent")

    async def handle(event: DeliveryEvent) -> Handled:
        if event.message_id == bad["mail"]["messageId"]:
            raise RuntimeError("bug")
        return Handled()

    bad_id = source.put(json.dumps(bad))
    source.put(json.dumps(ses.load("complaint")))
    async with running(Worker([source], handle)) as work:
        await eventually(lambda: work.counts.failed >= 2 and work.counts.processed == 1)
    assert source.count() == 1
    assert f"handling message {bad_id} on bounces failed" in caplog.text


async def test_a_failed_delete_is_counted_and_survived(caplog: pytest.LogCaptureFixture) -> None:
    source = Faulty(CountingSource(), "receive", "delete")
    source.put(json.dumps(ses.load("delivery")))
    calls = 0

    async def handle(event: DeliveryEvent) -> Handled:
        nonlocal calls
        calls += 1
        if calls == 1:  # the delete after the first handling fails (and receives, until reset)
            source.fail_with = QueueError("delete refused")
        return Handled()

    async with running(Worker([source.port], handle, first_backoff=0.05)) as work:
        await eventually(lambda: work.counts.undeleted == 1)
        source.fail_with = None
        await eventually(lambda: work.counts.processed == 1, what="handled again and deleted")
    assert source.count() == 0
    assert calls == 2  # handled again after the visibility timeout: idempotent by design
    assert "was handled but not deleted" in caplog.text


async def test_counts_are_logged_periodically(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="entrypoints.worker")
    source = CountingSource()
    source.put(json.dumps(ses.load("delivery")))
    async with running(Worker([source], ok, report_interval=0.05)):
        await eventually(lambda: "notification worker: processed 1, forwarded 1" in caplog.text)
    assert "notification worker stopped: processed 1, forwarded 1, failed 0" in caplog.text


async def test_a_batch_is_handled_concurrently_within_the_bound() -> None:
    source = CountingSource()
    for _ in range(10):
        source.put(json.dumps(ses.load("delivery")))
    busy = peak = 0

    async def handle(event: DeliveryEvent) -> Handled:
        nonlocal busy, peak
        busy += 1
        peak = max(peak, busy)
        for _ in range(10):  # hold the slot while the other tasks get their turns
            await anyio.lowlevel.checkpoint()
        busy -= 1
        return Handled()

    async with running(Worker([source], handle, concurrency=3)) as work:
        await eventually(lambda: work.counts.processed == 10)
    assert peak == 3


async def test_with_no_queue_it_waits_for_stop() -> None:
    async with running(Worker([], ok)) as work:
        pass  # leaving the block sets stop: run must return
    assert work.counts.processed == 0


async def test_stop_during_a_long_poll_returns_at_once() -> None:
    source = MemoryNotificationSource("slow", wait_seconds=60)
    work = Worker([source], ok)
    stop = anyio.Event()
    with anyio.fail_after(5):  # far less than the 60 s poll
        async with anyio.create_task_group() as group:
            group.start_soon(work.run, stop)
            await anyio.wait_all_tasks_blocked()  # the receive is waiting for messages
            stop.set()
    assert work.counts.processed == 0


async def test_a_poison_message_never_delays_the_good_ones_of_its_batch() -> None:
    source = CountingSource("bounces")
    source.put("[" * 50_000 + "]" * 50_000)
    for _ in range(9):
        source.put(json.dumps(ses.load("delivery")))
    async with running(Worker([source], ok)) as work:
        await eventually(lambda: work.counts.processed == 9)
    assert source.receives >= 1
    assert work.counts.unparseable >= 1
    assert source.count() == 1
