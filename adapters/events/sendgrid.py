"""Sendgrid's signed Event Webhook: ECDSA over timestamp + raw body (docs/events.md).

Verified with the ``sendgrid`` library's own helper. The key is the "Verification Key" of
Sendgrid's Signed Event Webhook settings: base64 DER of an ECDSA P-256 public key.
"""

from __future__ import annotations

import binascii

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader

from domain.errors import UnverifiedEvent
from ports.clock import Clock

SIGNATURE_HEADER = EventWebhookHeader.SIGNATURE
TIMESTAMP_HEADER = EventWebhookHeader.TIMESTAMP
MAX_AGE_SECONDS = 600


def load_public_key(key: str) -> ec.EllipticCurvePublicKey:
    """Sendgrid's verification key as a P-256 key; raises ValueError for anything else."""
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
