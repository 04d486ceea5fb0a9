"""Every connection is bounded (docs/api.md, errors): deadlines for headers and body, a cap
on the header block, idle keep-alive connections closed, a cap on open connections."""

from __future__ import annotations

import json
import pickle
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from entrypoints.connections import ConnectionLimits, server_options
from entrypoints.http import create_app
from tests.http_app import make_container
from tests.servers import free_port
from tests.waiting import wait_for

LIMITS = ConnectionLimits(
    header_timeout=0.5,
    body_timeout=0.5,
    max_header_bytes=4096,
    keep_alive=0.3,
    max_connections=3,
)
SEND = b'{"to": "foo@example.com", "subject": "s", "body": {"text": "t"}}'


class Server:
    def __init__(self, limits: ConnectionLimits) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            create_app(make_container()),
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="off",
            **server_options(limits),
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)


@contextmanager
def running(limits: ConnectionLimits) -> Iterator[Server]:
    server = Server(limits)
    server.thread.start()
    wait_for(lambda: server.server.started, 10, "the service to start")
    try:
        yield server
    finally:
        server.server.should_exit = True
        server.thread.join(10)


@pytest.fixture
def server() -> Iterator[Server]:
    with running(LIMITS) as server:
        yield server


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection (the socket's 10 s timeout fails)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def parse(raw: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, json.loads(body) if body else None


def request(body: bytes = SEND, length: int | None = None, extra: bytes = b"") -> bytes:
    return (
        b"POST /send HTTP/1.1\r\nHost: service\r\nContent-Type: application/json\r\n"
        + extra
        + b"Content-Length: %d\r\n\r\n" % (len(body) if length is None else length)
        + body
    )


def test_a_complete_request_is_served(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(request(extra=b"Connection: close\r\n"))
        status, _, body = parse(read_all(sock))
    assert status == 200 and body["messageId"].startswith("mock:")


def test_headers_that_do_not_arrive_in_time_are_408(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(b"POST /send HTTP/1.1\r\nHost: service\r\n")
        status, headers, body = parse(read_all(sock))
    assert (status, body["code"], body["errno"]) == (408, 408, 126)
    assert headers["connection"] == "close"


def test_a_body_shorter_than_its_content_length_is_408(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(request(length=len(SEND) + 100))
        status, _, body = parse(read_all(sock))
    assert (status, body["errno"], body["error"]) == (408, 126, "Request Timeout")


def test_a_connection_that_sends_nothing_is_closed(server: Server) -> None:
    with server.connect() as sock:
        assert read_all(sock) == b""


def test_a_header_block_over_the_limit_is_431_before_it_ends(server: Server) -> None:
    with server.connect() as sock:
        # Never finished: before, the parser buffered it (32 MiB blocks took 96 MB) and waited.
        sock.sendall(b"POST /send HTTP/1.1\r\nHost: service\r\nX-Big: " + b"a" * 8192)
        status, _, body = parse(read_all(sock))
    assert (status, body["code"], body["errno"]) == (431, 431, 121)


def test_a_header_block_within_the_limit_is_served(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(request(extra=b"X-Fill: " + b"f" * 3500 + b"\r\nConnection: close\r\n"))
        status, _, _ = parse(read_all(sock))
    assert status == 200


def test_an_idle_keep_alive_connection_is_closed(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(request())
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        assert read_all(sock) == b""  # closed after keep_alive, not left open


def served(server: Server) -> bool:
    with server.connect() as sock:
        sock.sendall(request(extra=b"Connection: close\r\n"))
        return parse(read_all(sock))[0] == 200


def test_the_connection_over_the_limit_is_503() -> None:
    with running(ConnectionLimits(max_connections=3)) as server:
        held = [server.connect() for _ in range(3)]
        try:
            for sock in held:  # each answered, then idle in keep-alive
                sock.sendall(b"GET /__lbheartbeat__ HTTP/1.1\r\nHost: service\r\n\r\n")
                assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            with server.connect() as sock:
                sock.sendall(request())
                status, headers, body = parse(read_all(sock))
            held.pop().close()
            wait_for(lambda: served(server), 10, "a freed place to serve a request")
        finally:
            for sock in held:
                sock.close()
    assert (status, body["code"], body["errno"]) == (503, 503, 127)
    assert headers["retry-after"] == "1" and headers["content-type"] == "application/json"


def test_the_protocol_option_pickles_for_worker_processes() -> None:
    # uvicorn hands its config to each worker process; a class made on the fly would not.
    options = server_options(LIMITS)
    protocol = pickle.loads(pickle.dumps(options["http"]))
    assert protocol.keywords == {"limits": LIMITS}
