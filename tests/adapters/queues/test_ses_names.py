"""SES's names for bounces and complaints: each table keeps to its own kind (docs/api.md)."""

from __future__ import annotations

import logging

import pytest

from adapters.queues.ses_notifications import (
    BOUNCE_SUBTYPES,
    COMPLAINT_FEEDBACK_TYPES,
    parse_ses,
)
from domain.model import ProblemSubtype, ProblemType
from tests.fixtures import ses

BOUNCE_NAMES = [
    "Undetermined",
    "General",
    "NoEmail",
    "Suppressed",
    "OnAccountSuppressionList",
    "MailboxFull",
    "MessageTooLarge",
    "ContentRejected",
    "AttachmentRejected",
]
COMPLAINT_NAMES = ["abuse", "auth-failure", "fraud", "not-spam", "other", "virus"]


def test_the_tables_hold_exactly_the_documented_names() -> None:
    assert sorted(BOUNCE_SUBTYPES) == sorted(BOUNCE_NAMES)
    assert sorted(COMPLAINT_FEEDBACK_TYPES) == sorted(COMPLAINT_NAMES)
    assert {s.value for s in BOUNCE_SUBTYPES.values()} == set(range(1, 9))
    assert {s.value for s in COMPLAINT_FEEDBACK_TYPES.values()} == set(range(9, 15))


@pytest.mark.parametrize("name", COMPLAINT_NAMES)
def test_no_complaint_name_is_a_bounce_subtype(name: str) -> None:
    event = parse_ses(ses.bounce("Permanent", name))
    assert (event.problem_type, event.problem_subtype) == (
        ProblemType.HARD_BOUNCE,
        ProblemSubtype.UNMAPPED,
    )


@pytest.mark.parametrize("name", BOUNCE_NAMES)
def test_no_bounce_name_is_a_complaint_feedback_type(name: str) -> None:
    doc = ses.load("complaint")
    doc["complaint"]["complaintFeedbackType"] = name
    doc["complaint"].pop("complaintSubType", None)
    event = parse_ses(doc)
    assert (event.problem_type, event.problem_subtype) == (
        ProblemType.COMPLAINT,
        ProblemSubtype.UNMAPPED,
    )


def test_an_unknown_name_is_logged_as_one_whole_message(caplog: pytest.LogCaptureFixture) -> None:
    doc = ses.bounce("Sideways", "General", "secret@example.com")
    with caplog.at_level(logging.WARNING, logger="adapters.queues.ses_notifications"):
        event = parse_ses(doc)
    assert event.problem_type is ProblemType.SOFT_BOUNCE
    assert [r.getMessage() for r in caplog.records] == [
        f"unknown SES bounceType 'Sideways' in an event about {doc['mail']['messageId']}"
    ]
