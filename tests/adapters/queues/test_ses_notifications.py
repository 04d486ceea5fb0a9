"""Parsing SQS bodies (SNS envelope or raw SES JSON) into domain notifications."""

from __future__ import annotations

import json

import pytest

from adapters.queues.ses_notifications import UnparseableNotification, body_md5, parse_body
from domain.notifications import Bounce, Complaint, Delivery
from tests.fixtures import ses

BOUNCED_AT = 1795172706477  # 2026-11-20T11:05:06.477Z


def test_a_raw_bounce() -> None:
    doc = ses.load("bounce-permanent")
    notification = parse_body(json.dumps(doc))
    assert notification.message_id == doc["mail"]["messageId"]
    assert notification.kind == "Bounce"
    assert notification.event == Bounce(
        bounce_type="Permanent",
        bounce_subtype="General",
        recipients=("jane@example.com", "Richard@Example.com"),
        timestamp_ms=BOUNCED_AT,
        feedback_id=doc["bounce"]["feedbackId"],
    )
    assert notification.original == doc


def test_an_sns_envelope_carries_the_same_notification() -> None:
    doc = ses.load("bounce-permanent")
    raw = parse_body(json.dumps(doc))
    enveloped = parse_body(json.dumps(ses.load("sns-envelope")))
    assert enveloped == raw
    assert enveloped.original == doc  # the SES JSON, not the envelope, is what is forwarded


@pytest.mark.parametrize("name", ["bounce-transient", "bounce-undetermined"])
def test_other_bounces(name: str) -> None:
    doc = ses.load(name)
    event = parse_body(json.dumps(ses.sns_envelope(doc))).event
    assert isinstance(event, Bounce)
    assert (event.bounce_type, event.bounce_subtype) == (
        doc["bounce"]["bounceType"],
        doc["bounce"]["bounceSubType"],
    )


def test_complaints_with_and_without_a_feedback_type() -> None:
    event = parse_body(json.dumps(ses.load("complaint"))).event
    assert event == Complaint(
        "abuse",
        ("angry@example.com",),
        1795183201000,
        "000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000",
    )
    event = parse_body(json.dumps(ses.load("complaint-no-feedback-type"))).event
    assert isinstance(event, Complaint)
    assert event.feedback_type is None
    assert event.recipients == ("quiet@example.com", "other@example.com")


def test_a_delivery() -> None:
    event = parse_body(json.dumps(ses.load("delivery"))).event
    assert event == Delivery(("happy@example.com", "glad@example.com"), 1795190400300)


def test_a_display_name_in_a_recipient_is_dropped() -> None:
    doc = ses.bounce("Permanent", "General", '"Jane Doe" <jane@example.com>')
    event = parse_body(json.dumps(doc)).event
    assert isinstance(event, Bounce)
    assert event.recipients == ("jane@example.com",)


def test_a_missing_bounce_timestamp_falls_back_to_the_mail_timestamp() -> None:
    doc = ses.load("bounce-permanent")
    del doc["bounce"]["timestamp"]
    event = parse_body(json.dumps(doc)).event
    assert isinstance(event, Bounce)
    assert event.timestamp_ms == 1795172704000


def test_the_md5_of_the_body_is_checked() -> None:
    body = json.dumps(ses.load("delivery"))
    assert parse_body(body, body_md5(body)).kind == "Delivery"
    assert parse_body(body, body_md5(body).upper()).kind == "Delivery"
    with pytest.raises(UnparseableNotification, match="MD5"):
        parse_body(body, body_md5(body + " "))


def _without(name: str, *path: str) -> str:
    doc = ses.load(name)
    target = doc
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (ses.text("broken.json.txt"), "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps(ses.load("unknown-type")), "unknown notificationType"),
        (json.dumps({**ses.load("bounce-permanent"), "notificationType": None}), "unknown"),
        (_without("bounce-permanent", "mail", "messageId"), "mail.messageId"),
        (_without("bounce-permanent", "bounce"), "bounce"),
        (_without("bounce-permanent", "bounce", "bouncedRecipients"), "bouncedRecipients"),
        (_without("complaint", "complaint", "complainedRecipients"), "complainedRecipients"),
        (_without("bounce-permanent", "bounce", "bounceType"), "bounceType"),
        (json.dumps({**ses.load("sns-envelope"), "Message": "{oops"}), "SNS Message: not JSON"),
        (json.dumps({**ses.load("sns-envelope"), "Type": "SubscriptionConfirmation"}), "Type"),
        (
            json.dumps({**ses.load("delivery"), "delivery": {"recipients": "x@example.com"}}),
            "delivery.recipients",
        ),
    ],
)
def test_unparseable_bodies_say_why(body: str, reason: str) -> None:
    with pytest.raises(UnparseableNotification, match=reason):
        parse_body(body)


def test_a_bad_timestamp_is_unparseable() -> None:
    doc = ses.load("complaint")
    doc["complaint"]["timestamp"] = "yesterday"
    with pytest.raises(UnparseableNotification, match="complaint.timestamp"):
        parse_body(json.dumps(doc))
