"""Sendgrid's v3 ``POST /v3/mail/send``, checked as its documentation describes, and the
signature Sendgrid puts on its Event Webhook posts."""

from __future__ import annotations

import base64
import secrets
import time
from email.utils import formataddr
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.doubles.http import HttpDouble, Received, Reply
from tests.doubles.seen import SeenEmail

PATH = "/v3/mail/send"
RESERVED_HEADERS = {
    "x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type",
    "content-transfer-encoding", "to", "from", "subject", "reply-to", "cc", "bcc",
}  # fmt: skip
HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"


def _error(status: int, message: str, field: str | None = None) -> Reply:
    return Reply(status, {"errors": [{"message": message, "field": field, "help": HELP}]})


class SendgridDouble(HttpDouble):
    """Accepts a valid send with 202, no body and an ``X-Message-Id`` header."""

    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.accepted: dict[str, dict[str, Any]] = {}

    def answer(self, request: Received) -> Reply:
        if request.path != PATH:
            return _error(404, "Not Found")
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return Reply(
                401,
                {"errors": [{"field": None, "message": "The provided authorization grant is "
                             "invalid, expired, or revoked", "help": None}]},
            )  # fmt: skip
        if not request.headers.get("Content-Type", "").startswith("application/json"):
            return _error(415, "Content-Type should be application/json.")
        try:
            body = request.json()
        except ValueError:
            return _error(400, "Bad Request")
        problem = _check(body)
        if problem is not None:
            return _error(400, *problem)
        message_id = secrets.token_urlsafe(16)
        self.accepted[message_id] = body
        return Reply(202, None, {"X-Message-Id": message_id})

    def seen(self, message_id: str) -> SeenEmail:
        body = self.accepted[message_id]
        personalization = body["personalizations"][0]
        content = {part["type"]: part["value"] for part in body["content"]}
        return SeenEmail(
            message_id=message_id,
            sender=body["from"]["email"],
            sender_name=body["from"].get("name", ""),
            to=[r["email"] for r in personalization["to"]],
            cc=[r["email"] for r in personalization.get("cc", [])],
            subject=body["subject"],
            text=content["text/plain"],
            html=content.get("text/html"),
            headers=_headers(body),
        )


def _headers(body: dict[str, Any]) -> dict[str, str]:
    headers = dict(body.get("headers", {}))
    replies = body.get("reply_to_list") or ([body["reply_to"]] if "reply_to" in body else [])
    if replies:
        names = [formataddr((r.get("name", ""), r["email"])) for r in replies]
        headers["Reply-To"] = ", ".join(names)
    return headers


def _check(body: Any) -> tuple[str, str] | None:
    """The first documented validation error, as (message, field)."""
    if not isinstance(body, dict):
        return "Bad Request", ""
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        return (
            "The personalizations field is required and must have at least one personalization.",
            "personalizations",
        )
    for p in personalizations:
        to = p.get("to") if isinstance(p, dict) else None
        if not isinstance(to, list) or not to or not all(_is_address(r) for r in to):
            return (
                "The to array is required for all personalization objects, and must have "
                "at least one email object with a valid email address.",
                "personalizations.0.to",
            )
        cc = p.get("cc", [])
        if not isinstance(cc, list) or not all(_is_address(r) for r in cc):
            return "Does not contain a valid address.", "personalizations.0.cc"
        addresses = [r["email"].lower() for r in to + cc]
        if len(set(addresses)) != len(addresses):
            return (
                "Each email address in the personalization block should be unique between "
                "to, cc, and bcc. We found the first duplicate instance of ["
                f"{addresses[0]}] in the personalizations.0.to field.",
                "personalizations.0",
            )
    if not _is_address(body.get("from")):
        return (
            "The from object must be provided for every email send. It is an object that "
            "requires the email parameter, but may also contain a name parameter.",
            "from",
        )
    if "reply_to" in body and not _is_address(body["reply_to"]):
        return "The reply_to email does not contain a valid address.", "reply_to"
    if "reply_to" in body and "reply_to_list" in body:
        return "You can either choose to use 'reply_to' field or 'reply_to_list' but not both.", ""
    if not isinstance(body.get("subject"), str) or not body["subject"]:
        return "The subject is required.", "subject"
    content = body.get("content")
    if (
        not isinstance(content, list)
        or not content
        or not all(
            isinstance(c, dict) and isinstance(c.get("type"), str) and c.get("value")
            for c in content
        )
    ):
        return (
            "Unless a valid template_id is provided, the content parameter is required. "
            "There must be at least one defined content block.",
            "content",
        )
    types = [c["type"] for c in content]
    if "text/plain" in types and types[0] != "text/plain":
        return (
            "If present, text/plain content must be first, followed by text/html, "
            "followed by any other content.",
            "content",
        )
    headers = body.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        return "Invalid type. Expected: object, given: other.", "headers"
    reserved = [k for k in headers if k.lower() in RESERVED_HEADERS]
    if reserved:
        return f"The following header is reserved and cannot be set: {reserved[0]}.", "headers"
    return None


def _is_address(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("email"), str) and "@" in value["email"]


class SendgridEventSigner:
    """Signs Event Webhook posts as Sendgrid documents: ECDSA P-256 / SHA-256 over the
    timestamp header followed by the raw body, base64 of the DER signature; the
    verification key is base64 of the DER public key (what Sendgrid's settings page shows)."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode("ascii")

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.key.sign(stamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
        return {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        }
