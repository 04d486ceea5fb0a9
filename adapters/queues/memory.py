"""In-memory queues: fakes held to the same contract suite as SQS (visibility timeout too)."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import anyio

from adapters.queues.ses_notifications import body_md5, incoming
from domain.errors import QueueError
from ports.queues import IncomingMessage, ReceivedEvent

MAX_BATCH = 10


@dataclass(slots=True)
class _Stored:
    body: str
    md5: str
    visible_at: float = 0.0
    receipt: str = ""


class MemoryNotificationSource:
    """A queue in a dict. ``put`` adds a body."""

    def __init__(
        self, name: str = "memory", wait_seconds: float = 1.0, visibility_timeout: float = 30.0
    ) -> None:
        self._name = name
        self._wait = wait_seconds
        self._visibility = visibility_timeout
        self._messages: dict[str, _Stored] = {}
        self._arrived: anyio.Event | None = None
        self._ids = itertools.count(1)

    @property
    def name(self) -> str:
        return self._name

    def put(self, body: str, md5: str | None = None) -> str:
        """Add a message; ``md5`` overrides the body's MD5 (to simulate corruption)."""
        message_id = f"{self._name}-{next(self._ids)}"
        self._messages[message_id] = _Stored(body, md5 if md5 is not None else body_md5(body))
        if self._arrived is not None:
            self._arrived.set()
            self._arrived = None
        return message_id

    def count(self) -> int:
        """Messages not yet deleted, visible or in flight."""
        return len(self._messages)

    async def receive(self) -> Sequence[IncomingMessage]:
        deadline = time.monotonic() + self._wait
        while True:
            now = time.monotonic()
            visible = [(i, m) for i, m in self._messages.items() if m.visible_at <= now]
            if visible or now >= deadline:
                return [self._take(i, m, now) for i, m in visible[:MAX_BATCH]]
            next_visible = min((m.visible_at for m in self._messages.values()), default=deadline)
            if self._arrived is None:
                self._arrived = anyio.Event()
            with anyio.move_on_after(min(deadline, next_visible) - now):
                await self._arrived.wait()

    def _take(self, message_id: str, stored: _Stored, now: float) -> IncomingMessage:
        stored.visible_at = now + self._visibility
        stored.receipt = uuid.uuid4().hex
        return incoming(self._name, message_id, stored.receipt, stored.body, stored.md5)

    async def delete(self, messages: Sequence[ReceivedEvent]) -> Sequence[ReceivedEvent]:
        failed = []
        for message in messages:
            stored = self._messages.get(message.id)
            if stored is None or stored.receipt != message.receipt:
                failed.append(message)
            else:
                del self._messages[message.id]
        return failed


class MemoryNotificationSink:
    """Keeps what it is sent (as the JSON a queue would carry)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, object]] = []

    async def send(self, notification: Mapping[str, object]) -> None:
        try:
            self.sent.append(json.loads(json.dumps(notification)))
        except (TypeError, ValueError) as exc:
            raise QueueError(f"notification is not JSON: {exc}") from exc
