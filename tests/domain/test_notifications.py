"""HandleNotification with in-memory fakes: mappings and order of docs/operations.md."""

from __future__ import annotations

import logging

import pytest

from adapters.queues.memory import MemoryNotificationSink
from adapters.stores.keys import KeyHasher
from adapters.stores.memory import MemoryDeliveryProblemStore, MemoryMessageDataStore
from domain.errors import QueueError, StoreError
from domain.model import ProblemSubtype, ProblemType
from domain.notifications import Bounce, Complaint, Delivery, HandleNotification, Notification
from tests.fakes import FakeClock

NOW = 1_700_000_000_000
WHEN = NOW - 60_000
ORIGINAL = {"notificationType": "Bounce", "mail": {"messageId": "m-1"}, "extra": [1, 2]}


class World:
    def __init__(self) -> None:
        self.clock = FakeClock(NOW)
        hasher = KeyHasher("test key")
        self.problems = MemoryDeliveryProblemStore(hasher, self.clock, 365 * 86400)
        self.messages = MemoryMessageDataStore(hasher, self.clock, 86400)
        self.sink = MemoryNotificationSink()
        self.handle = HandleNotification(self.problems, self.messages, self.sink, self.clock)


@pytest.fixture
def world() -> World:
    return World()


def bounce(type_: str = "Permanent", subtype: str = "General", *to: str) -> Notification:
    event = Bounce(type_, subtype, to or ("a@example.com",), WHEN, "feedback-1")
    return Notification("m-1", event, ORIGINAL)


@pytest.mark.parametrize(
    ("bounce_type", "subtype_name", "type_", "subtype"),
    [
        ("Permanent", "General", ProblemType.HARD_BOUNCE, ProblemSubtype.GENERAL),
        ("Permanent", "NoEmail", ProblemType.HARD_BOUNCE, ProblemSubtype.NO_EMAIL),
        ("Permanent", "Suppressed", ProblemType.HARD_BOUNCE, ProblemSubtype.SUPPRESSED),
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
async def test_bounces_are_recorded_with_their_mapped_type_and_subtype(
    world: World, bounce_type: str, subtype_name: str, type_: ProblemType, subtype: ProblemSubtype
) -> None:
    handled = await world.handle(bounce(bounce_type, subtype_name))
    assert handled.recorded == 1
    [problem] = await world.problems.fetch("a@example.com")
    assert (problem.type, problem.subtype) == (type_, subtype)
    assert problem.created_at == WHEN
    assert problem.feedback_id == "feedback-1"


@pytest.mark.parametrize(
    ("bounce_type", "subtype_name", "type_", "subtype", "logged"),
    [
        # a real SES subtype this service has no number for
        ("Permanent", "OnAccountSuppressionList", 1, ProblemSubtype.UNMAPPED, "bounceSubType"),
        # a complaint name is not a bounce subtype
        ("Permanent", "abuse", 1, ProblemSubtype.UNMAPPED, "bounceSubType"),
        ("Sideways", "General", 2, ProblemSubtype.GENERAL, "bounceType"),
    ],
)
async def test_unknown_bounce_names_are_logged_and_never_fatal(
    world: World,
    caplog: pytest.LogCaptureFixture,
    bounce_type: str,
    subtype_name: str,
    type_: int,
    subtype: ProblemSubtype,
    logged: str,
) -> None:
    with caplog.at_level(logging.WARNING, logger="domain.notifications"):
        handled = await world.handle(bounce(bounce_type, subtype_name))
    assert handled.recorded == 1
    [problem] = await world.problems.fetch("a@example.com")
    assert (problem.type, problem.subtype) == (ProblemType(type_), subtype)
    assert logged in caplog.text
    assert repr(bounce_type if logged == "bounceType" else subtype_name) in caplog.text
    assert "a@example.com" not in caplog.text


@pytest.mark.parametrize(
    ("feedback_type", "subtype"),
    [
        ("abuse", ProblemSubtype.ABUSE),
        ("auth-failure", ProblemSubtype.AUTH_FAILURE),
        ("fraud", ProblemSubtype.FRAUD),
        ("not-spam", ProblemSubtype.NOT_SPAM),
        ("other", ProblemSubtype.OTHER),
        ("virus", ProblemSubtype.VIRUS),
        (None, ProblemSubtype.UNMAPPED),
        ("General", ProblemSubtype.UNMAPPED),
        ("something-new", ProblemSubtype.UNMAPPED),
    ],
)
async def test_complaints_are_recorded_with_their_feedback_type(
    world: World, feedback_type: str | None, subtype: ProblemSubtype
) -> None:
    event = Complaint(feedback_type, ("c@example.com",), WHEN, "feedback-c")
    await world.handle(Notification("m-2", event, {}))
    [problem] = await world.problems.fetch("c@example.com")
    assert (problem.type, problem.subtype) == (ProblemType.COMPLAINT, subtype)
    assert (problem.created_at, problem.feedback_id) == (WHEN, "feedback-c")


async def test_one_problem_per_recipient_even_when_a_recipient_is_listed_twice(
    world: World,
) -> None:
    handled = await world.handle(
        bounce("Permanent", "General", "a@example.com", "b@example.com", "a@example.com")
    )
    assert handled.recorded == 2
    assert len(await world.problems.fetch("a@example.com")) == 1
    assert len(await world.problems.fetch("B@example.com")) == 1


async def test_a_delivery_records_nothing_and_is_forwarded(world: World) -> None:
    original = {"notificationType": "Delivery", "mail": {"messageId": "m-3"}}
    handled = await world.handle(Notification("m-3", Delivery(("d@example.com",), WHEN), original))
    assert (handled.recorded, handled.forwarded) == (0, True)
    assert await world.problems.fetch("d@example.com") == []
    assert world.sink.sent == [original]


async def test_a_duplicate_notification_records_one_problem(world: World) -> None:
    first = await world.handle(bounce())
    again = await world.handle(bounce())
    assert (first.recorded, first.duplicates) == (1, 0)
    assert (again.recorded, again.duplicates) == (0, 1)
    assert len(await world.problems.fetch("a@example.com")) == 1


async def test_a_missing_timestamp_means_now(world: World) -> None:
    await world.handle(Notification("m", Bounce("Permanent", "General", ("a@example.com",)), {}))
    [problem] = await world.problems.fetch("a@example.com")
    assert problem.created_at == NOW


async def test_metadata_is_consumed_and_forwarded_with_the_original_fields(world: World) -> None:
    await world.messages.put("m-1", '{"flowId": 42}')
    handled = await world.handle(bounce())
    assert handled.forwarded
    assert world.sink.sent == [{**ORIGINAL, "metadata": '{"flowId": 42}'}]
    assert await world.messages.consume("m-1") is None  # consumed
    await world.handle(bounce())
    assert "metadata" not in world.sink.sent[1]


async def test_a_store_failure_stops_before_metadata_and_forwarding(world: World) -> None:
    await world.messages.put("m-1", "meta")
    world.problems.fail_with = StoreError("down")
    with pytest.raises(StoreError):
        await world.handle(bounce())
    assert world.sink.sent == []
    assert await world.messages.consume("m-1") == "meta"  # untouched


async def test_a_metadata_failure_raises_and_a_retry_loses_nothing(world: World) -> None:
    await world.messages.put("m-1", "meta")
    world.messages.fail_with = StoreError("down")
    with pytest.raises(StoreError):
        await world.handle(bounce())
    assert world.sink.sent == []
    world.messages.fail_with = None
    handled = await world.handle(bounce())  # the redelivery
    assert (handled.recorded, handled.duplicates) == (0, 1)
    assert world.sink.sent == [{**ORIGINAL, "metadata": "meta"}]


async def test_a_sink_failure_is_logged_not_raised_and_the_metadata_is_kept(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await world.messages.put("m-1", "secret relier metadata")
    world.sink.fail_with = QueueError("outgoing queue down")
    handled = await world.handle(bounce())
    assert (handled.recorded, handled.forwarded) == (1, False)
    assert "could not forward" in caplog.text
    assert "secret relier metadata" not in caplog.text
    assert await world.messages.consume("m-1") == "secret relier metadata"


async def test_without_a_sink_nothing_is_forwarded(world: World) -> None:
    handle = HandleNotification(world.problems, world.messages, None, world.clock)
    handled = await handle(bounce())
    assert (handled.recorded, handled.forwarded) == (1, False)


def test_the_kind_is_the_ses_notification_type() -> None:
    assert bounce().kind == "Bounce"
    assert Notification("m", Complaint(None, ()), {}).kind == "Complaint"
    assert Notification("m", Delivery(()), {}).kind == "Delivery"
