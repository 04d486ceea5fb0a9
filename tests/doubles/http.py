"""A small JSON API server on a free loopback port, run in a thread for the tests' lifetime."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from tests.servers import wait_until_listening


class ServerThread:
    """A stdlib HTTP server on 127.0.0.1, served by a daemon thread between start and stop."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], scheme: str = "http") -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> Self:
        self._thread.start()
        wait_until_listening(self.port, None, timeout=5)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-serialisable, or bytes sent as they are
    headers: dict[str, str] | None = None
    content_type: str = "application/json"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class HttpDouble(ServerThread):
    """Subclasses implement ``answer``. ``scripted`` forces every reply (a 5xx, a 429 ...)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.scripted: Reply | None = None
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Received(self.path, dict(self.headers.items()), self.rfile.read(length))
                double.received.append(request)
                reply = double.scripted or double.answer(request)
                if isinstance(reply.body, bytes):
                    payload = reply.body
                else:
                    payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                for name, value in (reply.headers or {}).items():
                    self.send_header(name, value)
                if payload:
                    self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(Handler)

    def answer(self, request: Received) -> Reply:
        raise NotImplementedError


class ScriptedServer(HttpDouble):
    """Answers every request with one fixed reply; counts the attempts."""

    def __init__(self, reply: Reply) -> None:
        super().__init__()
        self.scripted = reply
