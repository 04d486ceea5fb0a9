"""Shared pytest set-up: coroutine tests run on asyncio through anyio's plugin (auto mode)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import MotoServer, moto_server


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def moto_session() -> Iterator[MotoServer]:
    """One moto server per test session (it takes ~2 s to start)."""
    with moto_server() as server:
        yield server


@pytest.fixture
def moto(moto_session: MotoServer) -> MotoServer:
    """moto's server with all state cleared before the test."""
    moto_session.reset()
    return moto_session
