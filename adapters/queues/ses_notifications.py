"""Parse an SQS message body (SNS envelope or raw SES JSON) into a domain Notification."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any

from domain.notifications import Bounce, Complaint, Delivery, Event, Notification

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class UnparseableNotification(ValueError):
    """The body is not an SES bounce, complaint or delivery notification; says why."""


def body_md5(body: str) -> str:
    """SQS's ``MD5OfBody``: the hex MD5 of the UTF-8 body."""
    return hashlib.md5(body.encode("utf-8"), usedforsecurity=False).hexdigest()


def parse_body(body: str, md5: str | None = None) -> Notification:
    """The notification in ``body``; raises UnparseableNotification.

    ``md5`` (the queue's ``MD5OfBody``), when given, must match the body.
    """
    if md5 is not None and md5.lower() != body_md5(body):
        raise UnparseableNotification("MD5OfBody does not match the body")
    document = _json_object(body, "body")
    if "notificationType" not in document and document.get("Type") is not None:
        if document["Type"] != "Notification" or not isinstance(document.get("Message"), str):
            raise UnparseableNotification(f"SNS message of Type {document['Type']!r}")
        document = _json_object(document["Message"], "SNS Message")
    return parse_ses(document)


def parse_ses(document: dict[str, Any]) -> Notification:
    """The notification in an SES notification JSON object; raises UnparseableNotification."""
    kind = document.get("notificationType")
    if kind not in ("Bounce", "Complaint", "Delivery"):
        raise UnparseableNotification(f"unknown notificationType {kind!r}")
    mail = _object(document, "mail")
    message_id = _string(mail, "messageId", "mail")
    event: Event
    if kind == "Bounce":
        bounce = _object(document, "bounce")
        event = Bounce(
            bounce_type=_string(bounce, "bounceType", "bounce"),
            bounce_subtype=_string(bounce, "bounceSubType", "bounce"),
            recipients=_recipients(bounce, "bouncedRecipients", "bounce"),
            timestamp_ms=_timestamp(bounce, "bounce") or _timestamp(mail, "mail"),
            feedback_id=_optional_string(bounce, "feedbackId", "bounce"),
        )
    elif kind == "Complaint":
        complaint = _object(document, "complaint")
        event = Complaint(
            feedback_type=_optional_string(complaint, "complaintFeedbackType", "complaint"),
            recipients=_recipients(complaint, "complainedRecipients", "complaint"),
            timestamp_ms=_timestamp(complaint, "complaint") or _timestamp(mail, "mail"),
            feedback_id=_optional_string(complaint, "feedbackId", "complaint"),
        )
    else:
        delivery = _object(document, "delivery")
        recipients = delivery.get("recipients", [])
        if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
            raise UnparseableNotification("delivery.recipients: not a list of strings")
        event = Delivery(tuple(recipients), _timestamp(delivery, "delivery"))
    return Notification(message_id, event, document)


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UnparseableNotification(f"{what}: not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise UnparseableNotification(f"{what}: not a JSON object")
    return value


def _object(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise UnparseableNotification(f"{key}: missing or not an object")
    return value


def _string(parent: dict[str, Any], key: str, where: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str) or not value:
        raise UnparseableNotification(f"{where}.{key}: missing or not a string")
    return value


def _optional_string(parent: dict[str, Any], key: str, where: str) -> str | None:
    if parent.get(key) is None:
        return None
    return _string(parent, key, where)


def _recipients(parent: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    items = parent.get(key)
    if not isinstance(items, list):
        raise UnparseableNotification(f"{where}.{key}: missing or not a list")
    addresses = []
    for item in items:
        if not isinstance(item, dict):
            raise UnparseableNotification(f"{where}.{key}: an entry is not an object")
        raw = _string(item, "emailAddress", f"{where}.{key}[]")
        # SES gives a bare address; tolerate a display-name form all the same.
        addresses.append(parseaddr(raw)[1] or raw.strip())
    return tuple(addresses)


def _timestamp(parent: dict[str, Any], where: str) -> int | None:
    """ISO 8601 ``timestamp`` in milliseconds since the epoch; None when absent."""
    value = parent.get("timestamp")
    if value is None:
        return None
    if not isinstance(value, str):
        raise UnparseableNotification(f"{where}.timestamp: not a string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UnparseableNotification(f"{where}.timestamp: not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MS
