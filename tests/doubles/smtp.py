"""An aiosmtpd server on a free port that keeps every message it accepts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.doubles.seen import SeenEmail, from_mime
from tests.doubles.tls import Certificates
from tests.servers import free_port


@dataclass
class Delivery:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


class RecordingHandler:
    """Keeps deliveries; ``reply`` replaces the answer to DATA (e.g. ``"554 5.7.1 no"``)."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.reply: str | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.reply is not None:
            return self.reply
        self.deliveries.append(
            Delivery(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
        )
        return "250 2.0.0 OK"


class SmtpDouble:
    def __init__(self, controller: Controller, handler: RecordingHandler) -> None:
        self.controller = controller
        self.handler = handler
        self.port = controller.port

    @property
    def deliveries(self) -> list[Delivery]:
        return self.handler.deliveries

    def seen(self, message_id: str) -> SeenEmail:
        """The delivery whose Message-ID header is ``message_id`` (brackets optional)."""
        for delivery in self.deliveries:
            parsed = message_from_bytes(delivery.content, policy=policy.default)
            if str(parsed["Message-ID"]).strip("<>") == message_id.strip("<>"):
                return from_mime(delivery.content, message_id, envelope=delivery.rcpt_tos)
        raise AssertionError(f"no message {message_id!r} among {len(self.deliveries)}")


def _authenticator(user: str, password: str) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            user.encode(),
            password.encode(),
        )
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    return check


@contextmanager
def smtp_server(
    security: str = "none",
    certificates: Certificates | None = None,
    credentials: tuple[str, str] | None = None,
) -> Iterator[SmtpDouble]:
    """``security``: none, starttls (required) or tls (implicit, from the first byte)."""
    handler = RecordingHandler()
    kwargs: dict[str, Any] = {}
    if security != "none":
        assert certificates is not None
        context = certificates.server_context()
        if security == "tls":
            kwargs["ssl_context"] = context
        else:
            kwargs.update(tls_context=context, require_starttls=True)
    if credentials is not None:
        kwargs["authenticator"] = _authenticator(*credentials)
        if security == "tls":
            # aiosmtpd only counts STARTTLS as TLS: on an implicit TLS connection it would
            # never offer AUTH, so let it offer AUTH (the connection is encrypted anyway).
            kwargs["auth_require_tls"] = False
        else:
            kwargs["auth_required"] = True
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    try:
        yield SmtpDouble(controller, handler)
    finally:
        controller.stop()
