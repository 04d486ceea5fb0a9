"""The HealthCheck port: what /__heartbeat__ asks each configured dependency."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class HealthCheck(Protocol):
    """An adapter that can tell whether its dependency answers."""

    async def ping(self) -> None:
        """Return when the dependency answers; raise any exception when it does not."""
        ...


@runtime_checkable
class Closable(Protocol):
    """An adapter holding connections, closed once when its process stops."""

    async def aclose(self) -> None:
        """Release connections and pools. Called once; the adapter is not used after."""
        ...
