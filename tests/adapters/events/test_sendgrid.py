"""SendgridWebhookVerifier against posts signed with a Sendgrid-style ECDSA key pair."""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from adapters.clock import SystemClock
from adapters.events import UnmappedEvent
from adapters.events.sendgrid import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SendgridWebhookVerifier,
    delivery_event,
    load_public_key,
    read_events,
)
from domain.errors import UnverifiedEvent
from domain.model import ProblemSubtype, ProblemType
from tests.doubles.sendgrid import SendgridEventSigner
from tests.fixtures.sendgrid import event, events


@pytest.fixture(scope="module")
def signer() -> SendgridEventSigner:
    return SendgridEventSigner()


@pytest.fixture
def verifier(signer: SendgridEventSigner) -> SendgridWebhookVerifier:
    return SendgridWebhookVerifier(signer.public_key, SystemClock())


def body() -> bytes:
    return json.dumps(events()).encode()


def check(verifier: SendgridWebhookVerifier, raw: bytes, headers: dict[str, str]) -> None:
    verifier.verify(raw, headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER))


def test_a_signed_post_verifies(
    signer: SendgridEventSigner, verifier: SendgridWebhookVerifier
) -> None:
    raw = body()
    check(verifier, raw, signer.headers(raw))


def test_a_body_with_non_ascii_text_verifies_byte_for_byte(
    signer: SendgridEventSigner, verifier: SendgridWebhookVerifier
) -> None:
    items = events()
    items[5]["reason"] = "550 Empfänger unbekannt – 受信者不明"
    raw = json.dumps(items, ensure_ascii=False).encode("utf-8")
    check(verifier, raw, signer.headers(raw))


def _refused(
    verifier: SendgridWebhookVerifier, raw: bytes, headers: dict[str, str], reason: str
) -> None:
    with pytest.raises(UnverifiedEvent, match=reason) as caught:
        check(verifier, raw, headers)
    assert caught.value.errno == 128


def test_a_tampered_body_is_refused(
    signer: SendgridEventSigner, verifier: SendgridWebhookVerifier
) -> None:
    raw = body()
    headers = signer.headers(raw)
    _refused(verifier, raw.replace(b"example@test.com", b"victim@test.com", 1), headers, "verify")
    _refused(verifier, raw + b" ", headers, "does not verify")


def test_a_changed_timestamp_is_refused(
    signer: SendgridEventSigner, verifier: SendgridWebhookVerifier
) -> None:
    raw = body()
    headers = signer.headers(raw)
    headers[TIMESTAMP_HEADER] = str(int(headers[TIMESTAMP_HEADER]) - 1)
    _refused(verifier, raw, headers, "does not verify")


def test_another_key_is_refused(verifier: SendgridWebhookVerifier) -> None:
    raw = body()
    _refused(verifier, raw, SendgridEventSigner().headers(raw), "does not verify")


@pytest.mark.parametrize("seconds", [-601, 601, -86400])
def test_a_timestamp_over_ten_minutes_away_is_refused_even_signed(
    signer: SendgridEventSigner, verifier: SendgridWebhookVerifier, seconds: int
) -> None:
    raw = body()
    _refused(verifier, raw, signer.headers(raw, int(time.time()) + seconds), "too old")


def test_a_timestamp_nine_minutes_old_verifies(
    signer: SendgridEventSigner, verifier: SendgridWebhookVerifier
) -> None:
    raw = body()
    check(verifier, raw, signer.headers(raw, int(time.time()) - 540))


@pytest.mark.parametrize(
    ("signature", "timestamp", "reason"),
    [
        (None, "1", "headers"),
        ("c2ln", None, "headers"),
        ("c2ln", "12.5", "Unix time"),
        ("c2ln", "-5", "Unix time"),
        ("c2ln", "١٢٣", "Unix time"),
        ("not base64 !", "now", "base64|verify"),
        ("FORGED", "now", "verify|base64"),
    ],
)
def test_malformed_headers_are_refused(
    verifier: SendgridWebhookVerifier, signature: str | None, timestamp: str | None, reason: str
) -> None:
    stamp = str(int(time.time())) if timestamp == "now" else timestamp
    with pytest.raises(UnverifiedEvent, match=reason):
        verifier.verify(body(), signature, stamp)


def test_a_body_that_is_not_utf8_is_refused(
    signer: SendgridEventSigner, verifier: SendgridWebhookVerifier
) -> None:
    raw = b'[{"email": "\xff"}]'
    _refused(verifier, raw, signer.headers(raw), "UTF-8")


def _der(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "base64 ECDSA"),
        ("not a key", "base64 ECDSA"),
        (_der(rsa.generate_private_key(public_exponent=65537, key_size=1024)), "P-256"),
        (_der(ec.generate_private_key(ec.SECP384R1())), "P-256"),
    ],
)
def test_a_key_that_is_not_p256_is_refused(key: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        load_public_key(key)


@pytest.mark.parametrize(
    ("kind", "type_", "expected"),
    [
        ("bounce", "bounce", ("Bounce", ProblemType.HARD_BOUNCE, ProblemSubtype.NO_EMAIL)),
        ("bounce", "blocked", ("Bounce", ProblemType.SOFT_BOUNCE, ProblemSubtype.GENERAL)),
        ("dropped", None, ("Bounce", ProblemType.HARD_BOUNCE, ProblemSubtype.SUPPRESSED)),
        ("spamreport", None, ("Complaint", ProblemType.COMPLAINT, ProblemSubtype.ABUSE)),
        ("delivered", None, ("Delivery", None, ProblemSubtype.UNMAPPED)),
    ],
)
def test_sendgrid_events_map_to_delivery_events(
    kind: str, type_: str | None, expected: tuple[str, ProblemType | None, ProblemSubtype]
) -> None:
    item = event(kind, type_)
    mapped = delivery_event(item)
    assert (mapped.kind, mapped.problem_type, mapped.problem_subtype) == expected
    assert mapped.provider == "sendgrid"
    assert mapped.message_id == "W4L3LmwcT_usGk84Vp6b3A"  # the X-Message-Id /send returned
    assert mapped.recipients == ("example@test.com",)
    assert mapped.event_id == item["sg_event_id"]
    assert mapped.timestamp_ms == 1513299569000


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("Bounced Address", (ProblemType.HARD_BOUNCE, ProblemSubtype.SUPPRESSED)),
        ("Spam Reporting Address", (ProblemType.COMPLAINT, ProblemSubtype.ABUSE)),
        ("Invalid", (ProblemType.HARD_BOUNCE, ProblemSubtype.NO_EMAIL)),
    ],
)
def test_dropped_reasons_that_are_delivery_problems(
    reason: str, expected: tuple[ProblemType, ProblemSubtype]
) -> None:
    mapped = delivery_event({**event("dropped"), "reason": reason})
    assert (mapped.problem_type, mapped.problem_subtype) == expected


@pytest.mark.parametrize(
    "item",
    [
        event("processed"),
        event("deferred"),
        event("open"),
        event("click"),
        event("unsubscribe"),
        {**event("dropped"), "reason": "Unsubscribed Address"},
        {**event("bounce", "bounce"), "sg_message_id": None},
        {**event("bounce", "bounce"), "email": ""},
        "a string",
    ],
)
def test_events_that_map_to_nothing(item: object) -> None:
    with pytest.raises(UnmappedEvent):
        delivery_event(item)


def test_an_unknown_bounce_classification_is_general_and_a_bad_timestamp_none() -> None:
    mapped = delivery_event({**event("bounce", "bounce"), "bounce_classification": "New"})
    assert mapped.problem_subtype is ProblemSubtype.GENERAL
    mapped = delivery_event({**event("bounce", "bounce"), "timestamp": "yesterday"})
    assert mapped.timestamp_ms is None


@pytest.mark.parametrize("raw", [b"{", b'{"a": 1}', b"[" * 100_000])
def test_a_body_that_is_no_array_maps_to_nothing(raw: bytes) -> None:
    with pytest.raises(UnmappedEvent):
        read_events(raw)
