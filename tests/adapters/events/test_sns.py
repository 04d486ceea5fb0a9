"""SnsMessageVerifier against signed messages and a certificate served over local HTTPS."""

from __future__ import annotations

import datetime
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.clock import SystemClock
from adapters.events.sns import SnsMessageVerifier, string_to_sign
from domain.errors import UnverifiedEvent
from entrypoints.http import http_status
from tests.doubles.sns import TOPIC, SnsDouble
from tests.doubles.tls import Certificates
from tests.fakes import FakeClock
from tests.fixtures.ses import load


@pytest.fixture
async def verifier(certificates: Certificates) -> AsyncIterator[SnsMessageVerifier]:
    verifier = SnsMessageVerifier(
        "127.0.0.1", frozenset({TOPIC}), SystemClock(), cafile=certificates.cafile
    )
    yield verifier
    await verifier.aclose()


def ses_bounce() -> str:
    return json.dumps(load("bounce-permanent"))


def test_string_to_sign_is_the_one_aws_documents() -> None:
    # The example of AWS's "Verifying the signatures of Amazon SNS messages".
    message = {
        "Type": "Notification",
        "MessageId": "4d4dc071-ddbf-465d-bba8-08f81c89da64",
        "TopicArn": "arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P",
        "Subject": "My subject",
        "Message": "My Test Message",
        "Timestamp": "2019-01-31T04:37:04.321Z",
        "SignatureVersion": "1",
        "UnsubscribeURL": "https://sns.us-east-2.amazonaws.com/?Action=Unsubscribe",
    }
    assert string_to_sign(message) == (
        b"Message\nMy Test Message\nMessageId\n4d4dc071-ddbf-465d-bba8-08f81c89da64\n"
        b"Subject\nMy subject\nTimestamp\n2019-01-31T04:37:04.321Z\n"
        b"TopicArn\narn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P\n"
        b"Type\nNotification\n"
    )
    confirmation = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "3d891288-136d-417f-bc05-901c108273ee",
        "Token": "233",
        "TopicArn": "arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P",
        "Message": "My Test Message",
        "SubscribeURL": "https://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription",
        "Timestamp": "2019-01-31T19:25:13.719Z",
    }
    assert string_to_sign(confirmation) == (
        b"Message\nMy Test Message\nMessageId\n3d891288-136d-417f-bc05-901c108273ee\n"
        b"SubscribeURL\nhttps://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription\n"
        b"Timestamp\n2019-01-31T19:25:13.719Z\nToken\n233\n"
        b"TopicArn\narn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P\n"
        b"Type\nSubscriptionConfirmation\n"
    )


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("subject", [None, "Amazon SES Email Event Notification"])
async def test_signed_notification_verifies(
    sns: SnsDouble, verifier: SnsMessageVerifier, version: str, subject: str | None
) -> None:
    message = sns.notification(ses_bounce(), version=version, subject=subject)
    verified = await verifier.verify(message)
    assert verified.type == "Notification"
    assert verified.topic_arn == TOPIC
    assert json.loads(verified.message)["notificationType"] == "Bounce"


async def test_certificate_is_downloaded_once(sns: SnsDouble, verifier: SnsMessageVerifier) -> None:
    messages = [sns.notification(ses_bounce()) for _ in range(5)]
    async with anyio.create_task_group() as group:
        for message in messages:
            group.start_soon(verifier.verify, message)
    await verifier.verify(sns.notification(ses_bounce(), version="2"))
    assert sns.downloads == 1


def _tampered(message: dict[str, Any]) -> dict[str, Any]:
    document = json.loads(message["Message"])
    document["bounce"]["bouncedRecipients"][0]["emailAddress"] = "victim@example.com"
    return {**message, "Message": json.dumps(document)}


async def _refused(
    verifier: SnsMessageVerifier, message: dict[str, Any], reason: str | None
) -> None:
    with pytest.raises(UnverifiedEvent, match=reason) as caught:
        await verifier.verify(message)
    assert caught.value.errno == 128
    assert http_status(caught.value) == 403


@pytest.mark.parametrize("field", ["Message", "MessageId", "Timestamp", "Type", "Subject"])
async def test_a_changed_signed_field_is_refused(
    sns: SnsDouble, verifier: SnsMessageVerifier, field: str
) -> None:
    message = sns.notification(ses_bounce(), subject="a subject")
    if field == "Message":
        message = _tampered(message)
    elif field == "Timestamp":
        message[field] = message[field].replace("Z", "+00:00")
    elif field == "Type":
        message = {**message, "Type": "SubscriptionConfirmation", "Token": "t"}
        message["SubscribeURL"] = f"{sns.url}/?Action=ConfirmSubscription"
    else:
        message[field] += "x"
    await _refused(verifier, message, "signature does not verify")


async def test_a_signature_by_another_key_is_refused(
    sns: SnsDouble, verifier: SnsMessageVerifier
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    unsigned = sns.notification(ses_bounce())
    del unsigned["Signature"]
    await _refused(verifier, sns.sign(unsigned, key=stranger), "signature does not verify")


async def test_forged_signature_text_is_refused(
    sns: SnsDouble, verifier: SnsMessageVerifier
) -> None:
    await _refused(verifier, {**sns.notification(ses_bounce()), "Signature": "FORGED"}, "base64")
    await _refused(verifier, {**sns.notification(ses_bounce()), "Signature": "Rk9SR0VE"}, "verify")


async def test_a_version_1_signature_claimed_as_version_2_is_refused(
    sns: SnsDouble, verifier: SnsMessageVerifier
) -> None:
    message = sns.notification(ses_bounce(), version="1")
    await _refused(verifier, {**message, "SignatureVersion": "2"}, "signature does not verify")
    await _refused(verifier, {**message, "SignatureVersion": "3"}, "SignatureVersion")


async def test_an_old_message_is_refused_even_signed(
    sns: SnsDouble, verifier: SnsMessageVerifier
) -> None:
    old = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1, minutes=1)
    await _refused(verifier, sns.notification(ses_bounce(), timestamp=old), "older than one hour")
    recent = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=59)
    await verifier.verify(sns.notification(ses_bounce(), timestamp=recent))


async def test_a_message_from_the_future_is_refused(
    sns: SnsDouble, certificates: Certificates
) -> None:
    clock = FakeClock(int(datetime.datetime.now(datetime.UTC).timestamp() * 1000))
    verifier = SnsMessageVerifier(
        "127.0.0.1", frozenset({TOPIC}), clock, cafile=certificates.cafile
    )
    try:
        message = sns.notification(ses_bounce())
        clock.advance(-3600)
        await _refused(verifier, message, "future")
    finally:
        await verifier.aclose()


async def test_a_certificate_on_a_foreign_host_is_never_fetched(
    sns: SnsDouble, verifier: SnsMessageVerifier
) -> None:
    for url in (
        f"https://localhost:{sns.port}/SimpleNotificationService-0.pem",
        f"https://127.0.0.1.evil.example:{sns.port}/SimpleNotificationService-0.pem",
        f"https://evil.example/?u=https://127.0.0.1:{sns.port}/cert.pem",
    ):
        message = sns.notification(ses_bounce(), cert_url=url)
        await _refused(verifier, message, "not on the SNS host")
    assert sns.downloads == 0


async def test_an_http_certificate_url_is_refused(
    sns: SnsDouble, verifier: SnsMessageVerifier
) -> None:
    url = sns.cert_url.replace("https://", "http://")
    await _refused(verifier, sns.notification(ses_bounce(), cert_url=url), "not https")
    assert sns.downloads == 0


async def test_a_certificate_url_that_is_no_certificate_is_refused(
    sns: SnsDouble, verifier: SnsMessageVerifier
) -> None:
    url = f"{sns.url}/?Action=Unsubscribe"
    await _refused(verifier, sns.notification(ses_bounce(), cert_url=url), "not a certificate")
    url = f"{sns.url}/missing.pem"
    await _refused(verifier, sns.notification(ses_bounce(), cert_url=url), "answered 404")


async def test_a_certificate_server_with_an_untrusted_tls_certificate_is_refused(
    sns: SnsDouble,
) -> None:
    verifier = SnsMessageVerifier("127.0.0.1", frozenset({TOPIC}), SystemClock())
    try:
        await _refused(verifier, sns.notification(ses_bounce()), "could not be downloaded")
    finally:
        await verifier.aclose()


async def test_an_unknown_topic_is_refused_before_any_download(
    sns: SnsDouble, verifier: SnsMessageVerifier
) -> None:
    other = "arn:aws:sns:us-east-1:999999999999:someone-else"
    await _refused(verifier, sns.notification(ses_bounce(), topic=other), "topic")
    await _refused(verifier, sns.confirmation(topic=other), "topic")
    assert sns.downloads == 0


async def test_missing_fields_are_refused(sns: SnsDouble, verifier: SnsMessageVerifier) -> None:
    message = sns.notification(ses_bounce())
    for field in ("Message", "MessageId", "Timestamp", "TopicArn", "Signature", "SigningCertURL"):
        await _refused(verifier, {k: v for k, v in message.items() if k != field}, field)
    await _refused(verifier, {**message, "Type": "Forged"}, "unknown Type")


async def test_subscription_confirmation_is_confirmed(
    sns: SnsDouble, verifier: SnsMessageVerifier
) -> None:
    verified = await verifier.verify(sns.confirmation())
    assert verified.type == "SubscriptionConfirmation"
    await verifier.confirm(verified)
    assert sns.requests["confirm"] == 1


async def test_unsubscribe_confirmation_verifies(
    sns: SnsDouble, verifier: SnsMessageVerifier
) -> None:
    verified = await verifier.verify(sns.confirmation(kind="UnsubscribeConfirmation"))
    assert verified.type == "UnsubscribeConfirmation"
