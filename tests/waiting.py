"""Waiting for something to happen: poll a condition until a deadline, then fail loudly.

The one place the tests (and the benchmarks that share their helpers) pause between
attempts; nothing waits for a fixed time and hopes.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any, TypeVar

import anyio

T = TypeVar("T")
POLL_SECONDS = 0.02


def _arrived(result: object) -> bool:
    return result is not None and result is not False


def wait_for(attempt: Callable[[], T | None], timeout: float, what: str) -> T:
    """Call ``attempt`` until it returns something other than None or False; return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = attempt()
        if _arrived(result):
            return result  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout}s waiting for {what}")
        time.sleep(POLL_SECONDS)


async def eventually(
    attempt: Callable[[], Any],
    timeout: float = 15,
    what: str = "",
    retry_on: tuple[type[Exception], ...] = (),
) -> Any:
    """The same in async code: ``attempt`` may be a coroutine function. An exception in
    ``retry_on`` counts as "not yet"; the last one is raised again at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = attempt()
            if inspect.isawaitable(result):
                result = await result
        except retry_on:
            if time.monotonic() > deadline:
                raise
        else:
            if _arrived(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up after {timeout}s waiting for {what or attempt}")
        await anyio.sleep(POLL_SECONDS)
