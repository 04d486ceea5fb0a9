"""SMTP: the shared MIME message through aiosmtplib, optionally over STARTTLS or TLS."""

from __future__ import annotations

import logging
import ssl
from typing import Literal

import aiosmtplib

from adapters.providers.mime import MimeWriter
from domain.errors import ProviderError
from domain.model import Email, Sender

logger = logging.getLogger(__name__)

Security = Literal["none", "starttls", "tls"]


class SmtpEmailProvider:
    """One connection per email (relays close idle connections anyway).

    The message id is the ``Message-ID`` header this service set, without angle brackets.
    """

    name = "smtp"

    def __init__(
        self,
        sender: Sender,
        host: str,
        port: int,
        timeout: float,
        security: Security = "none",
        user: str | None = None,
        password: str | None = None,
        cafile: str | None = None,
    ) -> None:
        self._sender = sender
        self._writer = MimeWriter(sender)
        self._host = host
        self._port = port
        self._timeout = timeout
        self._security = security
        self._user = user
        self._password = password
        self._tls_context = (
            ssl.create_default_context(cafile=cafile) if security != "none" else None
        )

    async def send(self, email: Email) -> str:
        message_id = self._writer.new_message_id()
        raw = await self._writer.render(email, message_id)
        try:
            refused, _ = await aiosmtplib.send(
                raw,
                sender=self._sender.address,
                recipients=list(email.recipients),
                hostname=self._host,
                port=self._port,
                username=self._user,
                password=self._password,
                timeout=self._timeout,
                use_tls=self._security == "tls",
                start_tls=self._security == "starttls",
                tls_context=self._tls_context,
            )
        except aiosmtplib.SMTPResponseException as exc:
            # The code only: the server's text may quote recipients.
            raise ProviderError(f"smtp refused the message: {exc.code}", name=self.name) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise ProviderError(f"smtp failed: {type(exc).__name__}", name=self.name) from exc
        if refused:
            # Some recipients were accepted, so the email went out: the answer must be success.
            logger.warning("smtp refused %d of %d recipients", len(refused), len(email.recipients))
        return message_id.strip("<>")
