"""The notification worker: poll every incoming queue, handle each message, delete it.

One loop per distinct queue, all in one task group. Each loop long-polls its queue, handles
the batch's messages concurrently (one limiter bounds them across all queues), then deletes
the handled ones in one batch call. A message whose handling fails, or that cannot be parsed,
is logged and left in its queue: it comes back after the visibility timeout, and the queue's
redrive policy decides when to give up on it. On stop, each loop abandons a long poll at
once (its messages become visible again after the visibility timeout), finishes the batch
in hand, then returns. docs/notifications.md describes the worker for operators.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import anyio

from adapters.metrics import NOTIFICATIONS, QUEUE_FAILURES, kind_label, serve_metrics
from config.container import Container, shutdown
from domain.events import DeliveryEvent
from domain.notifications import Handled
from ports.queues import IncomingMessage, NotificationSource, ReceivedEvent, UnparseableMessage

logger = logging.getLogger(__name__)

Handler = Callable[[DeliveryEvent], Awaitable[Handled]]
StopEvent = anyio.Event | asyncio.Event
MAX_BACKOFF = 60.0


@dataclass(slots=True)
class Counts:
    """What the worker did since it started, logged every ``reportinterval`` seconds."""

    processed: int = 0  # handled and deleted
    forwarded: int = 0  # of those, sent to the outgoing queue
    failed: int = 0  # handling failed: left in the queue for redelivery
    unparseable: int = 0  # could not be parsed: left for the redrive policy
    undeleted: int = 0  # handled but the delete failed: will be handled again (idempotent)

    def log(self, when: str) -> None:
        logger.info(
            "%s: processed %d, forwarded %d, failed %d, unparseable %d, undeleted %d",
            when,
            self.processed,
            self.forwarded,
            self.failed,
            self.unparseable,
            self.undeleted,
        )


class Worker:
    def __init__(
        self,
        sources: Sequence[NotificationSource],
        handle: Handler,
        concurrency: int = 10,
        report_interval: float = 60.0,
        first_backoff: float = 1.0,
    ) -> None:
        self._sources = sources
        self._handle = handle
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._report_interval = report_interval
        self._first_backoff = first_backoff
        self.counts = Counts()

    async def run(self, stop: StopEvent) -> Counts:
        """Poll until ``stop`` is set; return once every in-flight message is finished."""
        names = ", ".join(source.name for source in self._sources) or "none"
        logger.info("notification worker polling: %s", names)
        async with anyio.create_task_group() as group:
            group.start_soon(self._report, stop)
            for source in self._sources:
                group.start_soon(self._poll, source, stop)
            if not self._sources:
                logger.warning("no incoming queue configured (aws.sqsurls.bounce and friends)")
        self.counts.log("notification worker stopped")
        return self.counts

    async def _report(self, stop: StopEvent) -> None:
        while not stop.is_set():
            await _wait_for(stop, self._report_interval)
            if not stop.is_set():
                self.counts.log("notification worker")

    async def _poll(self, source: NotificationSource, stop: StopEvent) -> None:
        backoff = self._first_backoff
        while not stop.is_set():
            try:
                batch = await _receive_unless_stopped(source, stop)
            except Exception:  # noqa: BLE001 - the loop must survive any failure
                QUEUE_FAILURES.labels("receive").inc()
                logger.exception(
                    "receiving from %s failed: retrying in %.0f s", source.name, backoff
                )
                await _wait_for(stop, backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = self._first_backoff
            if batch:
                await self._handle_batch(source, batch)

    async def _handle_batch(
        self, source: NotificationSource, batch: Sequence[IncomingMessage]
    ) -> None:
        done: list[ReceivedEvent] = []
        async with anyio.create_task_group() as group:
            for message in batch:
                group.start_soon(self._handle_one, message, done)
        if not done:
            return
        try:
            undeleted = await source.delete(done)
        except Exception:  # noqa: BLE001
            logger.exception("deleting %d handled messages from %s failed", len(done), source.name)
            undeleted = done
        if undeleted:
            QUEUE_FAILURES.labels("delete").inc(len(undeleted))
        for message in undeleted:
            logger.warning(
                "message %s on %s was handled but not deleted", message.id, message.queue
            )
        self.counts.undeleted += len(undeleted)
        self.counts.processed += len(done) - len(undeleted)

    async def _handle_one(self, message: IncomingMessage, done: list[ReceivedEvent]) -> None:
        if isinstance(message, UnparseableMessage):
            self.counts.unparseable += 1
            NOTIFICATIONS.labels("unparseable", "unparseable").inc()
            logger.error(
                "message %s on %s cannot be parsed (%s): left for the queue's redrive policy",
                message.id,
                message.queue,
                message.error,
            )
            return
        try:
            async with self._limiter:
                handled = await self._handle(message.event)
        except Exception:  # noqa: BLE001 - one message must not stop the others
            self.counts.failed += 1
            NOTIFICATIONS.labels(kind_label(message.event.kind), "failed").inc()
            logger.exception(
                "handling message %s on %s failed: left for redelivery", message.id, message.queue
            )
            return
        self.counts.forwarded += handled.forwarded
        NOTIFICATIONS.labels(kind_label(message.event.kind), "handled").inc()
        done.append(message)


async def _receive_unless_stopped(
    source: NotificationSource, stop: StopEvent
) -> Sequence[IncomingMessage]:
    """``source.receive()``, or nothing as soon as ``stop`` is set during the long poll."""
    received: list[Sequence[IncomingMessage]] = []
    failed: list[Exception] = []

    async def receive(scope: anyio.CancelScope) -> None:
        try:
            received.append(await source.receive())
        except Exception as exc:  # noqa: BLE001 - re-raised below, outside the task group
            failed.append(exc)
        scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(receive, group.cancel_scope)
        await stop.wait()
        group.cancel_scope.cancel()
    if failed:
        raise failed[0]
    return received[0] if received else ()


async def _wait_for(stop: StopEvent, seconds: float) -> None:
    """Wait ``seconds``, or less if ``stop`` is set meanwhile."""
    with anyio.move_on_after(seconds):
        await stop.wait()


async def run(container: Container, stop: StopEvent) -> Counts:
    """Run the worker over the container's queues until ``stop`` is set."""
    settings = container.settings()
    worker = Worker(
        container.notification_sources(),
        container.handle_delivery_event(),
        concurrency=settings.worker.concurrency,
        report_interval=settings.worker.reportinterval,
    )
    return await worker.run(stop)


def main(container: Container) -> int:
    """The `queues` command: run until SIGTERM or SIGINT, then close everything; exit 0.

    With ``worker.metricsport`` set, the metrics are served on ``host``:``metricsport``.
    """
    settings = container.settings()
    port = settings.worker.metricsport
    stop_metrics = serve_metrics(settings.host, port) if port is not None else None
    try:
        return anyio.run(_main, container)
    finally:
        if stop_metrics is not None:
            stop_metrics()


async def _main(container: Container) -> int:
    stop = anyio.Event()
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_stop_on_signal, stop)
            await run(container, stop)
            group.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await shutdown(container)  # what the worker opened, each client once
    return 0


async def _stop_on_signal(stop: anyio.Event) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            logger.info(
                "received %s: finishing the messages in flight", signal.Signals(signum).name
            )
            stop.set()
            return
