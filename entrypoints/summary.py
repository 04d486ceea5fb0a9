"""One request summary per request: a mozlog ``request.summary`` line and the HTTP metrics.

A pure ASGI middleware (docs/operations.md, logs). It takes the request id from
``X-Request-Id`` when that is a plain token, generates one otherwise, echoes it in the
response and sets dockerflow's request-id context so every log line of the request carries
it. The summary holds the method, the route (the template, e.g. ``/problems/{address}``,
so never an address), the status, the errno of an error response, the duration in
milliseconds and the request id; never a body, a header value other than the id, or a
query string. Health, metrics and document routes log at debug.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
from typing import Any

from dockerflow.logging import request_id_context
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.ids import random_hex
from adapters.metrics import REFUSALS, RELIER_REQUESTS, REQUEST_SECONDS, REQUESTS

logger = logging.getLogger("request.summary")
QUIET_ROUTES = frozenset(
    ("/__lbheartbeat__", "/__heartbeat__", "/__version__", "/__metrics__", "/__openapi__")
)
_MAX_CACHED = 1024
UNMATCHED = "unmatched"  # every path no route serves shares one label and one log value
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_summary_fields: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "request_summary_fields", default=None
)


def annotate(**fields: Any) -> None:
    """Add ``fields`` to the current request's summary (e.g. ``errno``); no-op outside one.

    Only bounded, caller-independent values belong here: an errno, a relier's id.
    """
    current = _summary_fields.get()
    if current is not None:
        current.update(fields)


def request_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's ``X-Request-Id`` when it is a plain token, else a new one."""
    for name, value in headers:
        if name.lower() == b"x-request-id":
            text = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(text):
                return text
            break
    return random_hex()


class RequestSummaryMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._templates: dict[Any, str] | None = None
        # Metric children by label values, looked up once: labels() takes a lock each time.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._refusals: dict[Any, Any] = {}
        self._reliers: dict[tuple[Any, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        rid = request_id(scope["headers"])
        rid_token = request_id_context.set(rid)
        fields: dict[str, Any] = {}
        fields_token = _summary_fields.set(fields)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            fields.setdefault("errno", 100)
            raise
        finally:
            self._summarise(scope, status, fields, rid, time.perf_counter() - start)
            _summary_fields.reset(fields_token)
            request_id_context.reset(rid_token)

    def _route(self, scope: Scope) -> str:
        if self._templates is None:
            app = scope.get("app")
            routes = getattr(app, "routes", ())
            self._templates = {getattr(r, "endpoint", None): r.path for r in routes}
        return self._templates.get(scope.get("endpoint"), UNMATCHED)

    def _summarise(
        self, scope: Scope, status: int, fields: dict[str, Any], rid: str, seconds: float
    ) -> None:
        route = self._route(scope)
        method = scope["method"]
        errno = fields.get("errno")
        children = self._children.get((route, method, status))
        if children is None:
            children = (REQUESTS.labels(route, method, str(status)), REQUEST_SECONDS.labels(route))
            if len(self._children) < _MAX_CACHED:  # methods are the caller's choice
                self._children[(route, method, status)] = children
        children[0].inc()
        children[1].observe(seconds)
        if errno is not None:
            refusals = self._refusals.get(errno)
            if refusals is None:
                refusals = self._refusals[errno] = REFUSALS.labels(str(errno))
            refusals.inc()
        if "relier" in fields:  # an authenticated caller's configured id: a bounded set
            relier = self._reliers.get((fields["relier"], status))
            if relier is None:
                relier = RELIER_REQUESTS.labels(fields["relier"], str(status))
                self._reliers[(fields["relier"], status)] = relier
            relier.inc()
        level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
        if logger.isEnabledFor(level):
            summary = {
                "method": method,
                "path": route,
                "code": status,
                "errno": errno if errno is not None else 0,
                "t": round(seconds * 1000, 1),
                "rid": rid,
                **{k: v for k, v in fields.items() if k != "errno"},
            }
            logger.log(level, "", extra=summary)
