"""Prometheus metrics (docs/operations.md): the counters and histograms, and port wrappers.

Labels are bounded sets (route templates, provider and store names, errnos, kinds,
outcomes), never an address or anything a caller chose freely. Metric objects live in the
default registry; with ``PROMETHEUS_MULTIPROC_DIR`` set before this module is first
imported, every process writes its values to that folder and a scrape sums them.
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.multiprocess import MultiProcessCollector

from domain.errors import ServiceError
from domain.model import Email

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter(
    "fxa_email_requests", "HTTP requests answered, by route template", ["route", "method", "status"]
)
REQUEST_SECONDS = Histogram(
    "fxa_email_request_duration_seconds",
    "Time from a request's arrival to its answer",
    ["route"],
    buckets=_LATENCY_BUCKETS,
)
REFUSALS = Counter("fxa_email_refusals", "Error responses, by errno", ["errno"])
RELIER_REQUESTS = Counter(
    "fxa_email_relier_requests",
    "Requests to /send by relier id (the configured ids, or - without a key) and status",
    ["relier", "status"],
)
SENDS = Counter(
    "fxa_email_sends",
    "Emails handed to a provider, by outcome (sent, failed)",
    ["provider", "outcome"],
)
PROVIDER_SECONDS = Histogram(
    "fxa_email_provider_duration_seconds",
    "Time a provider took to accept or refuse an email",
    ["provider"],
    buckets=_LATENCY_BUCKETS,
)
NOTIFICATIONS = Counter(
    "fxa_email_notifications",
    "Notifications the worker took from its queues, by kind and outcome",
    ["kind", "outcome"],
)
QUEUE_FAILURES = Counter(
    "fxa_email_queue_failures",
    "Failed queue operations, by operation (receive, forward, delete)",
    ["operation"],
)
STORE_ERRORS = Counter(
    "fxa_email_store_errors", "Store operations that failed, by store", ["store"]
)


class _Proxy:
    """Everything of the wrapped adapter, as it is; subclasses replace what they count.

    Only the domain services get these wrappers: health checks and shutdown keep talking to
    the adapters themselves (a runtime protocol check does not look through ``__getattr__``).
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class TimedEmailProvider(_Proxy):
    """An EmailProvider whose sends are counted by outcome and timed."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.name: str = inner.name
        self._sent = SENDS.labels(self.name, "sent")
        self._failed = SENDS.labels(self.name, "failed")
        self._seconds = PROVIDER_SECONDS.labels(self.name)

    async def send(self, email: Email) -> str:
        start = time.perf_counter()
        try:
            message_id: str = await self._inner.send(email)
        except Exception:
            self._failed.inc()
            raise
        finally:
            self._seconds.observe(time.perf_counter() - start)
        self._sent.inc()
        return message_id


class CountedStore(_Proxy):
    """A store (or queue) whose failing calls are counted under one label value.

    Each public coroutine method of the adapter's class gets its counting wrapper once, as an
    attribute of this object, so a call finds it without ``__getattr__`` (docs/performance.md);
    the wrapper looks the adapter's method up at each call, so one replaced later (a test's
    fake failure) is the one called. Anything else is the adapter's own, through
    ``__getattr__`` (a coroutine method added later is counted too).
    """

    def __init__(self, inner: Any, counter: Counter, label: str) -> None:
        super().__init__(inner)
        self._errors = counter.labels(label)
        for name in dir(type(inner)):  # looked at statically: no property is run here
            method = inspect.getattr_static(type(inner), name)
            if not name.startswith("_") and inspect.iscoroutinefunction(method):
                setattr(self, name, self._counting(name))

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name.startswith("_") or not inspect.iscoroutinefunction(attr):
            return attr
        return self._counting(name)

    def _counting(self, name: str) -> Callable[..., Awaitable[Any]]:
        inner, errors = self._inner, self._errors

        async def counted(*args: Any, **kwargs: Any) -> Any:
            try:
                return await getattr(inner, name)(*args, **kwargs)
            except ServiceError:
                errors.inc()
                raise

        return counted


def counted_store(inner: Any, store: str) -> Any:
    """``inner`` with every StoreError it raises counted under ``store``."""
    return CountedStore(inner, STORE_ERRORS, store)


def counted_sink(inner: Any) -> Any:
    """The outgoing notification queue, its failures counted as ``forward`` failures."""
    return None if inner is None else CountedStore(inner, QUEUE_FAILURES, "forward")


def kind_label(kind: str) -> str:
    """A delivery event's kind as a label: the three that record, or ``other``."""
    lowered = kind.lower()
    return lowered if lowered in ("bounce", "complaint", "delivery") else "other"


def timed_providers(providers: Mapping[str, Any]) -> dict[str, Any]:
    """Each configured EmailProvider with its sends counted and timed."""
    return {name: TimedEmailProvider(provider) for name, provider in providers.items()}


def exposition() -> tuple[bytes, str]:
    """The text format of every metric, summed over processes in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def serve_metrics(host: str, port: int) -> Callable[[], None]:
    """Serve the registry over HTTP from a daemon thread (the worker's); return its stop."""
    server, thread = start_http_server(port, addr=host)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return stop
