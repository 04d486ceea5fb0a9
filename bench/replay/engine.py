"""The replay: sessions send through SendEmail, the provider's delivery events go through
HandleDeliveryEvent, all on one simulated clock, in time order."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

from bench.replay.clock import SimulatedClock
from bench.replay.configurations import Configuration, RecordingEveryCopy
from bench.replay.figures import Day, Figures, hours
from bench.replay.notifications import CountingSink, is_hard_bounce
from bench.replay.population import MailboxState, Population, PopulationSpec
from bench.replay.provider import Outcome, ProviderSpec, SimulatedProvider
from bench.replay.stores import StoreFactory, sqlite_stores
from bench.replay.traffic import Session, TrafficSpec, corrected_signup, next_attempt, schedule
from domain.errors import LimitViolation, ServiceError
from domain.events import DeliveryEvent
from domain.model import Email, SendCommand
from domain.notifications import HandleDeliveryEvent
from domain.sending import SendEmail
from ports.stores import DeliveryProblemStore

START_MS = 1_772_323_200_000  # 2026-03-01T00:00:00Z
SUBJECTS = {"signup": "Confirm your account", "login": "Your sign-in code", "reset": "Reset"}


@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything a run depends on besides the configuration: the same scenario and seed
    give the same figures."""

    seed: int = 1
    days: int = 30
    start_ms: int = START_MS
    population: PopulationSpec = field(default_factory=PopulationSpec)
    traffic: TrafficSpec = field(default_factory=TrafficSpec)
    provider: ProviderSpec = field(default_factory=ProviderSpec)


@dataclass(frozen=True, slots=True)
class _Attempt:
    session: Session
    number: int  # emails the session sent before this one


class Replay:
    """One configuration's month. ``run`` returns its figures."""

    def __init__(
        self, scenario: Scenario, configuration: Configuration, stores: StoreFactory = sqlite_stores
    ) -> None:
        self.scenario = scenario
        self.configuration = configuration
        self._stores = stores
        self.clock = SimulatedClock(scenario.start_ms)
        self.population = Population(
            scenario.population, scenario.seed, scenario.start_ms, scenario.days
        )
        self.sessions = schedule(
            self.population, scenario.traffic, scenario.seed, scenario.start_ms, scenario.days
        )
        self._queue: list[tuple[int, int, _Attempt | DeliveryEvent]] = []
        self._order = itertools.count()
        self.provider = SimulatedProvider(
            self.population.__getitem__, self.clock, scenario.provider, scenario.seed, self._post
        )
        self.figures = Figures(
            configuration.name, scenario.start_ms, [Day() for _ in range(scenario.days)]
        )
        self.sink = CountingSink()
        self._blocked_at: dict[str, int] = {}
        self._sent_after_death: dict[str, int] = {}

    def _post(self, at_ms: int, item: _Attempt | DeliveryEvent) -> None:
        heapq.heappush(self._queue, (at_ms, next(self._order), item))

    async def run(self) -> Figures:
        limits = self.configuration.limits
        retention = max(limits.longest_period_seconds, 86400)
        async with self._stores(self.clock, retention) as (store, messages):
            problems: DeliveryProblemStore = store
            if self.configuration.original:
                problems = RecordingEveryCopy(store, self.clock)
            self._problems = problems
            self._send = SendEmail(
                {"ses": self.provider}, problems, messages, limits, self.clock, "ses"
            )
            self._handle = HandleDeliveryEvent(problems, messages, self.sink, self.clock)
            await self._loop()
        self._finish()
        return self.figures

    async def _loop(self) -> None:
        sessions, queue, index = self.sessions, self._queue, 0
        while index < len(sessions) or queue:
            if queue and (index == len(sessions) or queue[0][0] <= sessions[index].start_ms):
                at, _, item = heapq.heappop(queue)
            else:
                at, item = sessions[index].start_ms, _Attempt(sessions[index], 0)
                index += 1
            self.clock.advance_to(at)
            if isinstance(item, _Attempt):
                await self._attempt(item)
            else:
                await self._notify(item)

    async def _attempt(self, attempt: _Attempt) -> None:
        session, now = attempt.session, self.clock.now_ms()
        mailbox = self.population.mailboxes[session.mailbox]
        day = self.figures.day_of(now)
        deliverable = mailbox.state_at(now) is MailboxState.DELIVERABLE
        day.attempted += 1
        day.deliverable += deliverable
        after_death = mailbox.dies_mid_month and mailbox.state_at(now) is MailboxState.DEAD
        email = Email(mailbox.address, SUBJECTS[session.kind.value], "Your code: 123456")
        received = False
        try:
            await self._send(SendCommand(email))
        except LimitViolation as exc:
            day.refused += 1
            day.deliverable_refused += deliverable
            if deliverable:
                by = self.figures.deliverable_refused_by_errno
                by[exc.errno] = by.get(exc.errno, 0) + 1
            errnos = self.figures.refused_by_errno
            errnos[exc.errno] = errnos.get(exc.errno, 0) + 1
        except ServiceError:
            day.failed += 1
        else:
            day.accepted += 1
            received = self.provider.sent[-1].outcome is Outcome.DELIVERED
            if after_death:
                counts = self._sent_after_death
                counts[mailbox.address] = counts.get(mailbox.address, 0) + 1
        if after_death:
            self._sent_after_death.setdefault(mailbox.address, 0)
        sent = attempt.number + 1
        delay = next_attempt(self.scenario.traffic, self.scenario.seed, session, sent, received)
        if delay is not None:
            self._post(now + delay, _Attempt(session, sent))
        elif not received:
            again = corrected_signup(
                self.scenario.traffic, self.scenario.seed, session, now, self.population
            )
            if again is not None:
                self._post(again.start_ms, _Attempt(again, 0))

    async def _notify(self, event: DeliveryEvent) -> None:
        handled = await self._handle(event)
        self.figures.handled += 1
        self.figures.recorded += handled.recorded
        if is_hard_bounce(event):
            for address in event.recipients:
                await self._note_block(address)

    async def _note_block(self, address: str) -> None:
        """The first time a died address would be refused: death -> block."""
        mailbox = self.population[address]
        if not mailbox.dies_mid_month or address in self._blocked_at:
            return
        history = await self._problems.fetch(address)
        if self.configuration.limits.violation(history, self.clock.now_ms()) is not None:
            self._blocked_at[address] = self.clock.now_ms()

    def _finish(self) -> None:
        figures = self.figures
        figures.add_outcomes(self.provider.sent)
        figures.posted = self.provider.posted
        figures.forwarded = self.sink.sent
        for address, count in sorted(self._sent_after_death.items()):
            figures.sent_after_death.append(count)
            blocked = self._blocked_at.get(address)
            if blocked is None:
                figures.never_blocked += 1
            else:
                dead_from = self.population[address].dead_from_ms
                assert dead_from is not None
                figures.death_to_block_h.append(hours(blocked - dead_from))


async def replay(
    scenario: Scenario, configuration: Configuration, stores: StoreFactory = sqlite_stores
) -> Figures:
    return await Replay(scenario, configuration, stores).run()
