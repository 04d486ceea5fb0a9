"""SocketLabs' Injection API v1 (``POST /api/v1/email``), checked as its PostBody is documented.

Answers are PostResponse objects: ``ErrorCode`` (Success, Warning, InvalidAuthentication,
InvalidData, NoMessages ...), ``MessageResults`` (per failed message: ``Index``, ``ErrorCode``,
``AddressResults``) and ``TransactionReceipt`` (set only when something went wrong).
"""

from __future__ import annotations

import secrets
from email.utils import formataddr
from typing import Any

from tests.doubles.http import HttpDouble, Received, Reply
from tests.doubles.seen import SeenEmail

PATH = "/api/v1/email"


def post_response(code: str, results: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    receipt = None if code == "Success" else secrets.token_hex(8)
    return {"ErrorCode": code, "MessageResults": results or [], "TransactionReceipt": receipt}


class SocketlabsDouble(HttpDouble):
    def __init__(self, server_id: int, api_key: str) -> None:
        super().__init__()
        self.server_id = server_id
        self.api_key = api_key
        self.accepted: dict[str, dict[str, Any]] = {}

    def answer(self, request: Received) -> Reply:
        if request.path != PATH:
            return Reply(404, b"Not Found", content_type="text/plain")
        try:
            body = request.json()
        except ValueError:
            return Reply(200, post_response("InvalidData"))
        if not isinstance(body, dict):
            return Reply(200, post_response("InvalidData"))
        if str(body.get("ServerId")) != str(self.server_id) or body.get("APIKey") != self.api_key:
            return Reply(401, post_response("InvalidAuthentication"))
        messages = body.get("Messages")
        if not isinstance(messages, list) or not messages:
            return Reply(200, post_response("NoMessages"))
        results = []
        for index, message in enumerate(messages):
            code = _check(message)
            if code is not None:
                results.append({"Index": index, "ErrorCode": code, "AddressResults": None})
        if results:
            return Reply(200, post_response("Warning", results))
        for message in messages:
            message_id = message.get("MessageId") or secrets.token_hex(8)
            self.accepted[message_id] = message
        return Reply(200, post_response("Success"))

    def seen(self, message_id: str) -> SeenEmail:
        message = self.accepted[message_id]
        return SeenEmail(
            message_id=message_id,
            sender=message["From"]["EmailAddress"],
            sender_name=message["From"].get("FriendlyName", ""),
            to=[r["EmailAddress"] for r in message["To"]],
            cc=[r["EmailAddress"] for r in message.get("Cc") or []],
            subject=message["Subject"],
            text=message["TextBody"],
            html=message.get("HtmlBody"),
            headers=_headers(message),
        )


def _headers(message: dict[str, Any]) -> dict[str, str]:
    headers = {h["Name"]: h["Value"] for h in message.get("CustomHeaders") or []}
    reply_to = message.get("ReplyTo")
    if reply_to:
        headers["Reply-To"] = formataddr(
            (reply_to.get("FriendlyName", ""), reply_to["EmailAddress"])
        )
    return headers


def _check(message: Any) -> str | None:
    """The MessageResult ErrorCode a message earns, or None when it is sendable."""
    if not isinstance(message, dict):
        return "InvalidData"
    to = message.get("To")
    if not isinstance(to, list) or not to:
        return "EmptyToAddress"
    if not all(_is_address(r) for r in to + (message.get("Cc") or [])):
        return "NoValidRecipients"
    if not _is_address(message.get("From")):
        return "InvalidFromAddress"
    if message.get("ReplyTo") is not None and not _is_address(message["ReplyTo"]):
        return "InvalidData"
    if not message.get("Subject"):
        return "EmptySubject"
    if not (message.get("TextBody") or message.get("HtmlBody")):
        return "NoValidBodyParts"
    headers = message.get("CustomHeaders") or []
    if not all(isinstance(h, dict) and h.get("Name") and "Value" in h for h in headers):
        return "InvalidData"
    return None


def _is_address(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("EmailAddress"), str)
        and "@" in value["EmailAddress"]
    )
