"""Sendgrid: the v3 mail send API through the sendgrid library, in a bounded worker thread."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio

from adapters.providers.reply_to import split_reply_to
from domain.addresses import distinct_cc
from domain.errors import ProviderError
from domain.model import Email, Sender

if TYPE_CHECKING:
    from python_http_client.exceptions import HTTPError

logger = logging.getLogger(__name__)


def mail_body(email: Email, sender: Sender) -> dict[str, Any]:
    """The v3 ``/mail/send`` JSON for ``email``: the same parts and headers as the MIME one."""
    # Sendgrid refuses an address that appears twice in one personalization.
    cc = distinct_cc(email.to, email.cc)
    personalization: dict[str, Any] = {"to": [{"email": email.to}]}
    if cc:
        personalization["cc"] = [{"email": address} for address in cc]
    content = [{"type": "text/plain", "value": email.text}]
    if email.html is not None:
        content.append({"type": "text/html", "value": email.html})
    body: dict[str, Any] = {
        "personalizations": [personalization],
        "from": _address(sender.address, sender.name),
        "subject": email.subject,
        "content": content,
    }
    # Reply-To is one of Sendgrid's reserved headers: it has its own fields instead.
    reply_to, headers = split_reply_to(email.headers)
    if len(reply_to) == 1:
        body["reply_to"] = _address(reply_to[0][1], reply_to[0][0])
    elif reply_to:
        body["reply_to_list"] = [_address(address, name) for name, address in reply_to]
    if headers:
        body["headers"] = dict(headers)
    return body


def _address(address: str, name: str = "") -> dict[str, str]:
    return {"email": address, "name": name} if name else {"email": address}


class SendgridEmailProvider:
    """One API client per process; the message id is the ``X-Message-Id`` response header."""

    name = "sendgrid"

    def __init__(
        self,
        sender: Sender,
        api_key: str,
        baseuri: str,
        timeout: float,
        max_concurrency: int = 10,
    ) -> None:
        self._sender = sender
        self._timeout = timeout
        self._limiter = anyio.CapacityLimiter(max_concurrency)
        # Imported only when Sendgrid is configured: the library costs ~10 MB otherwise.
        from sendgrid import SendGridAPIClient

        self._client = SendGridAPIClient(api_key=api_key, host=baseuri.rstrip("/"))
        # python_http_client logs request headers (the API key) and payloads at debug level.
        logging.getLogger("python_http_client").setLevel(logging.INFO)

    def _post(self, body: dict[str, Any]) -> Any:
        return self._client.client.mail.send.post(request_body=body, timeout=self._timeout)

    async def send(self, email: Email) -> str:
        from python_http_client.exceptions import HTTPError  # loaded with the client

        body = mail_body(email, self._sender)
        try:
            response = await anyio.to_thread.run_sync(self._post, body, limiter=self._limiter)
        except HTTPError as exc:
            raise ProviderError(
                f"sendgrid refused the message (HTTP {exc.status_code}): {_first_error(exc)}",
                name=self.name,
            ) from exc
        except (OSError, ValueError) as exc:  # URLError, socket timeouts, refused connections
            raise ProviderError(f"sendgrid failed: {type(exc).__name__}", name=self.name) from exc
        message_id = response.headers.get("X-Message-Id")
        if response.status_code >= 300 or not message_id:
            raise ProviderError(
                f"sendgrid answered HTTP {response.status_code} without a message id",
                name=self.name,
            )
        return str(message_id)

    async def aclose(self) -> None:
        """Nothing to release: the library opens one connection per request."""


def _first_error(exc: HTTPError) -> str:
    """Sendgrid's own explanation (``{"errors": [{"message": ...}]}``), never the request."""
    try:
        errors = exc.to_dict.get("errors") or []
        return str(errors[0].get("message", "no message"))[:200]
    except (ValueError, AttributeError, IndexError, TypeError):
        return "no explanation"
