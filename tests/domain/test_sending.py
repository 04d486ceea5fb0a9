"""The SendEmail service with in-memory fakes: order of work, dropping, failures."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adapters.stores.keys import KeyHasher
from adapters.stores.memory import MemoryDeliveryProblemStore, MemoryMessageDataStore
from domain.errors import (
    HardBounceLimitViolation,
    ProviderError,
    SoftBounceLimitViolation,
    StoreError,
    UnknownProvider,
)
from domain.limits import BounceLimits, LimitRule
from domain.model import (
    DeliveryProblem,
    Email,
    MessageData,
    ProblemSubtype,
    ProblemType,
    SendCommand,
)
from domain.sending import SendEmail
from tests.fakes import FakeClock, RecordingProvider, faulty_messages, faulty_problems

DAY = 86400
LIMITS = BounceLimits(
    rules={
        ProblemType.HARD_BOUNCE: (LimitRule(DAY, 0),),
        ProblemType.SOFT_BOUNCE: (LimitRule(300, 0),),
        ProblemType.COMPLAINT: (LimitRule(DAY, 0),),
    }
)


class World:
    def __init__(self, default: str = "mock", force: bool = False) -> None:
        self.clock = FakeClock()
        hasher = KeyHasher("k")
        self.problems = faulty_problems(MemoryDeliveryProblemStore(hasher, self.clock, 365 * DAY))
        self.messages = faulty_messages(MemoryMessageDataStore(hasher, self.clock, DAY))
        self.mock = RecordingProvider("mock")
        self.ses = RecordingProvider("ses")
        self.send = SendEmail(
            {"mock": self.mock, "ses": self.ses},
            self.problems.port,
            self.messages.port,
            LIMITS,
            self.clock,
            default_provider=default,
            force_default=force,
        )

    async def bounce(
        self, address: str, kind: ProblemType = ProblemType.HARD_BOUNCE, ago: int = 60
    ) -> DeliveryProblem:
        problem = DeliveryProblem(
            address, kind, ProblemSubtype.GENERAL, self.clock.now_ms() - ago * 1000
        )
        await self.problems.record(problem)
        return problem


def command(
    to: str = "to@example.com",
    cc: tuple[str, ...] = (),
    provider: str | None = None,
    metadata: str | None = None,
) -> SendCommand:
    return SendCommand(Email(to=to, subject="s", text="t", cc=cc), provider, metadata)


@pytest.fixture
def world() -> World:
    return World()


async def test_sends_through_default_provider_and_stores_metadata(world: World) -> None:
    result = await world.send(command(metadata='{"flow": 1}'))

    assert result.message_id == f"mock:{world.mock.sent[0][0]}"
    assert result.skipped == ()
    assert await world.messages.get(world.mock.sent[0][0]) == MessageData('{"flow": 1}')


async def test_an_authenticated_relier_is_stored_with_the_message_data(world: World) -> None:
    await world.send(replace(command(metadata="m"), relier="fxa-auth"))
    await world.send(replace(command(), relier="fxa-auth"))  # no metadata, still the relier
    await world.send(command())  # anonymous, without metadata: nothing to store

    with_metadata, relier_only, anonymous = (sent[0] for sent in world.mock.sent)
    assert await world.messages.get(with_metadata) == MessageData("m", "fxa-auth")
    assert await world.messages.get(relier_only) == MessageData(None, "fxa-auth")
    assert await world.messages.get(anonymous) is None


async def test_requested_provider_is_used(world: World) -> None:
    result = await world.send(command(provider="ses"))

    assert result.provider == "ses"
    assert len(world.ses.sent) == 1 and world.mock.sent == []


async def test_forced_default_overrides_the_request() -> None:
    world = World(default="ses", force=True)
    result = await world.send(command(provider="mock"))

    assert result.provider == "ses"
    assert world.mock.sent == []


@pytest.mark.parametrize("name", ["postmark", "smtp"])
async def test_unknown_or_unconfigured_provider_sends_nothing(world: World, name: str) -> None:
    with pytest.raises(UnknownProvider) as caught:
        await world.send(command(provider=name, metadata="m"))

    assert caught.value.errno == 103 and caught.value.extra == {"name": name}
    assert world.mock.sent == [] and world.ses.sent == []


async def test_violating_to_without_cc_is_refused(world: World) -> None:
    problem = await world.bounce("TO@example.com")

    with pytest.raises(HardBounceLimitViolation) as caught:
        await world.send(command(metadata="m"))

    assert caught.value.extra["address"] == "to@example.com"
    assert caught.value.extra["time"] == problem.created_at
    assert world.mock.sent == []


async def test_violating_cc_is_dropped(world: World) -> None:
    await world.bounce("bad@example.com", ProblemType.SOFT_BOUNCE)

    result = await world.send(command(cc=("bad@example.com", "good@example.com")))

    sent = world.mock.sent[0][1]
    assert (sent.to, sent.cc) == ("to@example.com", ("good@example.com",))
    assert [(s.address, s.errno) for s in result.skipped] == [("bad@example.com", 107)]


async def test_violating_to_refuses_whatever_the_cc(world: World) -> None:
    # The auth server ignores `skipped`: promoting a cc would mail someone else in silence.
    await world.bounce("to@example.com")

    with pytest.raises(HardBounceLimitViolation) as caught:
        await world.send(command(cc=("cc1@example.com", "cc2@example.com"), metadata="m"))

    assert caught.value.extra["address"] == "to@example.com"
    assert world.mock.sent == []
    assert "put" not in world.messages.calls


async def test_ses_only_headers_reach_ses_alone(world: World) -> None:
    headers = (
        ("X-SES-CONFIGURATION-SET", "set"),
        ("x-ses-message-tags", "a=b"),
        ("X-Template-Name", "verify"),
    )
    email = Email(to="to@example.com", subject="s", text="t", headers=headers)

    await world.send(SendCommand(email, "ses", None))
    await world.send(SendCommand(email, "mock", None))

    assert world.ses.sent[0][1].headers == headers
    assert world.mock.sent[0][1].headers == (("X-Template-Name", "verify"),)


async def test_when_nobody_passes_the_error_is_tos(world: World) -> None:
    await world.bounce("to@example.com", ProblemType.SOFT_BOUNCE)
    await world.bounce("cc@example.com", ProblemType.HARD_BOUNCE)

    with pytest.raises(SoftBounceLimitViolation):
        await world.send(command(cc=("cc@example.com",)))
    assert world.mock.sent == []


async def test_old_problems_do_not_refuse(world: World) -> None:
    await world.bounce("to@example.com", ProblemType.SOFT_BOUNCE, ago=301)

    result = await world.send(command())

    assert result.skipped == ()


async def test_store_failure_before_send_sends_nothing(world: World) -> None:
    world.problems.fail_with = StoreError("store down")

    with pytest.raises(StoreError):
        await world.send(command())
    assert world.mock.sent == []


async def test_provider_failure_stores_no_metadata(world: World) -> None:
    world.mock.fail = True

    with pytest.raises(ProviderError) as caught:
        await world.send(command(metadata="m"))
    assert caught.value.errno == 104 and caught.value.extra == {"name": "mock"}
    assert "put" not in world.messages.calls


async def test_metadata_failure_after_send_still_succeeds(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.messages.fail_with = StoreError("store down")

    result = await world.send(command(metadata="secret relier data"))

    assert result.provider_message_id == world.mock.sent[0][0]
    assert result.provider_message_id in caplog.text
    assert "secret relier data" not in caplog.text
