"""The HandleDeliveryEvent service: record problems -> read metadata -> forward.

The order, the clamping of times and the outgoing shape are those of docs/notifications.md.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.events import BOUNCE, COMPLAINT, DELIVERY, DeliveryEvent
from domain.model import DeliveryProblem, MessageData, ProblemSubtype, ProblemType
from ports.clock import Clock
from ports.queues import NotificationSink
from ports.stores import DeliveryProblemStore, MessageDataStore

# A problem time further ahead than this is not believed (docs/notifications.md).
FUTURE_TOLERANCE_MS = 5 * 60 * 1000
# Recording yields to the event loop this often, so thousands of recipients never stall it.
RECORDS_PER_SLICE = 32

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BOUNCE_SUBTYPES = range(ProblemSubtype.UNDETERMINED, ProblemSubtype.ATTACHMENT_REJECTED + 1)
_COMPLAINT_FEEDBACK_TYPES = range(ProblemSubtype.ABUSE, ProblemSubtype.VIRUS + 1)


@dataclass(frozen=True, slots=True)
class Handled:
    """What handling one event did; the caller may now delete it from its queue."""

    recorded: int = 0
    duplicates: int = 0
    forwarded: bool = False


class HandleDeliveryEvent:
    """Handle one delivery event, from any provider, in the order of docs/notifications.md.

    1. Record one delivery problem per recipient of a bounce or complaint, at the event's
       time clamped by ``problem_time``. A store failure raises: the caller leaves the
       event's message in its queue, to come back later. Recording is idempotent (by the
       event's id, or without one by message id, kind and the provider's timestamp), which
       is what makes that retry safe.
    2. Read the metadata and relier id stored for the email; they are never consumed, so
       every event about the email carries them until they expire. A failure raises.
    3. Forward ``outgoing_notification`` to the sink. A failure raises too, so the message
       stays in its queue and comes back; step 1 then records nothing twice. With no sink
       (no outgoing queue configured) nothing is forwarded.
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

    async def __call__(self, event: DeliveryEvent) -> Handled:
        when = problem_time(event, self._clock.now_ms())
        recorded = duplicates = 0
        for count, problem in enumerate(problems_of(event, when), start=1):
            if await self._problems.record(problem):
                recorded += 1
            else:
                duplicates += 1
            if count % RECORDS_PER_SLICE == 0:
                await asyncio.sleep(0)  # let the rest of the worker run between slices
        if self._sink is None:
            return Handled(recorded, duplicates, False)
        stored = await self._messages.get(event.message_id) or MessageData()
        await self._sink.send(outgoing_notification(event, when, stored.metadata, stored.relier))
        return Handled(recorded, duplicates, True)


def problem_time(event: DeliveryEvent, now_ms: int) -> int:
    """The event's time, or ``now_ms`` when it is absent, in the future or before the mail.

    A forged far-future time must not block an address for ever, and an event cannot
    precede the email it is about. Without a time of its own, the mail's time stands in.
    """
    sent = event.mail.timestamp_ms
    when = event.timestamp_ms if event.timestamp_ms is not None else sent
    if when is None or when > now_ms + FUTURE_TOLERANCE_MS or (sent is not None and when < sent):
        return now_ms
    return when


def problems_of(event: DeliveryEvent, when: int) -> list[DeliveryProblem]:
    """One problem per distinct recipient of a bounce or complaint; none for other kinds."""
    if event.problem_type is None:
        return []
    once = event.event_id or dedup_id(event)
    return [
        DeliveryProblem(address, event.problem_type, event.problem_subtype, when, once)
        for address in dict.fromkeys(event.recipients)
    ]


def dedup_id(event: DeliveryEvent) -> str:
    """Without an event id, the same event is (provider, message id, kind, provider's time)."""
    stamp = event.timestamp_ms if event.timestamp_ms is not None else event.mail.timestamp_ms
    return f"{event.provider}:{event.message_id}:{event.kind}:{stamp}"


def outgoing_notification(
    event: DeliveryEvent, when: int, metadata: str | None, relier: str | None = None
) -> dict[str, object]:
    """The notification reliers read, whichever provider reported the event.

    SES's field names with plain-string recipients (the auth server's consumer splits each
    address), ``metadata`` when the relier stored some and ``relier`` when an authenticated
    relier sent the email: docs/notifications.md.
    """
    mail = event.mail
    document: dict[str, object] = {
        "notificationType": event.kind,
        "mail": {
            "timestamp": iso_time(mail.timestamp_ms if mail.timestamp_ms is not None else when),
            "messageId": mail.message_id,
            "source": mail.source,
            "destination": list(mail.destination),
            "headers": [{"name": name, "value": value} for name, value in mail.headers],
        },
    }
    if metadata is not None:
        document["metadata"] = metadata
    if relier is not None:
        document["relier"] = relier
    recipients = list(event.recipients)
    subtype = event.problem_subtype
    if event.kind == BOUNCE:
        document["bounce"] = {
            "bounceType": _bounce_type(event.problem_type, subtype),
            "bounceSubType": subtype.wire_name if subtype in _BOUNCE_SUBTYPES else "Undetermined",
            "bouncedRecipients": recipients,
            "timestamp": iso_time(when),
        }
    elif event.kind == COMPLAINT:
        complaint: dict[str, object] = {"complainedRecipients": recipients}
        if subtype in _COMPLAINT_FEEDBACK_TYPES:
            complaint["complaintFeedbackType"] = subtype.wire_name
        complaint["timestamp"] = iso_time(when)
        document["complaint"] = complaint
    elif event.kind == DELIVERY:
        document["delivery"] = {"timestamp": iso_time(when), "recipients": recipients}
    else:
        for key, value in event.details.items():
            document.setdefault(key, value)
    return document


def _bounce_type(type_: ProblemType | None, subtype: ProblemSubtype) -> str:
    if type_ is ProblemType.HARD_BOUNCE:
        return "Permanent"
    return "Undetermined" if subtype is ProblemSubtype.UNDETERMINED else "Transient"


def iso_time(ms: int) -> str:
    """Milliseconds since the epoch as SES writes times: ``2026-11-20T11:05:06.477Z``."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
