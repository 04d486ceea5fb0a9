"""SocketLabs' Notification API (Event Webhook): secret key, validation handshake, events.

SocketLabs' names (`Failed` with `FailureType` and `BounceStatus`, `Complaint` with `FblType`,
`Delivered`) are mapped to the domain's problem types and subtypes here.

SocketLabs puts the endpoint's Secret Key and the server's id in every post and expects the
Validation Key in every answer (docs/events.md). Posts are JSON; the legacy form encoding
(``application/x-www-form-urlencoded``) is read as well.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from adapters.events import UnmappedEvent
from adapters.queues.ses_notifications import COMPLAINT_FEEDBACK_TYPES
from domain.errors import UnverifiedEvent
from domain.events import BOUNCE, COMPLAINT, DELIVERY, DeliveryEvent, Mail
from domain.model import ProblemSubtype, ProblemType

PROVIDER = "socketlabs"
VALIDATION = "Validation"


def read_post(body: bytes, content_type: str) -> dict[str, Any]:
    """The post's fields; raises UnverifiedEvent for a body that is neither form nor JSON
    object (nothing in it can be trusted, not even a secret key)."""
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        if media == "application/x-www-form-urlencoded":
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        fields = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise UnverifiedEvent("socketlabs post is not JSON or a form") from None
    if not isinstance(fields, dict):
        raise UnverifiedEvent("socketlabs post is not a JSON object")
    return fields


class SocketlabsNotificationVerifier:
    """Checks a post's ``SecretKey`` (in constant time) and, when set, its ``ServerId``."""

    def __init__(self, secret_key: str, validation_key: str, server_id: int | None) -> None:
        self._secret = secret_key.encode("utf-8")
        self.validation_key = validation_key
        self._server_id = server_id

    def verify(self, fields: Mapping[str, Any]) -> None:
        given = fields.get("SecretKey")
        if not isinstance(given, str) or not hmac.compare_digest(
            given.encode("utf-8"), self._secret
        ):
            raise UnverifiedEvent("socketlabs SecretKey missing or wrong")
        server = fields.get("ServerId")
        if self._server_id is not None and server is not None:
            if str(server).strip() != str(self._server_id):
                raise UnverifiedEvent("socketlabs ServerId is not socketlabs.serverid")


# `FailureType`, as a name or as the number of SocketLabs' failed-messages report.
FAILURE_TYPES = {
    "permanent": (ProblemType.HARD_BOUNCE, None),
    "permanentfailure": (ProblemType.HARD_BOUNCE, None),
    "1": (ProblemType.HARD_BOUNCE, None),
    "temporary": (ProblemType.SOFT_BOUNCE, None),
    "temporaryfailure": (ProblemType.SOFT_BOUNCE, None),
    "transient": (ProblemType.SOFT_BOUNCE, None),
    "0": (ProblemType.SOFT_BOUNCE, None),
    "suppressed": (ProblemType.HARD_BOUNCE, ProblemSubtype.SUPPRESSED),
    "2": (ProblemType.HARD_BOUNCE, ProblemSubtype.SUPPRESSED),
}
# Enhanced status codes (RFC 3463) in `BounceStatus`, by subject.detail.
STATUS_SUBTYPES = {
    "1": ProblemSubtype.NO_EMAIL,  # X.1.x: addressing
    "2.2": ProblemSubtype.MAILBOX_FULL,
    "3.4": ProblemSubtype.MESSAGE_TOO_LARGE,
    "6": ProblemSubtype.CONTENT_REJECTED,  # X.6.x: message content or media
}
# `FblType`: the ARF feedback type of the complaint (RFC 5965), as SES's too.
FEEDBACK_TYPES = COMPLAINT_FEEDBACK_TYPES
DELIVERED = ("Delivered", "Sent")


def delivery_event(fields: Mapping[str, Any]) -> DeliveryEvent:
    """A verified post as a delivery event; raises UnmappedEvent saying why not."""
    kind = fields.get("Type")
    address, message_id = fields.get("Address"), fields.get("MessageId")
    if not isinstance(address, str) or not address or message_id in (None, ""):
        raise UnmappedEvent(f"a {str(kind)[:20]!r} post without Address or MessageId")
    if kind == "Failed":
        type_, subtype = _failure(fields)
        event_kind = BOUNCE
    elif kind == "Complaint":
        type_, event_kind = ProblemType.COMPLAINT, COMPLAINT
        subtype = FEEDBACK_TYPES.get(
            str(fields.get("FblType", "")).lower(), ProblemSubtype.UNMAPPED
        )
    elif kind in DELIVERED:
        type_, subtype, event_kind = None, ProblemSubtype.UNMAPPED, DELIVERY
    else:
        raise UnmappedEvent(f"a {str(kind)[:20]!r} post")
    return DeliveryEvent(
        PROVIDER,
        event_kind,
        Mail(str(message_id), destination=(address,)),
        (address,),
        type_,
        subtype,
        _time_ms(fields.get("DateTime")),
    )


def _failure(fields: Mapping[str, Any]) -> tuple[ProblemType, ProblemSubtype]:
    status = str(fields.get("BounceStatus") or "").strip()
    failure = str(fields.get("FailureType", "")).strip().lower()
    type_, subtype = FAILURE_TYPES.get(failure, (None, None))
    if type_ is None:  # no failure type we know: the status class decides (5 hard, 4 soft)
        type_ = ProblemType.HARD_BOUNCE if status.startswith("5.") else ProblemType.SOFT_BOUNCE
    return type_, subtype or _status_subtype(status)


def _status_subtype(status: str) -> ProblemSubtype:
    parts = status.split(".")
    if len(parts) != 3:
        return ProblemSubtype.UNDETERMINED
    subject, detail = parts[1], parts[2]
    return (
        STATUS_SUBTYPES.get(f"{subject}.{detail}")
        or STATUS_SUBTYPES.get(subject)
        or ProblemSubtype.GENERAL
    )


def _time_ms(value: object) -> int | None:
    """SocketLabs' ``DateTime`` (ISO 8601, 7 fractional digits) in ms; None if unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
