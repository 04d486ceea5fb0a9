"""What the simulated provider reports, as the delivery events the handler takes."""

from __future__ import annotations

from collections.abc import Mapping

from domain.events import BOUNCE, COMPLAINT, DELIVERY, DeliveryEvent, Mail
from domain.model import ProblemSubtype, ProblemType

PROVIDER = "ses"
SENDER = "accounts@example.com"


def _mail(message_id: str, address: str, sent_ms: int) -> Mail:
    return Mail(message_id, sent_ms, SENDER, (address,))


def bounce(message_id: str, address: str, sent_ms: int, hard: bool, at_ms: int) -> DeliveryEvent:
    """A Permanent/General or Transient/MailboxFull bounce of one recipient, as SES says."""
    return DeliveryEvent(
        PROVIDER,
        BOUNCE,
        _mail(message_id, address, sent_ms),
        (address,),
        ProblemType.HARD_BOUNCE if hard else ProblemType.SOFT_BOUNCE,
        ProblemSubtype.GENERAL if hard else ProblemSubtype.MAILBOX_FULL,
        at_ms,
        f"{message_id}-bounce",
    )


def complaint(message_id: str, address: str, sent_ms: int, at_ms: int) -> DeliveryEvent:
    """An abuse complaint of one recipient."""
    return DeliveryEvent(
        PROVIDER,
        COMPLAINT,
        _mail(message_id, address, sent_ms),
        (address,),
        ProblemType.COMPLAINT,
        ProblemSubtype.ABUSE,
        at_ms,
        f"{message_id}-complaint",
    )


def delivery(message_id: str, address: str, sent_ms: int, at_ms: int) -> DeliveryEvent:
    return DeliveryEvent(
        PROVIDER, DELIVERY, _mail(message_id, address, sent_ms), (address,), timestamp_ms=at_ms
    )


def is_hard_bounce(event: DeliveryEvent) -> bool:
    return event.problem_type is ProblemType.HARD_BOUNCE


class CountingSink:
    """The outgoing queue, counting what the handler forwards (the auth server's shape)."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, notification: Mapping[str, object]) -> None:
        self.sent += 1
