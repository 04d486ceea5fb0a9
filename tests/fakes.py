"""Fakes shared by the tests: a settable clock, a recording provider, a faulty port."""

from __future__ import annotations

import uuid
from typing import Any, Generic, TypeVar, cast

from domain.errors import ProviderError
from domain.model import Email
from ports.stores import DeliveryProblemStore, MessageDataStore


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


P = TypeVar("P")


class Faulty(Generic[P]):
    """A port wrapped for a test: failure injection without hooks in the adapter.

    Each call to the methods named in ``methods`` is recorded in ``calls`` (by method name),
    then raises ``fail_with`` while it is set. Everything else is the wrapped adapter's own.
    Pass ``.port`` where the port's type is expected.
    """

    def __init__(self, inner: P, *methods: str) -> None:
        self.inner = inner
        self.fail_with: Exception | None = None
        self.calls: list[str] = []
        self._methods = frozenset(methods)

    @property
    def port(self) -> P:
        return cast(P, self)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name not in self._methods:
            return attr

        async def faulty(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            if self.fail_with is not None:
                raise self.fail_with
            return await attr(*args, **kwargs)

        return faulty


def faulty_problems(inner: DeliveryProblemStore) -> Faulty[DeliveryProblemStore]:
    return Faulty(inner, "fetch", "fetch_many", "record")


def faulty_messages(inner: MessageDataStore) -> Faulty[MessageDataStore]:
    return Faulty(inner, "put", "get")
