"""The reputation replay's building blocks: clock, draws, population, senders, provider."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from bench.replay.clock import SimulatedClock
from bench.replay.configurations import (
    OriginalLimits,
    RecordingEveryCopy,
    default_limits,
    limits_from_json,
)
from bench.replay.draws import uniforms
from bench.replay.population import DAY_MS, Mailbox, MailboxState, Population, PopulationSpec
from bench.replay.provider import Outcome, ProviderSpec, SimulatedProvider
from bench.replay.traffic import Kind, Retry, Session, TrafficSpec, next_attempt, schedule
from domain.events import BOUNCE, COMPLAINT, DELIVERY, DeliveryEvent, Mail
from domain.limits import LimitRule
from domain.model import DeliveryProblem, Email, ProblemSubtype, ProblemType
from tests.fakes import FakeClock

START = 1_772_323_200_000
DAY = 86400


def test_the_clock_moves_only_when_told() -> None:
    clock = SimulatedClock(START)
    assert clock.now_ms() == clock.now_ms() == START
    clock.advance_to(START + 1500)
    assert clock.now_ms() == START + 1500
    clock.advance_to(START + 1500)
    assert clock.now_ms() == START + 1500
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance_to(START + 1499)
    assert clock.now_ms() == START + 1500


def test_draws_are_fixed_by_seed_and_key() -> None:
    first = uniforms(1, 3, "key", 7)
    assert first == uniforms(1, 3, "key", 7)
    assert first != uniforms(2, 3, "key", 7)
    assert first != uniforms(1, 3, "key", 8)
    values = [value for i in range(2000) for value in uniforms(5, 2, i)]
    assert all(0 <= value < 1 for value in values)
    assert 0.45 < sum(values) / len(values) < 0.55


SHARES = PopulationSpec(
    accounts=20_000, dead_share=0.1, dying_share=0.1, full_share=0.2, complainer_share=0.1
)


def test_the_population_draws_what_its_seed_says() -> None:
    one = Population(SHARES, seed=3, start_ms=START, days=30)
    assert one.mailboxes == Population(SHARES, seed=3, start_ms=START, days=30).mailboxes
    assert one.mailboxes != Population(SHARES, seed=4, start_ms=START, days=30).mailboxes
    assert len(one) == 20_000
    dead = sum(m.dead_from_ms == 0 for m in one.mailboxes)
    dying = [m for m in one.mailboxes if m.dies_mid_month]
    full = sum(bool(m.full_spells) for m in one.mailboxes)
    complainers = sum(m.complains == SHARES.complainer_probability for m in one.mailboxes)
    # binomial draws: within five standard deviations of the spec's shares
    assert abs(dead - 2000) < 5 * 42
    assert abs(len(dying) - 1800) < 5 * 40  # 10 % of the 90 % not dead already
    assert abs(full - 4000) < 5 * 57
    assert abs(complainers - 2000) < 5 * 42
    assert all(START <= m.dead_from_ms < START + 30 * DAY_MS for m in dying if m.dead_from_ms)
    mean_activity = sum(m.activity for m in one.mailboxes) / len(one)
    assert 0.9 < mean_activity < 1.1


def test_a_mailbox_state_follows_its_fate() -> None:
    mailbox = Mailbox("a@example.com", dead_from_ms=START + 100, full_spells=((START, START + 50),))
    assert mailbox.state_at(START - 1) is MailboxState.DELIVERABLE
    assert mailbox.state_at(START) is MailboxState.FULL
    assert mailbox.state_at(START + 49) is MailboxState.FULL
    assert mailbox.state_at(START + 50) is MailboxState.DELIVERABLE
    assert mailbox.state_at(START + 100) is MailboxState.DEAD
    assert mailbox.dies_mid_month
    assert not Mailbox("b@example.com", dead_from_ms=0).dies_mid_month


def test_addresses_are_found_in_any_case_and_never_added_twice() -> None:
    population = Population(PopulationSpec(accounts=3), seed=1, start_ms=START, days=1)
    index = population.add(Mailbox("New@Example.com"))
    assert population["new@example.COM"] is population.mailboxes[index]
    with pytest.raises(ValueError, match="already"):
        population.add(Mailbox("new@example.com"))


def test_the_schedule_is_seeded_ordered_and_within_the_month() -> None:
    spec = TrafficSpec(signups_per_account_day=0.05, typo_share=0.5)

    def sessions(seed: int) -> list[Session]:
        population = Population(PopulationSpec(accounts=500), seed, START, 10)
        return schedule(population, spec, seed, START, 10)

    first = sessions(1)
    assert first == sessions(1)
    assert first != sessions(2)
    starts = [s.start_ms for s in first]
    assert starts == sorted(starts)
    assert START <= starts[0] and starts[-1] < START + 10 * DAY_MS
    kinds = {kind: sum(s.kind is kind for s in first) for kind in Kind}
    assert abs(kinds[Kind.LOGIN] - 500 * 10 / 12) < 5 * 20
    assert abs(kinds[Kind.SIGNUP] - 250) < 5 * 16


def test_a_user_retries_only_when_nothing_arrived_and_only_so_often() -> None:
    spec = TrafficSpec(
        again={kind: 0.0 for kind in Kind},
        retry={kind: Retry(1.0, 3, (60.0, 120.0)) for kind in Kind},
    )
    session = Session(7, Kind.RESET, START, 0)
    assert next_attempt(spec, 1, session, 1, received=True) is None
    delays = [next_attempt(spec, 1, session, n, received=False) for n in (1, 2, 3)]
    assert delays[2] is None  # three attempts at most
    assert all(d is not None and 60_000 <= d <= 120_000 for d in delays[:2])
    never = replace(spec, retry={kind: Retry(0.0, 3, (60.0, 120.0)) for kind in Kind})
    assert next_attempt(never, 1, session, 1, received=False) is None
    eager = replace(spec, again={kind: 1.0 for kind in Kind})
    again = next_attempt(eager, 1, session, 1, received=True)
    assert again is not None and 20_000 <= again <= 90_000


class Posted:
    def __init__(self) -> None:
        self.items: list[tuple[int, DeliveryEvent]] = []

    def __call__(self, at_ms: int, event: DeliveryEvent) -> None:
        self.items.append((at_ms, event))


def provider_for(mailbox: Mailbox, spec: ProviderSpec) -> tuple[SimulatedProvider, Posted]:
    posted = Posted()
    clock = FakeClock(START)
    return SimulatedProvider(lambda _: mailbox, clock, spec, 1, posted), posted


QUIET = ProviderSpec(spurious_hard=0.0, spurious_soft=0.0, duplicate=0.0)


async def test_a_dead_mailbox_hard_bounces_within_seconds() -> None:
    provider, posted = provider_for(Mailbox("a@example.com", dead_from_ms=0), QUIET)
    message_id = await provider.send(Email("a@example.com", "s", "t"))
    [(at, event)] = posted.items
    assert START + 1000 <= at <= START + 600_000
    assert event == DeliveryEvent(
        "ses",
        BOUNCE,
        Mail(message_id, START, "accounts@example.com", ("a@example.com",)),
        ("a@example.com",),
        ProblemType.HARD_BOUNCE,
        ProblemSubtype.GENERAL,
        at,
        f"{message_id}-bounce",
    )
    assert provider.sent[-1].outcome is Outcome.HARD_BOUNCE and provider.posted == 1


async def test_a_full_mailbox_soft_bounces() -> None:
    mailbox = Mailbox("a@example.com", full_spells=((START, START + DAY_MS),))
    provider, posted = provider_for(mailbox, QUIET)
    await provider.send(Email("a@example.com", "s", "t"))
    [(_, event)] = posted.items
    assert (event.kind, event.problem_type, event.problem_subtype) == (
        BOUNCE,
        ProblemType.SOFT_BOUNCE,
        ProblemSubtype.MAILBOX_FULL,
    )
    assert provider.sent[-1].outcome is Outcome.SOFT_BOUNCE


async def test_a_complainer_gets_the_mail_then_complains_hours_later() -> None:
    provider, posted = provider_for(Mailbox("a@example.com", complains=1.0), QUIET)
    message_id = await provider.send(Email("a@example.com", "s", "t"))
    [(delivered_at, delivery), (complained_at, complaint)] = sorted(
        posted.items, key=lambda item: item[0]
    )
    assert (delivery.kind, delivery.recipients) == (DELIVERY, ("a@example.com",))
    assert delivery.message_id == message_id and delivery.timestamp_ms == delivered_at
    assert START + 1000 <= delivered_at <= START + 10_000
    assert (complaint.kind, complaint.problem_type) == (COMPLAINT, ProblemType.COMPLAINT)
    assert complaint.recipients == ("a@example.com",)
    assert complaint.message_id == message_id and complaint.event_id == f"{message_id}-complaint"
    assert START + 60_000 <= complained_at <= START + 240 * 3_600_000
    assert provider.sent[-1].complained


async def test_a_deliverable_mailbox_is_delivered_and_never_complains_at_zero_odds() -> None:
    provider, posted = provider_for(Mailbox("a@example.com"), QUIET)
    for _ in range(50):
        await provider.send(Email("a@example.com", "s", "t"))
    assert all(event.kind == DELIVERY for _, event in posted.items)
    assert len(posted.items) == 50 and not any(s.complained for s in provider.sent)


async def test_spurious_failures_hit_deliverable_mailboxes_at_their_odds() -> None:
    hard = replace(QUIET, spurious_hard=1.0)
    provider, _ = provider_for(Mailbox("a@example.com"), hard)
    await provider.send(Email("a@example.com", "s", "t"))
    assert provider.sent[-1].outcome is Outcome.HARD_BOUNCE
    soft = replace(QUIET, spurious_soft=1.0)
    provider, _ = provider_for(Mailbox("a@example.com"), soft)
    await provider.send(Email("a@example.com", "s", "t"))
    assert provider.sent[-1].outcome is Outcome.SOFT_BOUNCE


async def test_a_duplicate_is_the_same_notification_posted_again_later() -> None:
    spec = replace(QUIET, duplicate=1.0)
    provider, posted = provider_for(Mailbox("a@example.com", dead_from_ms=0), spec)
    await provider.send(Email("a@example.com", "s", "t"))
    [(first_at, first), (again_at, again)] = posted.items
    assert again is first and first_at + 1000 <= again_at <= first_at + 300_000
    assert provider.posted == 2


def problem(created_at: int, type_: ProblemType = ProblemType.HARD_BOUNCE) -> DeliveryProblem:
    return DeliveryProblem("a@example.com", type_, ProblemSubtype.GENERAL, created_at, "f")


def test_limits_read_as_the_configuration_files_write_them() -> None:
    limits = limits_from_json(
        {"enabled": False, "hard": [{"period": "2 days", "limit": 1}], "soft": []}
    )
    assert not limits.enabled
    assert limits.rules[ProblemType.HARD_BOUNCE] == (LimitRule(2 * DAY, 1),)
    assert limits.rules[ProblemType.SOFT_BOUNCE] == ()
    # a type left out keeps its default, as the service reads its configuration
    assert limits.rules[ProblemType.COMPLAINT] == default_limits().rules[ProblemType.COMPLAINT]


def test_the_original_check_counts_the_edge_ignores_enabled_and_reads_twenty() -> None:
    rules = {ProblemType.HARD_BOUNCE: (LimitRule(DAY, 0),)}
    original = OriginalLimits(False, rules)
    now = START
    assert original.violation([problem(now - DAY * 1000)], now) is not None
    assert original.violation([problem(now - DAY * 1000 - 1)], now) is None
    soft = [problem(now - i, ProblemType.SOFT_BOUNCE) for i in range(20)]
    assert original.violation([*soft, problem(now - 100)], now) is None  # the 21st newest


async def test_the_original_recording_counts_every_copy_at_its_arrival() -> None:
    class Store:
        def __init__(self) -> None:
            self.recorded: list[DeliveryProblem] = []

        async def fetch(self, address: str) -> list[DeliveryProblem]:
            return list(self.recorded)

        async def fetch_many(self, addresses: Sequence[str]) -> list[Sequence[DeliveryProblem]]:
            return [list(self.recorded) for _ in addresses]

        async def record(self, problem: DeliveryProblem) -> bool:
            self.recorded.append(problem)
            return True

        async def clear(self, address: str) -> int:
            cleared, self.recorded[:] = len(self.recorded), []
            return cleared

    inner, clock = Store(), FakeClock(START)
    store = RecordingEveryCopy(inner, clock)
    assert await store.record(problem(START - 5000))
    clock.advance(2)
    assert await store.record(problem(START - 5000))
    assert [(p.created_at, p.feedback_id) for p in await store.fetch("a@example.com")] == [
        (START, None),
        (START + 2000, None),
    ]
