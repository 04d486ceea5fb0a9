"""Queue ports: where delivery events come from and where notifications are forwarded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from domain.events import DeliveryEvent


@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    """A message received from a source and parsed into a delivery event.

    ``receipt`` is what ``delete`` needs; ``queue`` and ``id`` name the message in logs.
    """

    queue: str
    id: str
    receipt: str
    event: DeliveryEvent


@dataclass(frozen=True, slots=True)
class UnparseableMessage:
    """A message received from a source that could not be parsed, for any reason.

    ``error`` says why, for the logs (never the body). It is never deleted by the worker:
    the queue's redrive policy decides its fate.
    """

    queue: str
    id: str
    receipt: str
    error: str


IncomingMessage = ReceivedEvent | UnparseableMessage


class NotificationSource(Protocol):
    """An incoming queue of delivery events (at-least-once, with a visibility timeout)."""

    @property
    def name(self) -> str:
        """The queue's name for logs (never a secret)."""
        ...

    async def receive(self) -> Sequence[IncomingMessage]:
        """Wait for messages and return a batch of up to 10, or none after the wait.

        Never returns immediately on an empty queue (long polling), so a loop over it does
        not spin. Received messages are hidden from other receivers until they are deleted
        or the queue's visibility timeout passes, after which they are received again. A
        message that cannot be parsed is returned as an ``UnparseableMessage``; it never
        makes the call fail. Raises ``domain.errors.QueueError`` when the queue cannot be
        reached.
        """
        ...

    async def delete(self, messages: Sequence[ReceivedEvent]) -> Sequence[ReceivedEvent]:
        """Delete ``messages`` (received from this source) for good.

        Returns those that could not be deleted (they will be received again). Raises
        ``QueueError`` when the queue cannot be reached at all.
        """
        ...


class NotificationSink(Protocol):
    """The outgoing queue: notifications plus their metadata, for reliers to read."""

    async def send(self, notification: Mapping[str, object]) -> None:
        """Send one notification (a JSON object) to the outgoing queue.

        How it is wrapped on the queue (an SNS-style envelope, or raw) is the adapter's
        setting (docs/notifications.md). Raises ``QueueError`` on failure, in which case it
        may not be assumed sent.
        """
        ...
