"""HandleDeliveryEvent's duplicates and forwarding (docs/notifications.md), pinned."""

from __future__ import annotations

import pytest

from adapters.queues.memory import MemoryNotificationSink
from adapters.stores.keys import KeyHasher
from adapters.stores.memory import MemoryDeliveryProblemStore, MemoryMessageDataStore
from domain.errors import QueueError
from domain.events import BOUNCE, DeliveryEvent, Mail
from domain.model import MessageData, ProblemSubtype, ProblemType
from domain.notifications import Handled, HandleDeliveryEvent, iso_time
from tests.fakes import FakeClock, Faulty, faulty_messages, faulty_problems

NOW = 1_700_000_000_000
MAIL = Mail("m-1", NOW - 60_000, "accounts@example.com", ("a@example.com", "b@example.com"))


class World:
    def __init__(self) -> None:
        self.clock = FakeClock(NOW)
        hasher = KeyHasher("k")
        self.problems = faulty_problems(MemoryDeliveryProblemStore(hasher, self.clock, 365 * 86400))
        self.messages = faulty_messages(MemoryMessageDataStore(hasher, self.clock, 86400))
        self.sink = Faulty(MemoryNotificationSink(), "send")
        self.handle = HandleDeliveryEvent(
            self.problems.port, self.messages.port, self.sink.port, self.clock
        )


@pytest.fixture
def world() -> World:
    return World()


def bounce(*to: str, event_id: str | None = None) -> DeliveryEvent:
    return DeliveryEvent(
        "ses",
        BOUNCE,
        MAIL,
        to,
        ProblemType.HARD_BOUNCE,
        ProblemSubtype.GENERAL,
        NOW - 30_000,
        event_id,
    )


@pytest.mark.parametrize("event_id", [None, "feedback-1"])
async def test_a_recipient_listed_twice_is_one_problem_and_duplicates_are_counted_right(
    world: World, event_id: str | None
) -> None:
    event = bounce("a@example.com", "b@example.com", "a@example.com", event_id=event_id)
    first = await world.handle(event)
    assert (first.recorded, first.duplicates, first.forwarded) == (2, 0, True)
    assert len(await world.problems.fetch("a@example.com")) == 1
    again = await world.handle(event)
    assert (again.recorded, again.duplicates, again.forwarded) == (0, 2, True)
    assert len(await world.problems.fetch("a@example.com")) == 1
    assert len(world.sink.sent) == 2  # each delivery of the message is forwarded


async def test_a_forward_refused_twice_records_once_keeps_the_metadata_and_forwards_once(
    world: World,
) -> None:
    await world.messages.put("m-1", "relier metadata")
    world.sink.fail_with = QueueError("outgoing queue down")
    for _ in range(2):
        with pytest.raises(QueueError):
            await world.handle(bounce("a@example.com", event_id="feedback-1"))
    # recorded on the first attempt: the address is blocked while the forward is retried
    assert len(await world.problems.fetch("a@example.com")) == 1
    assert await world.messages.get("m-1") == MessageData("relier metadata")
    world.sink.fail_with = None
    handled = await world.handle(bounce("a@example.com", event_id="feedback-1"))
    assert (handled.recorded, handled.duplicates, handled.forwarded) == (0, 1, True)
    [forwarded] = world.sink.sent
    assert forwarded["metadata"] == "relier metadata"
    assert forwarded["bounce"]["bouncedRecipients"] == ["a@example.com"]


async def test_without_a_sink_duplicates_are_still_counted(world: World) -> None:
    handle = HandleDeliveryEvent(world.problems.port, world.messages.port, None, world.clock)
    event = bounce("a@example.com", "b@example.com", event_id="feedback-1")
    assert await handle(event) == Handled(2, 0, False)
    assert await handle(event) == Handled(0, 2, False)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1_795_183_201_007, "2026-11-20T14:00:01.007Z"),
        (NOW, "2023-11-14T22:13:20.000Z"),
    ],
)
def test_times_are_written_as_ses_writes_them(ms: int, text: str) -> None:
    assert iso_time(ms) == text
