"""HandleDeliveryEvent with in-memory fakes: order, clamping and the outgoing shape."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import replace

import pytest

from adapters.queues.memory import MemoryNotificationSink
from adapters.stores.keys import KeyHasher
from adapters.stores.memory import MemoryDeliveryProblemStore, MemoryMessageDataStore
from domain.errors import QueueError, StoreError
from domain.events import BOUNCE, COMPLAINT, DELIVERY, DeliveryEvent, Mail
from domain.model import DeliveryProblem, MessageData, ProblemSubtype, ProblemType
from domain.notifications import (
    FUTURE_TOLERANCE_MS,
    HandleDeliveryEvent,
    iso_time,
    outgoing_notification,
)
from ports.stores import DeliveryProblemStore
from tests.fakes import FakeClock, Faulty, faulty_messages, faulty_problems
from tests.fixtures import auth_server

NOW = 1_700_000_000_000
SENT = NOW - 120_000
WHEN = NOW - 60_000
MAIL = Mail(
    "m-1",
    SENT,
    "Firefox Accounts <accounts@example.com>",
    ("a@example.com", "b@example.com"),
    (("X-Template-Name", "verifyEmail"), ("x-uid", "abc123")),
)


class World:
    def __init__(self) -> None:
        self.clock = FakeClock(NOW)
        hasher = KeyHasher("test key")
        self.problems = faulty_problems(MemoryDeliveryProblemStore(hasher, self.clock, 365 * 86400))
        self.messages = faulty_messages(MemoryMessageDataStore(hasher, self.clock, 86400))
        self.sink = Faulty(MemoryNotificationSink(), "send")
        self.handle = HandleDeliveryEvent(
            self.problems.port, self.messages.port, self.sink.port, self.clock
        )

    def read(self, index: int = -1) -> auth_server.Read:
        """The forwarded notification as the auth server reads it from the raw JSON."""
        return auth_server.read(json.dumps(self.sink.sent[index]), raw=True)


@pytest.fixture
def world() -> World:
    return World()


def bounce(
    *to: str,
    type_: ProblemType = ProblemType.HARD_BOUNCE,
    subtype: ProblemSubtype = ProblemSubtype.GENERAL,
    when: int | None = WHEN,
    event_id: str | None = "feedback-1",
    mail: Mail = MAIL,
) -> DeliveryEvent:
    recipients = to or ("a@example.com",)
    return DeliveryEvent("ses", BOUNCE, mail, recipients, type_, subtype, when, event_id)


def complaint(subtype: ProblemSubtype = ProblemSubtype.ABUSE) -> DeliveryEvent:
    recipients = ("c@example.com",)
    return DeliveryEvent("ses", COMPLAINT, MAIL, recipients, ProblemType.COMPLAINT, subtype, WHEN)


def delivery(*to: str) -> DeliveryEvent:
    return DeliveryEvent("ses", DELIVERY, MAIL, to or ("d@example.com",), timestamp_ms=WHEN)


async def test_a_bounce_is_recorded_per_recipient_with_its_type_subtype_and_time(
    world: World,
) -> None:
    handled = await world.handle(
        bounce("a@example.com", "b@example.com", "a@example.com", subtype=ProblemSubtype.NO_EMAIL)
    )
    assert (handled.recorded, handled.duplicates, handled.forwarded) == (2, 0, True)
    for address in ("a@example.com", "B@example.com"):
        [problem] = await world.problems.fetch(address)
        assert (problem.type, problem.subtype) == (ProblemType.HARD_BOUNCE, ProblemSubtype.NO_EMAIL)
        assert (problem.created_at, problem.feedback_id) == (WHEN, "feedback-1")


async def test_a_complaint_is_recorded(world: World) -> None:
    await world.handle(complaint(ProblemSubtype.FRAUD))
    [problem] = await world.problems.fetch("c@example.com")
    assert (problem.type, problem.subtype) == (ProblemType.COMPLAINT, ProblemSubtype.FRAUD)


async def test_a_delivery_records_nothing_and_is_forwarded(world: World) -> None:
    handled = await world.handle(delivery())
    assert (handled.recorded, handled.forwarded) == (0, True)
    assert await world.problems.fetch("d@example.com") == []
    assert world.read().addresses == ("d@example.com",)


async def test_other_kinds_record_nothing_and_are_forwarded_with_their_details(
    world: World,
) -> None:
    event = DeliveryEvent("ses", "Open", MAIL, details={"open": {"ipAddress": "192.0.2.1"}})
    handled = await world.handle(event)
    assert (handled.recorded, handled.forwarded) == (0, True)
    [sent] = world.sink.sent
    assert sent["notificationType"] == "Open"
    assert sent["open"] == {"ipAddress": "192.0.2.1"}
    assert world.read().addresses == ()


async def test_a_duplicate_event_records_one_problem(world: World) -> None:
    first = await world.handle(bounce())
    again = await world.handle(bounce())
    assert (first.recorded, first.duplicates) == (1, 0)
    assert (again.recorded, again.duplicates) == (0, 1)
    assert len(await world.problems.fetch("a@example.com")) == 1


async def test_a_duplicate_without_an_event_id_records_one_problem(world: World) -> None:
    await world.handle(bounce(event_id=None))
    world.clock.advance(30)  # redelivered later: the key is the provider's time, not ours
    again = await world.handle(bounce(event_id=None))
    assert (again.recorded, again.duplicates) == (0, 1)
    assert len(await world.problems.fetch("a@example.com")) == 1


async def test_different_events_without_an_event_id_are_both_recorded(world: World) -> None:
    await world.handle(bounce(event_id=None))
    again = await world.handle(bounce(event_id=None, when=WHEN + 1000))
    assert again.recorded == 1
    assert len(await world.problems.fetch("a@example.com")) == 2


@pytest.mark.parametrize(
    ("when", "mail_time", "recorded_at"),
    [
        (WHEN, SENT, WHEN),
        (NOW + FUTURE_TOLERANCE_MS, SENT, NOW + FUTURE_TOLERANCE_MS),  # clocks drift a little
        (NOW + FUTURE_TOLERANCE_MS + 1, SENT, NOW),
        (253402300799000, SENT, NOW),  # 9999-12-31T23:59:59Z: would block for ever
        (SENT - 1, SENT, NOW),  # before the email was sent
        (None, SENT, SENT),  # no time of its own: the mail's
        (None, None, NOW),
        (WHEN, None, WHEN),
    ],
)
async def test_problem_times_are_clamped(
    world: World, when: int | None, mail_time: int | None, recorded_at: int
) -> None:
    await world.handle(bounce(when=when, mail=replace(MAIL, timestamp_ms=mail_time)))
    [problem] = await world.problems.fetch("a@example.com")
    assert problem.created_at == recorded_at
    assert world.sink.sent[0]["bounce"]["timestamp"] == iso_time(recorded_at)


async def test_metadata_is_read_never_consumed(world: World) -> None:
    await world.messages.put("m-1", '{"flowId": 42}')
    await world.handle(delivery("a@example.com"))
    await world.handle(bounce("b@example.com"))  # a cc bounced
    world.clock.advance(3 * 86400 // 4)  # a complaint, days later, within the TTL
    await world.handle(complaint())
    assert [world.read(i).metadata for i in range(3)] == ['{"flowId": 42}'] * 3
    assert await world.messages.get("m-1") == MessageData('{"flowId": 42}')


async def test_without_metadata_none_is_forwarded(world: World) -> None:
    await world.handle(bounce())
    assert "metadata" not in world.sink.sent[0]


async def test_the_relier_id_is_forwarded_beside_the_metadata_never_consumed(
    world: World,
) -> None:
    await world.messages.put("m-1", "meta", "fxa-auth")
    await world.handle(bounce())
    await world.handle(delivery("a@example.com"))
    assert [(n["relier"], n["metadata"]) for n in world.sink.sent] == [("fxa-auth", "meta")] * 2
    await world.messages.put("m-1", None, "fxa-auth")  # a relier that sent no metadata
    await world.handle(complaint())
    assert world.sink.sent[-1]["relier"] == "fxa-auth"
    assert "metadata" not in world.sink.sent[-1]


async def test_without_a_stored_relier_none_is_forwarded(world: World) -> None:
    await world.messages.put("m-1", "meta")
    await world.handle(bounce())
    assert "relier" not in world.sink.sent[0]


async def test_a_store_failure_stops_before_metadata_and_forwarding(world: World) -> None:
    world.problems.fail_with = StoreError("down")
    with pytest.raises(StoreError):
        await world.handle(bounce())
    assert world.sink.sent == []


async def test_a_metadata_failure_raises_and_a_retry_loses_nothing(world: World) -> None:
    await world.messages.put("m-1", "meta")
    world.messages.fail_with = StoreError("down")
    with pytest.raises(StoreError):
        await world.handle(bounce())
    assert world.sink.sent == []
    world.messages.fail_with = None
    handled = await world.handle(bounce())  # the redelivery
    assert (handled.recorded, handled.duplicates) == (0, 1)
    assert world.read().metadata == "meta"


async def test_a_refused_forward_raises_and_the_redelivery_forwards_once(world: World) -> None:
    await world.messages.put("m-1", "secret relier metadata")
    world.sink.fail_with = QueueError("outgoing queue down")
    with pytest.raises(QueueError):
        await world.handle(bounce())
    assert world.sink.sent == []
    world.sink.fail_with = None
    handled = await world.handle(bounce())  # the message came back
    assert (handled.recorded, handled.duplicates, handled.forwarded) == (0, 1, True)
    assert len(world.sink.sent) == 1
    assert world.read().metadata == "secret relier metadata"


async def test_without_a_sink_nothing_is_forwarded(world: World) -> None:
    handle = HandleDeliveryEvent(world.problems, world.messages, None, world.clock)
    handled = await handle(bounce())
    assert (handled.recorded, handled.forwarded) == (1, False)


class CountingStore:
    """Wraps a DeliveryProblemStore, counting records (its fakes never yield to the loop)."""

    def __init__(self, inner: DeliveryProblemStore) -> None:
        self.inner = inner
        self.recorded = 0

    async def fetch(self, address: str) -> list[DeliveryProblem]:
        return list(await self.inner.fetch(address))

    async def fetch_many(self, addresses: Sequence[str]) -> list[Sequence[DeliveryProblem]]:
        return await self.inner.fetch_many(addresses)

    async def record(self, problem: DeliveryProblem) -> bool:
        self.recorded += 1
        return await self.inner.record(problem)

    async def clear(self, address: str) -> int:
        return await self.inner.clear(address)


async def test_thousands_of_recipients_do_not_stall_the_loop(world: World) -> None:
    recipients = tuple(f"user{i}@example.com" for i in range(5000))
    store = CountingStore(world.problems.port)
    handle = HandleDeliveryEvent(store, world.messages.port, world.sink.port, world.clock)
    seen: list[int] = []
    done = asyncio.Event()

    async def watch() -> None:  # runs only when handling yields to the loop
        while not done.is_set():
            seen.append(store.recorded)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0)
    handled = await handle(bounce(*recipients))
    done.set()
    await watcher
    assert handled.recorded == 5000
    assert any(0 < count < 5000 for count in seen)  # the loop ran while recording
    assert world.read().addresses == recipients


def test_the_outgoing_bounce_is_what_the_auth_server_reads() -> None:
    document = outgoing_notification(bounce("a@example.com", "b@example.com"), WHEN, "meta")
    assert document == {
        "notificationType": "Bounce",
        "mail": {
            "timestamp": iso_time(SENT),
            "messageId": "m-1",
            "source": "Firefox Accounts <accounts@example.com>",
            "destination": ["a@example.com", "b@example.com"],
            "headers": [
                {"name": "X-Template-Name", "value": "verifyEmail"},
                {"name": "x-uid", "value": "abc123"},
            ],
        },
        "metadata": "meta",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": ["a@example.com", "b@example.com"],
            "timestamp": iso_time(WHEN),
        },
    }
    read = auth_server.read(json.dumps(document), raw=True)
    assert (read.template, read.uid, read.domains) == (
        "verifyEmail",
        "abc123",
        ("example.com",) * 2,
    )


@pytest.mark.parametrize(
    ("type_", "subtype", "bounce_type", "bounce_subtype"),
    [
        (ProblemType.HARD_BOUNCE, ProblemSubtype.SUPPRESSED, "Permanent", "Suppressed"),
        (ProblemType.SOFT_BOUNCE, ProblemSubtype.MAILBOX_FULL, "Transient", "MailboxFull"),
        (ProblemType.SOFT_BOUNCE, ProblemSubtype.UNDETERMINED, "Undetermined", "Undetermined"),
        (ProblemType.HARD_BOUNCE, ProblemSubtype.UNMAPPED, "Permanent", "Undetermined"),
    ],
)
def test_outgoing_bounce_types_use_ses_names(
    type_: ProblemType, subtype: ProblemSubtype, bounce_type: str, bounce_subtype: str
) -> None:
    document = outgoing_notification(bounce(type_=type_, subtype=subtype), WHEN, None)
    part = document["bounce"]
    assert isinstance(part, dict)
    assert (part["bounceType"], part["bounceSubType"]) == (bounce_type, bounce_subtype)


def test_outgoing_complaints_and_deliveries() -> None:
    document = outgoing_notification(complaint(), WHEN, None)
    assert document["complaint"] == {
        "complainedRecipients": ["c@example.com"],
        "complaintFeedbackType": "abuse",
        "timestamp": iso_time(WHEN),
    }
    document = outgoing_notification(complaint(ProblemSubtype.UNMAPPED), WHEN, None)
    assert "complaintFeedbackType" not in document["complaint"]  # type: ignore[operator]
    document = outgoing_notification(delivery("d@example.com"), WHEN, None)
    assert document["delivery"] == {"timestamp": iso_time(WHEN), "recipients": ["d@example.com"]}


def test_a_problem_kind_needs_a_matching_problem_type() -> None:
    with pytest.raises(ValueError, match="Bounce"):
        DeliveryEvent("ses", BOUNCE, MAIL, (), ProblemType.COMPLAINT)
    with pytest.raises(ValueError, match="Delivery"):
        DeliveryEvent("ses", DELIVERY, MAIL, (), ProblemType.HARD_BOUNCE)
    assert bounce().message_id == "m-1"
