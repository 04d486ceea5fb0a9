"""SES notifications and event-publishing records, as delivery events in no provider's terms.

Both of SES's formats are read (docs/notifications.md): notifications (`notificationType`)
and event publishing through a configuration set (`eventType`), bare or in an SNS envelope.
SES's names (`Permanent`, `Transient`, `General`, `OnAccountSuppressionList`, ...) are
mapped to the domain's problem types and subtypes here, and nowhere else.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any, NoReturn, TypeVar

from domain.errors import UnverifiedEvent
from domain.events import BOUNCE, COMPLAINT, DELIVERY, DeliveryEvent, Mail
from domain.model import ProblemSubtype, ProblemType
from ports.queues import IncomingMessage, ReceivedEvent, UnparseableMessage

logger = logging.getLogger(__name__)

PROVIDER = "ses"
# Event publishing's other kinds: nothing is recorded, they are forwarded and deleted.
OTHER_KINDS = frozenset(
    ("Send", "Reject", "Open", "Click", "Rendering Failure", "DeliveryDelay", "Subscription")
)
BOUNCE_TYPES = {
    "Permanent": ProblemType.HARD_BOUNCE,
    "Transient": ProblemType.SOFT_BOUNCE,
    "Undetermined": ProblemType.SOFT_BOUNCE,
}
BOUNCE_SUBTYPES = {
    "Undetermined": ProblemSubtype.UNDETERMINED,
    "General": ProblemSubtype.GENERAL,
    "NoEmail": ProblemSubtype.NO_EMAIL,
    "Suppressed": ProblemSubtype.SUPPRESSED,
    "OnAccountSuppressionList": ProblemSubtype.SUPPRESSED,
    "MailboxFull": ProblemSubtype.MAILBOX_FULL,
    "MessageTooLarge": ProblemSubtype.MESSAGE_TOO_LARGE,
    "ContentRejected": ProblemSubtype.CONTENT_REJECTED,
    "AttachmentRejected": ProblemSubtype.ATTACHMENT_REJECTED,
}
COMPLAINT_FEEDBACK_TYPES = {
    "abuse": ProblemSubtype.ABUSE,
    "auth-failure": ProblemSubtype.AUTH_FAILURE,
    "fraud": ProblemSubtype.FRAUD,
    "not-spam": ProblemSubtype.NOT_SPAM,
    "other": ProblemSubtype.OTHER,
    "virus": ProblemSubtype.VIRUS,
}
# `complaintSubType`: null for a complaint from a recipient, else why SES made one up.
COMPLAINT_SUBTYPES = {"OnAccountSuppressionList": ProblemSubtype.SUPPRESSED}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_Mapped = TypeVar("_Mapped", ProblemType, ProblemSubtype)
# Verifies an SNS envelope (a signature check, for worker.verifysns); raises UnverifiedEvent.
EnvelopeCheck = Callable[[Mapping[str, Any]], object]


class UnparseableNotification(ValueError):
    """The body is not an SES notification or event this service reads; says why."""


def body_md5(body: str) -> str:
    """SQS's ``MD5OfBody``: the hex MD5 of the UTF-8 body."""
    return hashlib.md5(body.encode("utf-8"), usedforsecurity=False).hexdigest()


def incoming(
    queue: str,
    message_id: str,
    receipt: str,
    body: str,
    md5: str,
    check_envelope: EnvelopeCheck | None = None,
) -> IncomingMessage:
    """One received queue message, parsed: a ``ReceivedEvent`` or an ``UnparseableMessage``.

    The one place where a queue body becomes a message for the worker (SQS and the memory
    queue alike). Whatever goes wrong while parsing makes it unparseable: it never raises,
    so one poison message cannot keep the others of its batch from being handled.
    """
    try:
        return ReceivedEvent(queue, message_id, receipt, parse_body(body, md5, check_envelope))
    except UnparseableNotification as exc:
        return UnparseableMessage(queue, message_id, receipt, str(exc))
    except Exception as exc:  # noqa: BLE001 - untrusted input: any failure means unparseable
        return UnparseableMessage(queue, message_id, receipt, f"cannot parse: {type(exc).__name__}")


def parse_body(
    body: str, md5: str | None = None, check_envelope: EnvelopeCheck | None = None
) -> DeliveryEvent:
    """The event in a queue body (SNS envelope or raw SES JSON); UnparseableNotification.

    ``md5`` (the queue's ``MD5OfBody``), when given, must match the body. With
    ``check_envelope`` (``worker.verifysns``), the body must be an SNS envelope that passes
    it: raw SES JSON, or an envelope whose check raises ``UnverifiedEvent``, is unparseable.
    """
    if md5 is not None and md5.lower() != body_md5(body):
        raise UnparseableNotification("MD5OfBody does not match the body")
    document = json_object(body, "body")
    envelope = _kind_field(document) is None and document.get("Type") is not None
    if check_envelope is not None:
        if not envelope:
            raise UnparseableNotification("not an SNS envelope (worker.verifysns)")
        try:
            check_envelope(document)
        except UnverifiedEvent as exc:
            raise UnparseableNotification(f"SNS envelope does not verify: {exc.message}") from None
    if envelope:
        if document["Type"] != "Notification" or not isinstance(document.get("Message"), str):
            raise UnparseableNotification(f"SNS message of Type {str(document['Type'])[:40]!r}")
        document = json_object(document["Message"], "SNS Message")
    return parse_ses(document)


def parse_ses(document: Mapping[str, Any]) -> DeliveryEvent:
    """The delivery event in an SES notification or event record; UnparseableNotification."""
    field = _kind_field(document)
    kind = document.get(field) if field else None
    if not isinstance(kind, str) or (kind not in (BOUNCE, COMPLAINT, DELIVERY, *OTHER_KINDS)):
        name = field or "notificationType"
        raise UnparseableNotification(f"unknown {name} {str(kind)[:40]!r}")
    mail = _mail(_object(document, "mail"))
    if kind == BOUNCE:
        bounce = _object(document, "bounce")
        return DeliveryEvent(
            PROVIDER,
            BOUNCE,
            mail,
            _recipients(bounce, "bouncedRecipients", "bounce"),
            _mapped(BOUNCE_TYPES, "bounceType", _string(bounce, "bounceType", "bounce"), mail)
            or ProblemType.SOFT_BOUNCE,
            _mapped(
                BOUNCE_SUBTYPES, "bounceSubType", _string(bounce, "bounceSubType", "bounce"), mail
            )
            or ProblemSubtype.UNMAPPED,
            _timestamp(bounce, "bounce"),
            _optional_string(bounce, "feedbackId", "bounce"),
        )
    if kind == COMPLAINT:
        complaint = _object(document, "complaint")
        return DeliveryEvent(
            PROVIDER,
            COMPLAINT,
            mail,
            _recipients(complaint, "complainedRecipients", "complaint"),
            ProblemType.COMPLAINT,
            _complaint_subtype(complaint, mail),
            _timestamp(complaint, "complaint"),
            _optional_string(complaint, "feedbackId", "complaint"),
        )
    if kind == DELIVERY:
        delivery = _object(document, "delivery")
        recipients = delivery.get("recipients", [])
        if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
            raise UnparseableNotification("delivery.recipients: not a list of strings")
        return DeliveryEvent(
            PROVIDER,
            DELIVERY,
            mail,
            tuple(recipients),
            timestamp_ms=_timestamp(delivery, "delivery"),
        )
    details = {k: v for k, v in document.items() if k not in ("eventType", "mail")}
    return DeliveryEvent(PROVIDER, str(kind), mail, details=details)


def json_object(text: str, what: str) -> dict[str, Any]:
    """``text`` as a JSON object: strict JSON (no NaN or Infinity), any depth refused cleanly."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise UnparseableNotification(f"{what}: not JSON ({reason})") from None
    if not isinstance(value, dict):
        raise UnparseableNotification(f"{what}: not a JSON object")
    return value


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _kind_field(document: Mapping[str, Any]) -> str | None:
    for field in ("notificationType", "eventType"):
        if field in document:
            return field
    return None


def _mail(mail: dict[str, Any]) -> Mail:
    destination = mail.get("destination", [])
    if not isinstance(destination, list) or not all(isinstance(d, str) for d in destination):
        raise UnparseableNotification("mail.destination: not a list of strings")
    headers = mail.get("headers", [])
    if not isinstance(headers, list) or not all(
        isinstance(h, dict) and isinstance(h.get("name"), str) and isinstance(h.get("value"), str)
        for h in headers
    ):
        raise UnparseableNotification("mail.headers: not a list of names and values")
    return Mail(
        message_id=_string(mail, "messageId", "mail"),
        timestamp_ms=_timestamp(mail, "mail"),
        source=_optional_string(mail, "source", "mail") or "",
        destination=tuple(destination),
        headers=tuple((h["name"], h["value"]) for h in headers),
    )


def _complaint_subtype(complaint: dict[str, Any], mail: Mail) -> ProblemSubtype:
    subtype = _optional_string(complaint, "complaintSubType", "complaint")
    if subtype is not None:
        return _mapped(COMPLAINT_SUBTYPES, "complaintSubType", subtype, mail) or (
            ProblemSubtype.UNMAPPED
        )
    feedback = _optional_string(complaint, "complaintFeedbackType", "complaint")
    if feedback is None:
        return ProblemSubtype.UNMAPPED
    return (
        _mapped(COMPLAINT_FEEDBACK_TYPES, "complaintFeedbackType", feedback, mail)
        or ProblemSubtype.UNMAPPED
    )


def _mapped(table: Mapping[str, _Mapped], field: str, name: str, mail: Mail) -> _Mapped | None:
    """``table[name]``; an unknown name is logged (never fatal) and gives None."""
    value = table.get(name)
    if value is None:
        logger.warning("unknown SES %s %r in an event about %s", field, name[:40], mail.message_id)
    return value


def _object(parent: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise UnparseableNotification(f"{key}: missing or not an object")
    return value


def _string(parent: Mapping[str, Any], key: str, where: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str) or not value:
        raise UnparseableNotification(f"{where}.{key}: missing or not a string")
    return value


def _optional_string(parent: Mapping[str, Any], key: str, where: str) -> str | None:
    if parent.get(key) is None:
        return None
    return _string(parent, key, where)


def _recipients(parent: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    items = parent.get(key)
    if not isinstance(items, list):
        raise UnparseableNotification(f"{where}.{key}: missing or not a list")
    addresses = []
    for item in items:
        if not isinstance(item, dict):
            raise UnparseableNotification(f"{where}.{key}: an entry is not an object")
        raw = _string(item, "emailAddress", f"{where}.{key}[]")
        # SES gives a bare address; tolerate a display-name form all the same.
        addresses.append((parseaddr(raw)[1] or raw.strip()) if "<" in raw else raw.strip())
    return tuple(addresses)


def _timestamp(parent: Mapping[str, Any], where: str) -> int | None:
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
    try:
        return (moment - _EPOCH) // _MS
    except OverflowError:
        raise UnparseableNotification(f"{where}.timestamp: out of range") from None
