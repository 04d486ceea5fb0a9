"""The Starlette app: `POST /send`, JSON errors for every failure, health endpoints."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Mapping
from http import HTTPStatus
from importlib import metadata as importlib_metadata
from importlib import resources
from pathlib import Path
from typing import Any

import anyio
import yaml
from dockerflow.checks import Error, run_checks_async
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.metrics import exposition
from config.container import Container, health_checks, shutdown
from domain.errors import (
    AccountsDbError,
    BodyTooLarge,
    ComplaintLimitViolation,
    HardBounceLimitViolation,
    InternalError,
    InvalidPayload,
    MethodNotAllowed,
    ProviderError,
    RateLimited,
    RecordsNotClearable,
    RouteNotFound,
    ServiceError,
    SoftBounceLimitViolation,
    StoreError,
    Unauthorized,
    UnknownProvider,
    UnsupportedMediaType,
    UnverifiedEvent,
)
from domain.reliers import Authenticator
from domain.sending import SendEmail
from entrypoints.events import EventEndpoint, EventEndpoints
from entrypoints.requests import parse_send_request
from entrypoints.summary import RequestSummaryMiddleware, annotate
from entrypoints.support import support_routes

logger = logging.getLogger(__name__)
HEALTH_TIMEOUT_SECONDS = 5.0


# The HTTP status each errno is answered with (docs/api.md); an errno not listed is a 500.
HTTP_STATUS: Mapping[int, int] = {
    InternalError.errno: 500,
    InvalidPayload.errno: 400,
    UnknownProvider.errno: 400,
    ProviderError.errno: 500,
    ComplaintLimitViolation.errno: 429,
    SoftBounceLimitViolation.errno: 429,
    HardBounceLimitViolation.errno: 429,
    AccountsDbError.errno: 500,
    StoreError.errno: 500,
    BodyTooLarge.errno: 413,
    UnsupportedMediaType.errno: 415,
    RouteNotFound.errno: 404,  # MethodNotAllowed shares it, answered 405 by Starlette's word
    Unauthorized.errno: 401,
    RateLimited.errno: 429,
    UnverifiedEvent.errno: 403,
    RecordsNotClearable.errno: 409,
}

# Store errors carry hosts, ports and database names for the logs; callers get the errno.
_PUBLIC_MESSAGES = {
    AccountsDbError.errno: "the accounts database failed",
    StoreError.errno: "the service's store failed",
}


def http_status(error: ServiceError) -> int:
    """The HTTP status ``error`` is answered with."""
    return HTTP_STATUS.get(error.errno, 500)


def error_response(
    error: ServiceError, headers: Mapping[str, str] | None = None, status: int | None = None
) -> Response:
    """The JSON error body of docs/api.md; ``status`` overrides the errno's own status."""
    status = http_status(error) if status is None else status
    body: dict[str, Any] = {
        "code": status,
        "errno": error.errno,
        "error": HTTPStatus(status).phrase,
        "message": _PUBLIC_MESSAGES.get(error.errno, error.message),
        **error.extra,
    }
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if "retryAfter" in error.extra:
        headers["Retry-After"] = str(error.extra["retryAfter"])
    annotate(errno=error.errno)
    # ensure_ascii: a field name echoed from the request may hold a lone surrogate.
    return Response(json.dumps(body), status, headers, "application/json")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it exceeds ``limit`` bytes."""
    return await read_asgi_body(request.receive, request.headers.get("content-length"), limit)


async def read_asgi_body(receive: Receive, declared: str | bytes | None, limit: int) -> bytes:
    """The request body from ASGI ``receive``, refused (413) as soon as it exceeds ``limit``
    bytes; ``declared`` is the Content-Length header's value, if any. Raises
    ``ClientDisconnect`` when the client leaves before the body is complete."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"body: larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"body: larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def event_routes(container: Container, max_body: int) -> list[Route]:
    """POST /events/<provider> (docs/events.md): bodies bounded as /send's; whatever does
    not verify answers a generic 403 errno 128, the reason going to the log only."""
    endpoints = EventEndpoints(
        container.handle_delivery_event(),
        container.sns_verifier(),
        container.sendgrid_verifier(),
        container.socketlabs_verifier(),
        container.settings().sender.address,
    )

    def route(path: str, endpoint: EventEndpoint) -> Route:
        async def receive(request: Request) -> Response:
            try:
                return await endpoint(request.headers, await read_body(request, max_body))
            except UnverifiedEvent as error:
                logger.warning("%s refused: %s", path, error.message)
                return error_response(UnverifiedEvent("the event does not verify"))
            except ServiceError as error:
                if http_status(error) >= 500:
                    logger.error("%s failed: errno %s: %s", path, error.errno, error.message)
                return error_response(error)
            except Exception:
                logger.exception("%s failed unexpectedly", path)
                return error_response(InternalError("internal error"))

        return Route(path, receive, methods=["POST"])

    return [route(path, endpoint) for path, endpoint in endpoints.routes().items()]


class SendEndpoint:
    """``POST /send`` as a plain ASGI app (docs/performance.md): no Request or Response
    object on the way of a send, only for an error's answer."""

    def __init__(
        self,
        send_email: SendEmail,
        authenticator: Authenticator,
        max_body: int,
        max_recipients: int,
    ) -> None:
        self._send_email = send_email
        self._authenticator = authenticator
        self._max_body = max_body
        self._max_recipients = max_recipients

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        authorization = content_type = declared = None
        for name, value in scope["headers"]:  # lower case, as ASGI servers give them
            if name == b"authorization":
                if authorization is None:
                    authorization = value.decode("latin-1")
            elif name == b"content-type":
                if content_type is None:
                    content_type = value
            elif name == b"content-length":
                if declared is None:
                    declared = value
        try:
            relier = self._authenticator.relier(authorization)
            annotate(relier=relier)  # the request summary and the per-relier metric
            if content_type is None or not _is_json_type(content_type):
                raise UnsupportedMediaType("content-type: expected application/json")
            raw = await read_asgi_body(receive, declared, self._max_body)
            command = parse_send_request(raw, self._max_recipients, relier)
            result = await self._send_email(command)
        except ClientDisconnect:
            # The client left (or the connection's body deadline ended it): nobody to answer,
            # nothing went wrong here.
            logger.info("client disconnected before its request body was complete")
            await Response(status_code=408)(scope, receive, send)
            return
        except ServiceError as error:
            if http_status(error) >= 500:
                logger.error("send failed: errno %s: %s", error.errno, error.message)
            await error_response(error)(scope, receive, send)
            return
        except Exception:
            logger.exception("send failed unexpectedly")
            await error_response(InternalError("internal error"))(scope, receive, send)
            return
        if result.skipped:
            answer: dict[str, Any] = {"messageId": result.message_id}
            answer["skipped"] = [{"address": s.address, "errno": s.errno} for s in result.skipped]
            body = _json_body(answer)
        else:
            body = _message_id_body(result.message_id)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


_PLAIN_ID = re.compile(r"[A-Za-z0-9_.:@<>+=/-]{1,200}")


def _message_id_body(message_id: str) -> bytes:
    """``{"messageId": ...}`` as JSONResponse writes it, without the encoder for plain ids."""
    if _PLAIN_ID.fullmatch(message_id):
        return b'{"messageId":"' + message_id.encode("ascii") + b'"}'
    return _json_body({"messageId": message_id})


def _json_body(content: Any) -> bytes:
    """What Starlette's JSONResponse writes."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def _is_json_type(content_type: bytes) -> bool:
    return content_type.split(b";", 1)[0].strip().lower() == b"application/json"


class SendFirst:
    """Middleware that hands ``POST /send`` to its endpoint before Starlette's exception
    middleware and router, which it would otherwise pass through on every send; every other
    request (``GET /send``'s 405 included) goes the usual way."""

    def __init__(self, app: ASGIApp, endpoint: SendEndpoint) -> None:
        self.app = app
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/send":
            if not scope.get("root_path"):
                scope["endpoint"] = self.endpoint  # the request summary's route template
                await self.endpoint(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(container: Container) -> Starlette:
    settings = container.settings()
    max_body = settings.limits.maxbody
    send = SendEndpoint(
        container.send_email(),
        container.authenticator(),
        max_body,
        settings.limits.maxrecipients,
    )

    async def lbheartbeat(request: Request) -> Response:
        return JSONResponse({})

    async def heartbeat(request: Request) -> Response:
        results = await run_checks_async(
            [(name, _as_dockerflow_check(name, ping)) for name, ping in health_checks(container)]
        )
        status = "ok" if results.level < Error.level else "error"
        body = {"status": status, "checks": results.statuses, "details": results.details}
        return JSONResponse(body, status_code=200 if status == "ok" else 500)

    async def version(request: Request) -> Response:
        return JSONResponse(_version(settings.versionfile))

    openapi_document = openapi_json()

    async def openapi(request: Request) -> Response:
        return Response(openapi_document, media_type="application/json")

    async def metrics(request: Request) -> Response:
        body, content_type = exposition()
        return Response(body, headers={"Content-Type": content_type})

    async def not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            return error_response(
                MethodNotAllowed(f"{request.method} is not allowed here"), exc.headers, 405
            )
        if exc.status_code == 404:
            return error_response(RouteNotFound(f"no route {request.url.path}"))
        return error_response(ServiceError(str(exc.detail)))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await shutdown(container)

    app = Starlette(
        routes=[
            Route("/send", send, methods=["POST"]),
            *event_routes(container, max_body),
            Route("/__lbheartbeat__", lbheartbeat, methods=["GET", "HEAD"]),
            Route("/__heartbeat__", heartbeat, methods=["GET", "HEAD"]),
            Route("/__version__", version, methods=["GET", "HEAD"]),
            Route("/__metrics__", metrics, methods=["GET"]),
            Route("/__openapi__", openapi, methods=["GET"]),
            *support_routes(container),
        ],
        exception_handlers={HTTPException: not_found},
        middleware=[Middleware(RequestSummaryMiddleware), Middleware(SendFirst, endpoint=send)],
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # /send/ is a 404, not a redirect built from Host
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document kept beside this module (entrypoints/openapi.yaml)."""
    text = resources.files("entrypoints").joinpath("openapi.yaml").read_text("utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def openapi_json() -> bytes:
    return json.dumps(openapi_document(), separators=(",", ":")).encode()


def _as_dockerflow_check(name: str, ping: Any) -> Any:
    """A check that names ``name`` and a generic reason; hosts, users, ports and driver
    messages go to the log only (docs/operations.md)."""

    async def check() -> list[Error]:
        try:
            with anyio.fail_after(HEALTH_TIMEOUT_SECONDS):
                await ping()
        except TimeoutError:
            logger.warning("heartbeat: %s did not answer in %ss", name, HEALTH_TIMEOUT_SECONDS)
            return [Error(f"{name} did not answer in time", id=f"{name}.timeout")]
        except ServiceError as error:
            logger.warning("heartbeat: %s failed: %s", name, error.message)
            return [Error(f"{name} is unavailable", id=f"{name}.failed")]
        except Exception:  # noqa: BLE001 - a health check reports, never raises
            logger.exception("heartbeat: %s failed unexpectedly", name)
            return [Error(f"{name} is unavailable", id=f"{name}.failed")]
        return []

    return check


VERSION_KEYS = ("source", "version", "commit", "build")


def _version(versionfile: str | None) -> dict[str, str]:
    """The deployment's version.json: setting ``versionfile``, else ./version.json.

    Never looked for beside the code, which is site-packages in an installed service.
    Without one, the installed package's version (docs/operations.md).
    """
    path = Path(versionfile) if versionfile else Path.cwd() / "version.json"
    try:
        found = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        found = None
    except (OSError, ValueError) as error:
        logger.warning("%s cannot be read: %s", path, type(error).__name__)
        found = None
    if isinstance(found, dict):
        return {key: str(found.get(key, "")) for key in VERSION_KEYS}
    try:
        version = importlib_metadata.version("fxa-email-service")
    except importlib_metadata.PackageNotFoundError:
        version = "unknown"
    return {
        "source": "fxa-email-service",
        "version": version,
        "commit": "unknown",
        "build": "unknown",
    }
