"""Bounds on every HTTP connection, in uvicorn's httptools protocol (docs/api.md, errors).

uvicorn bounds only idle keep-alive connections: headers and bodies may trickle for ever,
and httptools buffers a header block of any size. This protocol adds, per connection:
a deadline for the request's headers and one for its body (408 errno 126 while an answer is
still possible), a cap on the header block counted as bytes arrive (431, nothing buffered
past it), and a cap on open connections (503 errno 127). On shutdown a request whose body
has not arrived is answered 503 and closed instead of being waited for.

Done here, not in ASGI middleware: the app sees a request only once its headers are parsed,
and it cannot close a connection the parser is still buffering.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from config.settings import LimitsSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """``limits.*`` of docs/configuration.md, in seconds and bytes."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_header_bytes: int = 65536
    keep_alive: float = 5.0
    max_connections: int = 1000


RETRY_AFTER_SECONDS = 1


def _error(status: int, reason: str, errno: int, message: str, retry_after: int | None) -> bytes:
    body = json.dumps(
        {"code": status, "errno": errno, "error": reason, "message": message}
    ).encode()
    head = [
        f"HTTP/1.1 {status} {reason}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
    ]
    if retry_after is not None:
        head.append(f"retry-after: {retry_after}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines and size and connection caps."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        limits: ConnectionLimits = ConnectionLimits(),  # noqa: B008 - frozen, shared
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        # A deadline is a time on the loop's clock, checked by one sweep for all connections:
        # a timer armed and cancelled per request cost ~10 % of the bare throughput here.
        self._deadline: float | None = None
        self._on_deadline: Callable[[], None] | None = None
        self._header_room = self.limits.max_header_bytes
        self._reading_headers = True
        self._request_begun = False

    # Connection life
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        over = len(self.connections) >= self.limits.max_connections
        super().connection_made(transport)
        if over:
            logger.warning(
                "at the connection limit (%d): answering 503", self.limits.max_connections
            )
            self.app = _at_capacity
        self._arm(self.limits.header_timeout, self._headers_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        while self._reading_headers and len(data) > self._header_room:
            # Feed the parser no more than the header block may still hold: httptools would
            # otherwise buffer a header of any length before calling back.
            room = self._header_room
            head, data = data[:room], data[room:]
            self._header_room = 0
            if head:
                super().data_received(head)
            if self.transport.is_closing():
                return
            if self._reading_headers:
                self._refuse(
                    431,
                    "Request Header Fields Too Large",
                    121,
                    f"request headers larger than {self.limits.max_header_bytes} bytes",
                )
                return
        if self._reading_headers:
            self._header_room -= len(data)
        super().data_received(data)

    # Parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._request_begun = True
        if self._deadline is None:  # a keep-alive connection's next request
            self._arm(self.limits.header_timeout, self._headers_too_slow)

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._arm(self.limits.body_timeout, self._body_too_slow)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._reading_headers = True
        self._request_begun = False
        self._header_room = self.limits.max_header_bytes
        super().on_message_complete()

    def shutdown(self) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and cycle.more_body:
            # Its body has not arrived: that is no work in flight to finish, only a wait.
            self._refuse(
                503, "Service Unavailable", 127, "the service is stopping", RETRY_AFTER_SECONDS
            )
            return
        super().shutdown()

    # Deadlines
    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        self._deadline = self.loop.time() + seconds
        self._on_deadline = callback
        state = self.server_state
        if not getattr(state, _SWEEPING, False):
            setattr(state, _SWEEPING, True)  # one sweep per server, on its state
            every = min(0.5, self.limits.header_timeout / 5, self.limits.body_timeout / 5)
            self.loop.call_later(every, _sweep, self.loop, state, every)

    def _disarm(self) -> None:
        self._deadline = None

    def _headers_too_slow(self) -> None:
        if not self._request_begun:
            self.transport.close()  # not a byte of a request: nobody to answer
        else:
            self._refuse(
                408, "Request Timeout", 126, "the request's headers did not arrive in time"
            )

    def _body_too_slow(self) -> None:
        self._refuse(408, "Request Timeout", 126, "the request's body did not arrive in time")

    def _refuse(
        self, status: int, reason: str, errno: int, message: str, retry_after: int | None = None
    ) -> None:
        """Answer ``status`` where an answer is still possible, then close the connection.

        While a request's headers are read, the answer is its only one. Once they were read,
        only if the app has not started its own answer (which then goes nowhere); after a
        complete answer, a late body is simply cut off.
        """
        self._disarm()
        answer = self._reading_headers
        cycle = self.cycle
        if not self._reading_headers and cycle is not None and not cycle.response_complete:
            answer = not cycle.response_started
            cycle.disconnected = True
            cycle.message_event.set()
        if not self.transport.is_closing():
            if answer:
                self.transport.write(_error(status, reason, errno, message, retry_after))
            self.transport.close()


_SWEEPING = "_bounded_connections_sweeping"


def _sweep(loop: asyncio.AbstractEventLoop, state: ServerState, every: float) -> None:
    """Fire the deadlines that have passed; again in ``every`` seconds while connections
    are open."""
    now = loop.time()
    for connection in list(state.connections):
        if not isinstance(connection, BoundedHttpToolsProtocol):
            continue
        deadline, callback = connection._deadline, connection._on_deadline
        if deadline is not None and now >= deadline and callback is not None:
            connection._deadline = None
            callback()
    if state.connections:
        loop.call_later(every, _sweep, loop, state, every)
    else:
        setattr(state, _SWEEPING, False)


async def _at_capacity(scope: Any, receive: Any, send: Any) -> None:
    """The app a connection over ``max_connections`` gets: 503 errno 127, then close."""
    body = json.dumps(
        {
            "code": 503,
            "errno": 127,
            "error": "Service Unavailable",
            "message": "the service is at its connection limit",
        }
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def connection_limits(settings: LimitsSettings) -> ConnectionLimits:
    return ConnectionLimits(
        header_timeout=settings.headertimeout,
        body_timeout=settings.bodytimeout,
        max_header_bytes=settings.maxheaderbytes,
        keep_alive=settings.keepalive,
        max_connections=settings.maxconnections,
    )


def server_options(limits: ConnectionLimits) -> dict[str, Any]:
    """uvicorn.Config keyword arguments that bound every connection by ``limits``.

    A partial of a module-level class, so the config still pickles for worker processes.
    """
    protocol = partial(BoundedHttpToolsProtocol, limits=limits)
    return {"http": protocol, "timeout_keep_alive": limits.keep_alive}
