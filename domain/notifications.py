"""HandleNotification: record problems -> attach metadata -> forward (docs/operations.md)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from domain.errors import ServiceError
from domain.model import SUBTYPES_BY_NAME, DeliveryProblem, ProblemSubtype, ProblemType
from ports.clock import Clock
from ports.queues import NotificationSink
from ports.stores import DeliveryProblemStore, MessageDataStore

logger = logging.getLogger(__name__)

_Mapped = TypeVar("_Mapped", ProblemType, ProblemSubtype)

# Each table maps SES's names; the None entry is what an absent or unknown name becomes.
BOUNCE_TYPES: dict[str | None, ProblemType] = {
    "Permanent": ProblemType.HARD_BOUNCE,
    "Transient": ProblemType.SOFT_BOUNCE,
    "Undetermined": ProblemType.SOFT_BOUNCE,
    None: ProblemType.SOFT_BOUNCE,
}
# A name maps only to subtypes of its own kind: a bounceSubType "abuse" is unknown.
BOUNCE_SUBTYPES: dict[str | None, ProblemSubtype] = {
    **{
        name: subtype
        for name, subtype in SUBTYPES_BY_NAME.items()
        if ProblemSubtype.UNDETERMINED <= subtype <= ProblemSubtype.ATTACHMENT_REJECTED
    },
    None: ProblemSubtype.UNMAPPED,
}
COMPLAINT_SUBTYPES: dict[str | None, ProblemSubtype] = {
    **{
        name: subtype
        for name, subtype in SUBTYPES_BY_NAME.items()
        if ProblemSubtype.ABUSE <= subtype <= ProblemSubtype.VIRUS
    },
    None: ProblemSubtype.UNMAPPED,
}


@dataclass(frozen=True, slots=True)
class Bounce:
    """SES's ``bounce`` object, names as SES spells them; ``timestamp_ms`` None if absent."""

    bounce_type: str
    bounce_subtype: str
    recipients: tuple[str, ...]
    timestamp_ms: int | None = None
    feedback_id: str | None = None


@dataclass(frozen=True, slots=True)
class Complaint:
    """SES's ``complaint`` object; ``feedback_type`` is ``complaintFeedbackType`` if present."""

    feedback_type: str | None
    recipients: tuple[str, ...]
    timestamp_ms: int | None = None
    feedback_id: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """SES's ``delivery`` object: nothing is recorded for it, it is only forwarded."""

    recipients: tuple[str, ...]
    timestamp_ms: int | None = None


Event = Bounce | Complaint | Delivery


@dataclass(frozen=True, slots=True)
class Notification:
    """One SES notification about the provider message ``message_id`` (``mail.messageId``).

    ``original`` is the SES JSON object exactly as received, forwarded unchanged plus
    ``metadata``. It takes no part in equality.
    """

    message_id: str
    event: Event
    original: Mapping[str, object] = field(default_factory=dict, compare=False)

    @property
    def kind(self) -> str:
        """``Bounce``, ``Complaint`` or ``Delivery``, as SES's ``notificationType``."""
        return type(self.event).__name__


@dataclass(frozen=True, slots=True)
class Handled:
    """What handling one notification did; the caller may now delete it from its queue."""

    recorded: int = 0
    duplicates: int = 0
    forwarded: bool = False


class HandleNotification:
    """Handle one notification in the order docs/operations.md gives.

    1. Record one delivery problem per bounced or complained recipient. A store failure
       raises: the caller must leave the message in its queue to come back later. Recording
       is idempotent by ``feedback_id``, which is what makes that retry safe.
    2. Consume the metadata stored for ``mail.messageId``. A failure raises too: handling
       again later records nothing twice, whereas going on would lose the metadata for good.
    3. Forward the original notification plus ``metadata`` to the sink. A failure is logged,
       not raised; the consumed metadata is put back so that it is not lost with it.
       With no sink (no outgoing queue configured) nothing is forwarded.
    """

    def __init__(
        self,
        problems: DeliveryProblemStore,
        messages: MessageDataStore,
        sink: NotificationSink | None,
        clock: Clock,
    ) -> None:
        self._problems = problems
        self._messages = messages
        self._sink = sink
        self._clock = clock

    async def __call__(self, notification: Notification) -> Handled:
        recorded = duplicates = 0
        for problem in self.problems_of(notification):
            if await self._problems.record(problem):
                recorded += 1
            else:
                duplicates += 1
        metadata = await self._messages.consume(notification.message_id)
        forwarded = await self._forward(notification, metadata)
        return Handled(recorded, duplicates, forwarded)

    def problems_of(self, notification: Notification) -> list[DeliveryProblem]:
        """The delivery problems a notification reports, mapped as docs/api.md says."""
        event = notification.event
        if isinstance(event, Delivery):
            return []
        if isinstance(event, Bounce):
            type_ = _mapped(BOUNCE_TYPES, "bounceType", event.bounce_type, notification)
            subtype = _mapped(BOUNCE_SUBTYPES, "bounceSubType", event.bounce_subtype, notification)
        else:
            type_ = ProblemType.COMPLAINT
            subtype = _mapped(
                COMPLAINT_SUBTYPES, "complaintFeedbackType", event.feedback_type, notification
            )
        created_at = event.timestamp_ms if event.timestamp_ms is not None else self._clock.now_ms()
        return [
            DeliveryProblem(address, type_, subtype, created_at, event.feedback_id)
            for address in dict.fromkeys(event.recipients)
        ]

    async def _forward(self, notification: Notification, metadata: str | None) -> bool:
        if self._sink is None:
            return False
        document = dict(notification.original)
        if metadata is not None:
            document["metadata"] = metadata
        try:
            await self._sink.send(document)
        except ServiceError:
            logger.exception(
                "could not forward the %s notification about %s",
                notification.kind,
                notification.message_id,
            )
            if metadata is not None:
                await self._restore(notification.message_id, metadata)
            return False
        return True

    async def _restore(self, message_id: str, metadata: str) -> None:
        try:
            await self._messages.put(message_id, metadata)
        except ServiceError:
            logger.exception("could not put back the metadata of %s", message_id)


def _mapped(
    table: Mapping[str | None, _Mapped], field: str, name: str | None, notification: Notification
) -> _Mapped:
    """``table[name]``; an unknown name is logged and falls back to the table's ``None``."""
    value = table.get(name) if name is not None else None
    if value is None:
        value = table[None]
        if name is not None:
            logger.warning(
                "unknown %s %r in a notification about %s: recorded as %s",
                field,
                name,
                notification.message_id,
                value.name,
            )
    return value
