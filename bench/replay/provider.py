"""The simulated provider: accepts every send and later reports what became of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from bench.replay import notifications
from bench.replay.draws import between, lognormal, uniforms
from bench.replay.population import Mailbox, MailboxState
from domain.events import DeliveryEvent
from domain.model import Email
from ports.clock import Clock


class Outcome(Enum):
    DELIVERED = "delivered"
    HARD_BOUNCE = "hard bounce"
    SOFT_BOUNCE = "soft bounce"


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """Delays in seconds. Spurious bounces hit deliverable mailboxes (a receiving server's
    bad minute); duplicates are the at-least-once delivery of SNS and SQS."""

    spurious_hard: float = 0.0001
    spurious_soft: float = 0.002
    delivery_delay_s: tuple[float, float] = (1.0, 10.0)
    hard_delay_median_s: float = 4.0
    soft_delay_median_s: float = 30.0
    bounce_delay_sigma: float = 1.0
    complaint_delay_median_h: float = 6.0
    complaint_delay_sigma: float = 1.2
    duplicate: float = 0.02
    duplicate_delay_s: tuple[float, float] = (1.0, 300.0)


@dataclass(frozen=True, slots=True)
class Sent:
    """One accepted message, as the provider's own statistics see it."""

    at_ms: int
    address: str
    outcome: Outcome
    complained: bool


Post = Callable[[int, DeliveryEvent], None]


class SimulatedProvider:
    """An ``EmailProvider`` that decides each message's fate from its mailbox at send time.

    Every accepted message gets exactly one Delivery, hard Bounce or soft Bounce event a
    few seconds later, a delivered one sometimes a Complaint hours or days later, and any
    event may be posted twice. ``post(at_ms, event)`` hands them to the simulation, which
    feeds them to the delivery-event handler in time order.
    """

    name = "ses"

    def __init__(
        self,
        mailbox_of: Callable[[str], Mailbox],
        clock: Clock,
        spec: ProviderSpec,
        seed: int,
        post: Post,
    ) -> None:
        self._mailbox_of = mailbox_of
        self._clock = clock
        self._spec = spec
        self._seed = seed
        self._post = post
        self._count_by_address: dict[str, int] = {}
        self.sent: list[Sent] = []
        self.posted = 0

    async def send(self, email: Email) -> str:
        now = self._clock.now_ms()
        message_id = f"sim-{len(self.sent)}"
        for address in email.recipients:
            self.sent.append(self._fate(message_id, address, now))
        return message_id

    def _fate(self, message_id: str, address: str, now: int) -> Sent:
        spec = self._spec
        nth = self._count_by_address.get(address, 0)
        self._count_by_address[address] = nth + 1
        key = (address, nth)
        hard, soft, delay, complains, complaint_delay, copy, copy_delay = uniforms(
            self._seed, 7, *key
        )
        mailbox = self._mailbox_of(address)
        state = mailbox.state_at(now)
        if state is MailboxState.DEAD or hard < spec.spurious_hard:
            outcome = Outcome.HARD_BOUNCE
        elif state is MailboxState.FULL or soft < spec.spurious_soft:
            outcome = Outcome.SOFT_BOUNCE
        else:
            outcome = Outcome.DELIVERED
        if outcome is Outcome.DELIVERED:
            at = now + int(between(delay, *spec.delivery_delay_s) * 1000)
            notification = notifications.delivery(message_id, address, now, at)
        else:
            is_hard = outcome is Outcome.HARD_BOUNCE
            median = spec.hard_delay_median_s if is_hard else spec.soft_delay_median_s
            seconds = lognormal(delay, median, spec.bounce_delay_sigma)
            at = now + int(min(max(seconds, 1.0), 600.0) * 1000)
            notification = notifications.bounce(message_id, address, now, is_hard, at)
        self._emit(notification, at, copy, copy_delay)
        complained = outcome is Outcome.DELIVERED and complains < mailbox.complains
        if complained:
            copy, copy_delay = uniforms(self._seed, 2, "complaint copy", *key)
            hours = lognormal(
                complaint_delay, spec.complaint_delay_median_h, spec.complaint_delay_sigma
            )
            at = now + int(min(max(hours, 1 / 60), 240.0) * 3_600_000)
            notification = notifications.complaint(message_id, address, now, at)
            self._emit(notification, at, copy, copy_delay)
        return Sent(now, address, outcome, complained)

    def _emit(self, notification: DeliveryEvent, at: int, copy: float, copy_delay: float) -> None:
        """Post ``notification``, and a second copy when ``copy`` falls under the odds."""
        self._post(at, notification)
        self.posted += 1
        if copy < self._spec.duplicate:
            again = between(copy_delay, *self._spec.duplicate_delay_s)
            self._post(at + int(again * 1000), notification)
            self.posted += 1
