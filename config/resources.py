"""Clients holding connections, closed once, by the container that created them.

Each client (the SQLite database, the Redis connection, an HTTP client inside a store or a
provider, the SQS connection) is registered when the container builds it, and only then:
``serve`` and ``queues`` close exactly what they used, however many adapters share it.
dependency-injector's own ``Resource`` provider would do this, but its shutdown can only be
asynchronous when its start is, and an asynchronous start makes every provider depending on
it return awaitables: the app and the worker would resolve the whole graph with ``await``.
"""

from __future__ import annotations

import logging
from typing import TypeVar

from ports.health import Closable

logger = logging.getLogger(__name__)
_T = TypeVar("_T")


class Resources:
    """What this process opened, closed in reverse order by ``aclose``."""

    def __init__(self) -> None:
        self._open: list[tuple[str, Closable]] = []

    def own(self, name: str, client: _T) -> _T:
        """Register ``client`` (when it holds connections) under ``name``, for the logs."""
        if isinstance(client, Closable) and all(c is not client for _, c in self._open):
            self._open.append((name, client))
        return client

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self._open]

    async def aclose(self) -> None:
        """Close each client once, newest first; a failure is logged and the rest still close."""
        while self._open:
            name, client = self._open.pop()
            try:
                await client.aclose()
            except Exception:  # noqa: BLE001 - closing must not stop the other closes
                logger.exception("closing %s failed", name)


def owned(resources: Resources, name: str, client: _T) -> _T:
    """``client``, registered with ``resources``: for a container's Singleton providers."""
    return resources.own(name, client)


def owned_each(resources: Resources, prefix: str, clients: dict[str, _T]) -> dict[str, _T]:
    """Every client of ``clients``, each registered as ``<prefix>.<name>``."""
    return {name: resources.own(f"{prefix}.{name}", c) for name, c in clients.items()}
