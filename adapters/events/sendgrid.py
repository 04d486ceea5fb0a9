"""Sendgrid's signed Event Webhook: ECDSA over timestamp + raw body, then its events as
delivery events (docs/events.md).

Verified with the ``sendgrid`` library's own helper. The key is the "Verification Key" of
Sendgrid's Signed Event Webhook settings: base64 DER of an ECDSA P-256 public key. Sendgrid's
names (`bounce`, `blocked`, `dropped` reasons, bounce classifications) are mapped here.
"""

from __future__ import annotations

import binascii
import json
from typing import TYPE_CHECKING

from adapters.events import UnmappedEvent
from domain.errors import UnverifiedEvent
from domain.events import BOUNCE, COMPLAINT, DELIVERY, DeliveryEvent, Mail
from domain.model import ProblemSubtype, ProblemType
from ports.clock import Clock

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

PROVIDER = "sendgrid"
# The names of sendgrid's EventWebhookHeader, without importing it: sendgrid and
# cryptography cost ~10 MB to a process that has no Sendgrid webhook configured.
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_AGE_SECONDS = 600


def load_public_key(key: str) -> ec.EllipticCurvePublicKey:
    """Sendgrid's verification key as a P-256 key; raises ValueError for anything else."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec
    from sendgrid.helpers.eventwebhook import EventWebhook

    try:
        public_key = EventWebhook().convert_public_key_to_ecdsa(key.strip())
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError("not a base64 ECDSA public key") from None
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise ValueError("not an ECDSA P-256 public key")
    return public_key


class SendgridWebhookVerifier:
    """Checks a request's signature and timestamp headers against the raw body."""

    def __init__(self, public_key: str, clock: Clock, max_age_seconds: int = MAX_AGE_SECONDS):
        from sendgrid.helpers.eventwebhook import EventWebhook

        self._key = load_public_key(public_key)
        self._webhook = EventWebhook()
        self._clock = clock
        self._max_age_ms = max_age_seconds * 1000

    def verify(self, body: bytes, signature: str | None, timestamp: str | None) -> None:
        """Raise UnverifiedEvent unless ``signature`` signs ``timestamp`` + ``body`` and the
        timestamp is within ``max_age_seconds`` of now (either way: a clock ahead of ours
        by more than that is as suspect as a replay)."""
        if not signature or not timestamp:
            raise UnverifiedEvent("sendgrid event without signature or timestamp headers")
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
            raise UnverifiedEvent("sendgrid timestamp is not a Unix time")
        if abs(self._clock.now_ms() - int(timestamp) * 1000) > self._max_age_ms:
            raise UnverifiedEvent("sendgrid timestamp is too old or in the future")
        try:
            # The helper encodes its text argument as UTF-8 again: decoding the raw body as
            # UTF-8 gives back exactly the bytes Sendgrid signed (latin-1 would not).
            payload = body.decode("utf-8")
            valid = self._webhook.verify_signature(payload, signature, timestamp, self._key)
        except (UnicodeDecodeError, binascii.Error, ValueError):
            raise UnverifiedEvent(
                "sendgrid signature is not base64 or the body not UTF-8"
            ) from None
        if not valid:
            raise UnverifiedEvent("sendgrid signature does not verify")


# `bounce_classification` (Sendgrid's bounce classification) -> the domain's subtype.
BOUNCE_CLASSIFICATIONS = {
    "Invalid Address": ProblemSubtype.NO_EMAIL,
    "Mailbox Unavailable": ProblemSubtype.NO_EMAIL,
    "Content": ProblemSubtype.CONTENT_REJECTED,
    "Reputation": ProblemSubtype.GENERAL,
    "Technical": ProblemSubtype.GENERAL,
    "Frequency or Volume Too High": ProblemSubtype.GENERAL,
    "Unclassified": ProblemSubtype.UNDETERMINED,
}
# A `dropped` event's `reason` that reports a delivery problem (Sendgrid suppressed the
# address for it), as (type, subtype); other reasons are not the recipient's doing.
DROPPED_REASONS = {
    "Bounced Address": (ProblemType.HARD_BOUNCE, ProblemSubtype.SUPPRESSED),
    "Spam Reporting Address": (ProblemType.COMPLAINT, ProblemSubtype.ABUSE),
    "Invalid": (ProblemType.HARD_BOUNCE, ProblemSubtype.NO_EMAIL),
}


def read_events(body: bytes) -> list[object]:
    """The posted JSON array; raises UnmappedEvent when the body is not one."""
    try:
        items = json.loads(body)
    except (ValueError, RecursionError):
        raise UnmappedEvent("the body is not JSON") from None
    if not isinstance(items, list):
        raise UnmappedEvent("the body is not a JSON array")
    return items


def delivery_event(item: object) -> DeliveryEvent:
    """One Sendgrid event as a delivery event; raises UnmappedEvent saying why not."""
    if not isinstance(item, dict):
        raise UnmappedEvent("an event that is not an object")
    kind = item.get("event")
    address, message_id = item.get("email"), item.get("sg_message_id")
    if not isinstance(address, str) or not address or not isinstance(message_id, str):
        raise UnmappedEvent(f"a {str(kind)[:20]!r} event without email or sg_message_id")
    problem: tuple[ProblemType, ProblemSubtype] | None = None
    if kind == "bounce":
        hard = item.get("type", "bounce") != "blocked"
        classification = BOUNCE_CLASSIFICATIONS.get(str(item.get("bounce_classification")))
        problem = (
            ProblemType.HARD_BOUNCE if hard else ProblemType.SOFT_BOUNCE,
            classification or ProblemSubtype.GENERAL,
        )
    elif kind == "dropped":
        problem = DROPPED_REASONS.get(str(item.get("reason")))
        if problem is None:
            raise UnmappedEvent(f"a dropped event for reason {str(item.get('reason'))[:40]!r}")
    elif kind == "spamreport":
        problem = (ProblemType.COMPLAINT, ProblemSubtype.ABUSE)
    elif kind != "delivered":
        raise UnmappedEvent(f"a {str(kind)[:20]!r} event")
    timestamp = item.get("timestamp")
    event_id = item.get("sg_event_id")
    # `sg_message_id` is the `X-Message-Id` that /send returned, then a dot and filter data.
    mail = Mail(message_id.split(".", 1)[0], destination=(address,))
    type_, subtype = problem or (None, ProblemSubtype.UNMAPPED)
    return DeliveryEvent(
        PROVIDER,
        DELIVERY if type_ is None else COMPLAINT if type_ is ProblemType.COMPLAINT else BOUNCE,
        mail,
        (address,),
        type_,
        subtype,
        timestamp * 1000 if isinstance(timestamp, int) and timestamp > 0 else None,
        event_id if isinstance(event_id, str) and event_id else None,
    )
