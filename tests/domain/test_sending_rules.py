"""SendEmail's order of work and its clock (docs/api.md), pinned one by one."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from adapters.stores.keys import KeyHasher
from adapters.stores.memory import MemoryDeliveryProblemStore, MemoryMessageDataStore
from domain.errors import LimitViolation, StoreError, UnknownProvider
from domain.limits import BounceLimits, LimitRule
from domain.model import DeliveryProblem, Email, ProblemSubtype, ProblemType, SendCommand
from domain.sending import SendEmail
from tests.fakes import FakeClock, RecordingProvider, faulty_messages, faulty_problems

DAY = 86400
HARD = ProblemType.HARD_BOUNCE


class CountingStore(MemoryDeliveryProblemStore):
    """The memory store, counting the addresses it was asked about."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(KeyHasher("k"), clock, 365 * DAY)
        self.asked: list[str] = []

    async def fetch(self, address: str) -> Sequence[DeliveryProblem]:
        self.asked.append(address)
        return await super().fetch(address)

    async def fetch_many(self, addresses: Sequence[str]) -> list[Sequence[DeliveryProblem]]:
        self.asked.extend(addresses)
        return [await super(CountingStore, self).fetch(a) for a in addresses]


class World:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.problems = faulty_problems(CountingStore(self.clock))
        self.messages = faulty_messages(MemoryMessageDataStore(KeyHasher("k"), self.clock, DAY))
        self.provider = RecordingProvider("mock")
        limits = BounceLimits(rules={HARD: (LimitRule(DAY, 0),)})
        self.send = SendEmail(
            {"mock": self.provider},
            self.problems.port,
            self.messages.port,
            limits,
            self.clock,
            "mock",
        )

    async def bounce(self, address: str, created_at: int) -> None:
        await self.problems.record(
            DeliveryProblem(address, HARD, ProblemSubtype.GENERAL, created_at)
        )


def command(to: str = "to@example.com", *cc: str, provider: str | None = None) -> SendCommand:
    return SendCommand(Email(to, "s", "t", cc=cc), provider=provider, metadata="m")


@pytest.fixture
def world() -> World:
    return World()


async def test_an_unknown_provider_answers_103_before_any_recipient_is_looked_up(
    world: World,
) -> None:
    await world.bounce("to@example.com", world.clock.now_ms() - 1000)
    with pytest.raises(UnknownProvider) as caught:
        await world.send(command(provider="nope"))
    assert caught.value.errno == 103
    assert caught.value.extra == {"name": "nope"}
    assert world.problems.asked == []
    assert world.provider.sent == [] and world.messages._data == {}


async def test_an_unknown_provider_answers_103_even_while_the_store_is_down(world: World) -> None:
    world.problems.fail_with = StoreError("down")
    with pytest.raises(UnknownProvider):
        await world.send(command(provider="nope"))


async def test_the_429_names_the_to_when_to_and_a_cc_are_both_blocked(world: World) -> None:
    now = world.clock.now_ms()
    await world.bounce("cc@example.com", now - 500)  # the newer problem is the cc's
    await world.bounce("to@example.com", now - 1000)
    with pytest.raises(LimitViolation) as caught:
        await world.send(command("to@example.com", "cc@example.com"))
    assert caught.value.extra["address"] == "to@example.com"
    assert caught.value.extra["bouncedAt"] == now - 1000
    assert world.problems.asked == ["to@example.com", "cc@example.com"]
    assert world.provider.sent == []


async def test_the_verdict_at_the_edge_follows_the_injected_clock(world: World) -> None:
    created = world.clock.now_ms()
    await world.bounce("to@example.com", created)
    world.clock.advance(DAY - 1)
    with pytest.raises(LimitViolation):
        await world.send(command())
    world.clock.advance(1)  # exactly a day old: no longer within the period
    result = await world.send(command())
    assert result.provider_message_id == world.provider.sent[0][0]


async def test_every_recipient_is_looked_up_once_in_order(world: World) -> None:
    await world.send(command("to@example.com", "b@example.com", "c@example.com"))
    assert world.problems.asked == ["to@example.com", "b@example.com", "c@example.com"]


async def test_a_blocked_cc_is_left_out_and_listed_with_its_errno(world: World) -> None:
    await world.bounce("b@example.com", world.clock.now_ms() - 1000)
    result = await world.send(command("to@example.com", "b@example.com", "c@example.com"))
    [(_, sent)] = world.provider.sent
    assert (sent.to, sent.cc) == ("to@example.com", ("c@example.com",))
    assert [(s.address, s.errno) for s in result.skipped] == [("b@example.com", 108)]
    assert result.message_id == f"mock:{world.provider.sent[0][0]}"


async def test_a_metadata_failure_after_the_send_is_logged_as_a_whole_message(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.messages.fail_with = StoreError("down")
    with caplog.at_level(logging.ERROR, logger="domain.sending"):
        result = await world.send(command())
    [record] = caplog.records
    assert record.getMessage() == (
        f"sent mock:{result.provider_message_id} but could not store its metadata"
    )


async def test_a_requested_provider_is_used_unless_the_default_is_forced() -> None:
    world = World()
    ses = RecordingProvider("ses")
    providers = {"mock": world.provider, "ses": ses}
    limits = BounceLimits()
    unforced = SendEmail(
        providers, world.problems.port, world.messages.port, limits, world.clock, "mock"
    )
    assert (await unforced(command(provider="ses"))).provider == "ses"
    forced = SendEmail(
        providers,
        world.problems.port,
        world.messages.port,
        limits,
        world.clock,
        "mock",
        force_default=True,
    )
    assert (await forced(command(provider="ses"))).provider == "mock"
    assert (await unforced(command())).provider == "mock"
