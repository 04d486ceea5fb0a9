"""SocketLabs posts: the secret key, the server id and the two body encodings."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urlencode

import pytest

from adapters.events import UnmappedEvent
from adapters.events.socketlabs import (
    SocketlabsNotificationVerifier,
    delivery_event,
    read_post,
)
from domain.errors import UnverifiedEvent
from domain.model import ProblemSubtype, ProblemType
from tests.fixtures.socketlabs import load

SECRET = "ABC123"


def verifier(server_id: int | None = 12345) -> SocketlabsNotificationVerifier:
    return SocketlabsNotificationVerifier(SECRET, "validation-key-1", server_id)


@pytest.mark.parametrize("name", ["validation", "failed", "complaint", "delivered"])
def test_posts_with_the_secret_key_verify(name: str) -> None:
    verifier().verify(load(name))


@pytest.mark.parametrize("secret", [None, "", "ABC12", "ABC1234", "abc123", 123, ["ABC123"]])
def test_a_missing_or_wrong_secret_key_is_refused(secret: object) -> None:
    fields = load("failed")
    fields["SecretKey"] = secret
    with pytest.raises(UnverifiedEvent, match="SecretKey"):
        verifier().verify(fields)


def test_another_server_is_refused_when_the_server_id_is_configured() -> None:
    fields = {**load("failed"), "ServerId": 99999}
    with pytest.raises(UnverifiedEvent, match="ServerId"):
        verifier().verify(fields)
    verifier(server_id=None).verify(fields)
    verifier().verify({**fields, "ServerId": "12345"})


def test_json_and_form_posts_read_alike() -> None:
    fields = load("validation")
    as_json = read_post(json.dumps(fields).encode(), "application/json; charset=utf-8")
    as_form = read_post(urlencode(fields).encode(), "application/x-www-form-urlencoded")
    assert as_json["SecretKey"] == as_form["SecretKey"] == SECRET
    assert as_json["Type"] == as_form["Type"] == "Validation"


@pytest.mark.parametrize("raw", [b"", b"[1, 2]", b"{", b"\xff", b"[" * 100_000])
def test_a_body_that_is_no_object_is_refused(raw: bytes) -> None:
    with pytest.raises(UnverifiedEvent):
        read_post(raw, "application/json")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("failed", ("Bounce", ProblemType.HARD_BOUNCE, ProblemSubtype.NO_EMAIL)),
        ("complaint", ("Complaint", ProblemType.COMPLAINT, ProblemSubtype.ABUSE)),
        ("delivered", ("Delivery", None, ProblemSubtype.UNMAPPED)),
    ],
)
def test_posts_map_to_delivery_events(
    name: str, expected: tuple[str, ProblemType | None, ProblemSubtype]
) -> None:
    mapped = delivery_event(load(name))
    assert (mapped.kind, mapped.problem_type, mapped.problem_subtype) == expected
    assert (mapped.provider, mapped.message_id) == ("socketlabs", "1209957964")
    assert mapped.recipients == ("example@example.com",)
    times = {"failed": "10:05:56", "complaint": "10:06:56", "delivered": "10:04:58"}
    moment = datetime.fromisoformat(f"2023-06-12T{times[name]}.369468+00:00")
    assert mapped.timestamp_ms == int(moment.timestamp() * 1000)  # 7 digits of fraction read


@pytest.mark.parametrize(
    ("failure_type", "status", "expected"),
    [
        ("Permanent", "5.1.1", (ProblemType.HARD_BOUNCE, ProblemSubtype.NO_EMAIL)),
        ("1", "5.2.2", (ProblemType.HARD_BOUNCE, ProblemSubtype.MAILBOX_FULL)),
        ("Temporary", "4.2.2", (ProblemType.SOFT_BOUNCE, ProblemSubtype.MAILBOX_FULL)),
        (0, "4.4.1", (ProblemType.SOFT_BOUNCE, ProblemSubtype.GENERAL)),
        ("Suppressed", "", (ProblemType.HARD_BOUNCE, ProblemSubtype.SUPPRESSED)),
        (2, "5.1.1", (ProblemType.HARD_BOUNCE, ProblemSubtype.SUPPRESSED)),
        (None, "5.3.4", (ProblemType.HARD_BOUNCE, ProblemSubtype.MESSAGE_TOO_LARGE)),
        ("Unknown", "4.6.0", (ProblemType.SOFT_BOUNCE, ProblemSubtype.CONTENT_REJECTED)),
        (None, None, (ProblemType.SOFT_BOUNCE, ProblemSubtype.UNDETERMINED)),
    ],
)
def test_failures_map_by_failure_type_then_bounce_status(
    failure_type: object, status: str | None, expected: tuple[ProblemType, ProblemSubtype]
) -> None:
    fields = {**load("failed"), "FailureType": failure_type, "BounceStatus": status}
    mapped = delivery_event(fields)
    assert (mapped.problem_type, mapped.problem_subtype) == expected


@pytest.mark.parametrize("fbl", ["fraud", "virus", "not-spam", "other", "auth-failure"])
def test_complaints_keep_their_feedback_type(fbl: str) -> None:
    mapped = delivery_event({**load("complaint"), "FblType": fbl})
    assert mapped.problem_subtype.wire_name == fbl
    mapped = delivery_event({**load("complaint"), "FblType": "made-up"})
    assert mapped.problem_subtype is ProblemSubtype.UNMAPPED


@pytest.mark.parametrize(
    "fields",
    [
        {**load("delivered"), "Type": "Queued"},
        {**load("delivered"), "Type": "Deferred"},
        {**load("delivered"), "Type": "Tracking"},
        {**load("failed"), "Address": None},
        {**load("failed"), "MessageId": ""},
    ],
)
def test_posts_that_map_to_nothing(fields: dict[str, object]) -> None:
    with pytest.raises(UnmappedEvent):
        delivery_event(fields)
