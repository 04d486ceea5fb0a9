"""Shared pytest set-up: coroutine tests run on asyncio through anyio's plugin (auto mode)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.doubles.sns import SnsDouble
from tests.doubles.tls import Certificates, make_certificates
from tests.servers import MotoServer, free_port, moto_server, wait_until_listening


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


class PrivateRedis:
    """A redis-server of the test's own on a free port, killed and restarted at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--logfile", ""],
            stdout=subprocess.DEVNULL,
        )
        wait_until_listening(self.port, self.process, timeout=10)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A running private Redis; the test may kill it and start it again on the same port."""
    server = PrivateRedis()
    server.start()
    yield server
    server.kill()


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """The tests' own certificate authority and a server certificate for 127.0.0.1."""
    return make_certificates(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def sns(certificates: Certificates) -> Iterator[SnsDouble]:
    """SNS's signing certificate and subscription confirmations over local HTTPS."""
    with SnsDouble(certificates) as double:
        yield double
