"""Fakes shared by the tests: a settable clock and a recording provider."""

from __future__ import annotations

import uuid

from domain.errors import ProviderError
from domain.model import Email


class FakeClock:
    def __init__(self, now_ms: int = 1_700_000_000_000) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


class RecordingProvider:
    """An EmailProvider that keeps what it was given; ``fail`` makes the next sends fail."""

    def __init__(self, name: str = "mock") -> None:
        self.name = name
        self.sent: list[tuple[str, Email]] = []
        self.fail = False

    async def send(self, email: Email) -> str:
        if self.fail:
            raise ProviderError(f"{self.name} refused the message", name=self.name)
        message_id = uuid.uuid4().hex
        self.sent.append((message_id, email))
        return message_id
