"""Network failures on demand: a port nobody listens on, a server that never answers."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from tests.servers import free_port


def refused_port() -> int:
    """A loopback port with nothing listening: connecting is refused at once."""
    return free_port()


@contextmanager
def silent_server() -> Iterator[int]:
    """A port whose connections complete (the kernel's backlog) but never get an answer."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield int(sock.getsockname()[1])
