"""The Clock port."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    """Wall-clock time, replaceable in tests."""

    def now_ms(self) -> int:
        """Milliseconds since the epoch."""
        ...
