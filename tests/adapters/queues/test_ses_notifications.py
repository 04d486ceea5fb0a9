"""SES notifications and event records (SNS envelope or raw) -> provider-neutral events."""

from __future__ import annotations

import json
import logging

import pytest

from adapters.queues.ses_notifications import (
    UnparseableNotification,
    body_md5,
    incoming,
    parse_body,
    parse_ses,
)
from domain.events import BOUNCE, COMPLAINT, DELIVERY, DeliveryEvent, Mail
from domain.model import ProblemSubtype, ProblemType
from ports.queues import ReceivedEvent, UnparseableMessage
from tests.fixtures import ses

BOUNCED_AT = 1795172706477  # 2026-11-20T11:05:06.477Z
SENT_AT = 1795172704000  # 2026-11-20T11:05:04.000Z


def test_a_raw_bounce() -> None:
    doc = ses.load("bounce-permanent")
    event = parse_body(json.dumps(doc))
    assert event == DeliveryEvent(
        "ses",
        BOUNCE,
        Mail(
            doc["mail"]["messageId"],
            SENT_AT,
            "Firefox Accounts <accounts@example.com>",
            ("jane@example.com", "mary@example.com", "Richard@Example.com"),
            tuple((h["name"], h["value"]) for h in doc["mail"]["headers"]),
        ),
        ("jane@example.com", "Richard@Example.com"),
        ProblemType.HARD_BOUNCE,
        ProblemSubtype.GENERAL,
        BOUNCED_AT,
        doc["bounce"]["feedbackId"],
    )
    assert event.message_id == doc["mail"]["messageId"]


def test_an_sns_envelope_carries_the_same_event() -> None:
    raw = parse_body(json.dumps(ses.load("bounce-permanent")))
    assert parse_body(json.dumps(ses.load("sns-envelope"))) == raw


@pytest.mark.parametrize(
    ("bounce_type", "subtype_name", "type_", "subtype"),
    [
        ("Permanent", "General", ProblemType.HARD_BOUNCE, ProblemSubtype.GENERAL),
        ("Permanent", "NoEmail", ProblemType.HARD_BOUNCE, ProblemSubtype.NO_EMAIL),
        ("Permanent", "Suppressed", ProblemType.HARD_BOUNCE, ProblemSubtype.SUPPRESSED),
        (
            "Permanent",
            "OnAccountSuppressionList",
            ProblemType.HARD_BOUNCE,
            ProblemSubtype.SUPPRESSED,
        ),
        ("Transient", "General", ProblemType.SOFT_BOUNCE, ProblemSubtype.GENERAL),
        ("Transient", "MailboxFull", ProblemType.SOFT_BOUNCE, ProblemSubtype.MAILBOX_FULL),
        ("Transient", "MessageTooLarge", ProblemType.SOFT_BOUNCE, ProblemSubtype.MESSAGE_TOO_LARGE),
        ("Transient", "ContentRejected", ProblemType.SOFT_BOUNCE, ProblemSubtype.CONTENT_REJECTED),
        (
            "Transient",
            "AttachmentRejected",
            ProblemType.SOFT_BOUNCE,
            ProblemSubtype.ATTACHMENT_REJECTED,
        ),
        ("Undetermined", "Undetermined", ProblemType.SOFT_BOUNCE, ProblemSubtype.UNDETERMINED),
    ],
)
def test_ses_bounce_names_are_mapped(
    bounce_type: str, subtype_name: str, type_: ProblemType, subtype: ProblemSubtype
) -> None:
    event = parse_ses(ses.bounce(bounce_type, subtype_name))
    assert (event.problem_type, event.problem_subtype) == (type_, subtype)


@pytest.mark.parametrize(
    ("bounce_type", "subtype_name", "type_", "subtype", "logged"),
    [
        ("Permanent", "abuse", ProblemType.HARD_BOUNCE, ProblemSubtype.UNMAPPED, "bounceSubType"),
        (
            "Permanent",
            "BrandNew",
            ProblemType.HARD_BOUNCE,
            ProblemSubtype.UNMAPPED,
            "bounceSubType",
        ),
        ("Sideways", "General", ProblemType.SOFT_BOUNCE, ProblemSubtype.GENERAL, "bounceType"),
    ],
)
def test_unknown_bounce_names_are_logged_and_never_fatal(
    caplog: pytest.LogCaptureFixture,
    bounce_type: str,
    subtype_name: str,
    type_: ProblemType,
    subtype: ProblemSubtype,
    logged: str,
) -> None:
    doc = ses.bounce(bounce_type, subtype_name, "secret@example.com")
    with caplog.at_level(logging.WARNING, logger="adapters.queues.ses_notifications"):
        event = parse_ses(doc)
    assert (event.problem_type, event.problem_subtype) == (type_, subtype)
    assert logged in caplog.text
    assert "secret@example.com" not in caplog.text


@pytest.mark.parametrize(
    ("feedback_type", "complaint_subtype", "subtype"),
    [
        ("abuse", None, ProblemSubtype.ABUSE),
        ("auth-failure", None, ProblemSubtype.AUTH_FAILURE),
        ("fraud", None, ProblemSubtype.FRAUD),
        ("not-spam", None, ProblemSubtype.NOT_SPAM),
        ("other", None, ProblemSubtype.OTHER),
        ("virus", None, ProblemSubtype.VIRUS),
        (None, None, ProblemSubtype.UNMAPPED),
        ("General", None, ProblemSubtype.UNMAPPED),
        ("something-new", None, ProblemSubtype.UNMAPPED),
        (None, "OnAccountSuppressionList", ProblemSubtype.SUPPRESSED),
    ],
)
def test_ses_complaint_names_are_mapped(
    feedback_type: str | None, complaint_subtype: str | None, subtype: ProblemSubtype
) -> None:
    doc = ses.load("complaint")
    doc["complaint"]["complaintFeedbackType"] = feedback_type
    doc["complaint"]["complaintSubType"] = complaint_subtype
    event = parse_ses(doc)
    assert (event.kind, event.problem_type) == (COMPLAINT, ProblemType.COMPLAINT)
    assert event.problem_subtype == subtype


def test_complaints_with_and_without_a_feedback_type() -> None:
    event = parse_body(json.dumps(ses.load("complaint")))
    assert event.recipients == ("angry@example.com",)
    assert event.timestamp_ms == 1795183201000
    assert event.event_id == "000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000"
    event = parse_body(json.dumps(ses.load("complaint-no-feedback-type")))
    assert event.problem_subtype is ProblemSubtype.UNMAPPED
    assert event.recipients == ("quiet@example.com", "other@example.com")


def test_a_delivery() -> None:
    event = parse_body(json.dumps(ses.load("delivery")))
    assert (event.kind, event.problem_type) == (DELIVERY, None)
    assert event.recipients == ("happy@example.com", "glad@example.com")
    assert event.timestamp_ms == 1795190400300


def test_a_display_name_in_a_recipient_is_dropped() -> None:
    event = parse_ses(ses.bounce("Permanent", "General", '"Jane Doe" <jane@example.com>'))
    assert event.recipients == ("jane@example.com",)


def test_a_missing_bounce_timestamp_is_none_and_the_mail_time_is_kept() -> None:
    doc = ses.load("bounce-permanent")
    del doc["bounce"]["timestamp"]
    event = parse_ses(doc)
    assert (event.timestamp_ms, event.mail.timestamp_ms) == (None, SENT_AT)


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


def _with(name: str, value: object, *path: str) -> str:
    doc = ses.load(name)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(doc)


POISON = [
    (ses.text("broken.json.txt"), "not JSON"),
    ("[1, 2]", "not a JSON object"),
    ('"a string"', "not a JSON object"),
    ("null", "not a JSON object"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"notificationType": NaN}', "NaN is not JSON"),
    (_with("bounce-permanent", float("inf"), "bounce", "feedbackId"), "Infinity is not JSON"),
    (json.dumps(ses.load("unknown-type")), "unknown notificationType"),
    (json.dumps({**ses.load("bounce-permanent"), "notificationType": None}), "unknown"),
    (json.dumps({"eventType": "Teleport", "mail": {}}), "unknown eventType"),
    (_without("bounce-permanent", "mail", "messageId"), "mail.messageId"),
    (_with("bounce-permanent", "x", "mail"), "mail"),
    (_with("bounce-permanent", [{"name": 1}], "mail", "headers"), "mail.headers"),
    (_with("bounce-permanent", "a@example.com", "mail", "destination"), "mail.destination"),
    (_without("bounce-permanent", "bounce"), "bounce"),
    (_without("bounce-permanent", "bounce", "bouncedRecipients"), "bouncedRecipients"),
    (_with("bounce-permanent", ["a@example.com"], "bounce", "bouncedRecipients"), "entry"),
    (_without("complaint", "complaint", "complainedRecipients"), "complainedRecipients"),
    (_without("bounce-permanent", "bounce", "bounceType"), "bounceType"),
    (_with("bounce-permanent", 12, "bounce", "timestamp"), "bounce.timestamp"),
    (_with("complaint", "yesterday", "complaint", "timestamp"), "complaint.timestamp"),
    (json.dumps({**ses.load("sns-envelope"), "Message": "{oops"}), "SNS Message: not JSON"),
    (json.dumps({**ses.load("sns-envelope"), "Message": "[1]"}), "SNS Message: not a JSON"),
    (json.dumps({**ses.load("sns-envelope"), "Type": "SubscriptionConfirmation"}), "Type"),
    (_with("delivery", {"recipients": "x@example.com"}, "delivery"), "delivery.recipients"),
]


@pytest.mark.parametrize(("body", "reason"), POISON, ids=range(len(POISON)))
def test_unparseable_bodies_say_why(body: str, reason: str) -> None:
    with pytest.raises(UnparseableNotification, match=reason):
        parse_body(body)


@pytest.mark.parametrize(("body", "reason"), POISON, ids=range(len(POISON)))
def test_a_poison_body_becomes_an_unparseable_message_and_never_raises(
    body: str, reason: str
) -> None:
    message = incoming("q", "id-1", "receipt", body, body_md5(body))
    assert isinstance(message, UnparseableMessage)
    assert reason in message.error
    assert (message.queue, message.id, message.receipt) == ("q", "id-1", "receipt")


def test_a_good_body_becomes_a_received_event() -> None:
    body = json.dumps(ses.sns_envelope(ses.load("delivery")))
    message = incoming("q", "id-2", "receipt", body, body_md5(body))
    assert isinstance(message, ReceivedEvent)
    assert message.event.kind == DELIVERY


def test_any_failure_while_parsing_is_unparseable(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object) -> DeliveryEvent:
        raise MemoryError  # not a ValueError: still caught, named, never raised

    monkeypatch.setattr("adapters.queues.ses_notifications.parse_body", explode)
    message = incoming("q", "id-3", "receipt", "{}", body_md5("{}"))
    assert isinstance(message, UnparseableMessage)
    assert message.error == "cannot parse: MemoryError"


# Amazon's published examples of both formats (tests/fixtures/ses/aws/SOURCES.md):
# kind, recipients, problem type and subtype, event id.
AWS_EXPECTED: dict[str, tuple[str, tuple[str, ...], ProblemType | None, ProblemSubtype]] = {
    "notification-bounce-dsn": (
        BOUNCE,
        ("jane@example.com",),
        ProblemType.HARD_BOUNCE,
        ProblemSubtype.GENERAL,
    ),
    "notification-bounce-no-dsn": (
        BOUNCE,
        ("jane@example.com", "richard@example.com"),
        ProblemType.HARD_BOUNCE,
        ProblemSubtype.GENERAL,
    ),
    "notification-complaint-feedback": (
        COMPLAINT,
        ("richard@example.com",),
        ProblemType.COMPLAINT,
        ProblemSubtype.ABUSE,
    ),
    "notification-complaint-no-feedback": (
        COMPLAINT,
        ("richard@example.com",),
        ProblemType.COMPLAINT,
        ProblemSubtype.UNMAPPED,
    ),
    "notification-delivery": (DELIVERY, ("jane@example.com",), None, ProblemSubtype.UNMAPPED),
    "event-bounce": (
        BOUNCE,
        ("recipient@example.com",),
        ProblemType.HARD_BOUNCE,
        ProblemSubtype.GENERAL,
    ),
    "event-complaint": (
        COMPLAINT,
        ("recipient@example.com",),
        ProblemType.COMPLAINT,
        ProblemSubtype.ABUSE,
    ),
    "event-delivery": (DELIVERY, ("recipient@example.com",), None, ProblemSubtype.UNMAPPED),
    "event-send": ("Send", (), None, ProblemSubtype.UNMAPPED),
    "event-reject": ("Reject", (), None, ProblemSubtype.UNMAPPED),
    "event-open": ("Open", (), None, ProblemSubtype.UNMAPPED),
    "event-click": ("Click", (), None, ProblemSubtype.UNMAPPED),
    "event-rendering-failure": ("Rendering Failure", (), None, ProblemSubtype.UNMAPPED),
    "event-delivery-delay": ("DeliveryDelay", (), None, ProblemSubtype.UNMAPPED),
    "event-subscription": ("Subscription", (), None, ProblemSubtype.UNMAPPED),
}


def test_every_aws_example_has_an_expectation() -> None:
    assert sorted(AWS_EXPECTED) == ses.AWS_EXAMPLES


@pytest.mark.parametrize("name", sorted(AWS_EXPECTED))
@pytest.mark.parametrize("envelope", [False, True], ids=["raw", "sns"])
def test_amazons_examples_of_both_formats_parse(name: str, envelope: bool) -> None:
    doc = ses.aws(name)
    body = json.dumps(ses.sns_envelope(doc) if envelope else doc)
    message = incoming("q", "id", "receipt", body, body_md5(body))
    assert isinstance(message, ReceivedEvent), message
    event = message.event
    kind, recipients, type_, subtype = AWS_EXPECTED[name]
    assert (event.kind, event.recipients) == (kind, recipients)
    assert (event.problem_type, event.problem_subtype) == (type_, subtype)
    assert event.message_id == doc["mail"]["messageId"]
    assert event.mail.destination == tuple(doc["mail"]["destination"])
    if type_ is not None:
        feedback = doc["bounce" if kind == BOUNCE else "complaint"]["feedbackId"]
        assert event.event_id == feedback
    if kind not in (BOUNCE, COMPLAINT, DELIVERY):  # forwarded as they are
        assert dict(event.details) == {
            k: v for k, v in doc.items() if k not in ("eventType", "mail")
        }


@pytest.mark.parametrize("kind", [["Bounce"], {"Bounce": 1}, 5, None])
def test_a_kind_that_is_not_a_string_is_unparseable(kind: object) -> None:
    # /events/sns reads a verified Message with parse_ses itself: only this error may leave.
    document = {**ses.load("bounce-permanent"), "notificationType": kind}
    with pytest.raises(UnparseableNotification, match="unknown notificationType"):
        parse_ses(document)
