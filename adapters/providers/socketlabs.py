"""SocketLabs: the Injection API (v1 ``/email``) over one shared httpx.AsyncClient."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import httpx

from adapters.providers.reply_to import split_reply_to
from domain.errors import ProviderError
from domain.model import Email, Sender

logger = logging.getLogger(__name__)


def injection_body(email: Email, sender: Sender, server_id: int, api_key: str) -> dict[str, Any]:
    """The PostBody of the Injection API for one message carrying our own ``MessageId``."""
    message: dict[str, Any] = {
        "To": [{"EmailAddress": email.to}],
        "From": _address(sender.address, sender.name),
        "Subject": email.subject,
        "TextBody": email.text,
        "Charset": "UTF-8",
    }
    if email.cc:
        message["Cc"] = [{"EmailAddress": address} for address in email.cc]
    if email.html is not None:
        message["HtmlBody"] = email.html
    # Reply-To has its own field, for one address; several can only travel as the header.
    reply_to, others = split_reply_to(email.headers)
    headers = list(email.headers)
    if len(reply_to) == 1:
        message["ReplyTo"] = _address(reply_to[0][1], reply_to[0][0])
        headers = others
    if headers:
        message["CustomHeaders"] = [{"Name": n, "Value": v} for n, v in headers]
    return {"ServerId": server_id, "APIKey": api_key, "Messages": [message]}


def _address(address: str, name: str = "") -> dict[str, str]:
    return {"EmailAddress": address, "FriendlyName": name} if name else {"EmailAddress": address}


class SocketlabsEmailProvider:
    """The API answers no id of its own on success, so each message carries a ``MessageId``
    we choose (SocketLabs reports it back in its notifications); that is the message id.
    """

    name = "socketlabs"

    def __init__(
        self, sender: Sender, server_id: int, api_key: str, baseuri: str, timeout: float
    ) -> None:
        self._sender = sender
        self._server_id = server_id
        self._api_key = api_key
        self._url = baseuri
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout))

    async def send(self, email: Email) -> str:
        body = injection_body(email, self._sender, self._server_id, self._api_key)
        message_id = uuid.uuid4().hex
        body["Messages"][0]["MessageId"] = message_id
        try:
            response = await self._client.post(self._url, json=body)
        except httpx.HTTPError as exc:
            raise ProviderError(f"socketlabs failed: {type(exc).__name__}", name=self.name) from exc
        code = _error_code(response)
        if response.status_code != 200 or code not in ("Success", "Warning"):
            raise ProviderError(
                f"socketlabs refused the message (HTTP {response.status_code}): {code}",
                name=self.name,
            )
        if code == "Warning":
            # Some recipients were refused but the message went out to the others.
            logger.warning("socketlabs refused some recipients of %s", message_id)
        return message_id

    async def aclose(self) -> None:
        await self._client.aclose()


def _error_code(response: httpx.Response) -> str:
    """``ErrorCode`` of the PostResponse; a Warning about the message itself is its code."""
    try:
        data = response.json()
    except ValueError:
        return "no PostResponse"
    if not isinstance(data, dict):
        return "no PostResponse"
    code = str(data.get("ErrorCode") or "no ErrorCode")
    results = data.get("MessageResults") or []
    if code == "Warning" and results and isinstance(results[0], dict):
        inner = str(results[0].get("ErrorCode") or "Warning")
        return inner if inner != "Warning" else code
    return code[:100]
