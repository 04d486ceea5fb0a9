"""Queue ports: where SES notifications come from and where they are forwarded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # domain.notifications imports this module: annotations only
    from domain.notifications import Notification


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One message received from a source, parsed or not.

    ``notification`` is None when the body could not be parsed (broken JSON, wrong MD5,
    unknown ``notificationType`` ...); ``error`` then says why, for the logs. ``receipt`` is
    what ``delete`` needs. ``queue`` and ``id`` name the message in logs.
    """

    queue: str
    id: str
    receipt: str
    notification: Notification | None
    error: str | None = None


class NotificationSource(Protocol):
    """An incoming queue of SES notifications (at-least-once, with a visibility timeout)."""

    @property
    def name(self) -> str:
        """The queue's name for logs (never a secret)."""
        ...

    async def receive(self) -> Sequence[IncomingMessage]:
        """Wait for messages and return a batch of up to 10, or none after the wait.

        Never returns immediately on an empty queue (long polling), so a loop over it does
        not spin. Received messages are hidden from other receivers until they are deleted
        or the queue's visibility timeout passes, after which they are received again.
        Raises ``domain.errors.QueueError`` when the queue cannot be reached.
        """
        ...

    async def delete(self, messages: Sequence[IncomingMessage]) -> Sequence[IncomingMessage]:
        """Delete ``messages`` (received from this source) for good.

        Returns those that could not be deleted (they will be received again). Raises
        ``QueueError`` when the queue cannot be reached at all.
        """
        ...


class NotificationSink(Protocol):
    """The outgoing queue: notifications plus their metadata, for reliers to read."""

    async def send(self, notification: Mapping[str, object]) -> None:
        """Send one notification as a JSON object. Raises ``QueueError`` on failure."""
        ...
