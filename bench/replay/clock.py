"""Simulated time for the clock port: it moves only when the simulation moves it."""

from __future__ import annotations


class SimulatedClock:
    """A ``ports.clock.Clock`` whose time is set by the simulation, never by the wall."""

    def __init__(self, start_ms: int) -> None:
        self._now = start_ms

    def now_ms(self) -> int:
        return self._now

    def advance_to(self, when_ms: int) -> None:
        """Move to ``when_ms``; time never goes back (events are handled in order)."""
        if when_ms < self._now:
            raise ValueError(f"the clock cannot go back from {self._now} to {when_ms}")
        self._now = when_ms
