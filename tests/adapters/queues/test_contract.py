"""NotificationSource / NotificationSink contract, over the memory fakes and SQS on moto."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from adapters.queues import ses_notifications
from adapters.queues.memory import MemoryNotificationSink, MemoryNotificationSource
from adapters.queues.sqs import SqsConnection, SqsNotificationSink, SqsNotificationSource
from domain.errors import QueueError
from ports.queues import (
    IncomingMessage,
    NotificationSink,
    NotificationSource,
    ReceivedEvent,
    UnparseableMessage,
)
from tests.fakes import Faulty
from tests.fixtures import ses
from tests.servers import MotoServer

WAIT = 1  # long-poll seconds: small, so that an empty receive costs a second at most
VISIBILITY = 1  # seconds before an undeleted message comes back


class MemoryQueues:
    def __init__(self) -> None:
        self.incoming = MemoryNotificationSource("bounces", WAIT, VISIBILITY)
        self.outgoing = MemoryNotificationSink()

    def source(self) -> NotificationSource:
        return self.incoming

    def put(self, body: str, corrupt_md5: bool = False) -> None:
        self.incoming.put(body, "0" * 32 if corrupt_md5 else None)

    def remaining(self) -> int:
        return self.incoming.count()

    def sink(self) -> NotificationSink:
        return self.outgoing

    def sent(self) -> list[dict[str, Any]]:
        return self.outgoing.sent

    def broken_source(self) -> NotificationSource:
        source = Faulty(MemoryNotificationSource("gone"), "receive", "delete")
        source.fail_with = QueueError("no such queue")
        return source.port

    def broken_sink(self) -> NotificationSink:
        sink = Faulty(MemoryNotificationSink(), "send")
        sink.fail_with = QueueError("no such queue")
        return sink.port


class SqsQueues:
    """Queues on moto's server; corrupted MD5s are injected into the receive responses."""

    def __init__(self, moto: MotoServer) -> None:
        self.moto = moto
        self.client = moto.client("sqs")
        attributes = {"VisibilityTimeout": str(VISIBILITY)}
        self.url = self.client.create_queue(QueueName="bounces", Attributes=attributes)["QueueUrl"]
        self.out_url = self.client.create_queue(QueueName="notifications")["QueueUrl"]
        self.connection = SqsConnection("us-east-1", "testing", "testing", wait_seconds=WAIT)
        self._corrupt: set[str] = set()
        self.connection.client_for(self.url).meta.events.register(
            "after-call.sqs.ReceiveMessage", self._corrupt_md5
        )

    def _corrupt_md5(self, parsed: dict[str, Any], **_: Any) -> None:
        for message in parsed.get("Messages", []):
            if message["Body"] in self._corrupt:
                message["MD5OfBody"] = "0" * 32

    def source(self) -> NotificationSource:
        return SqsNotificationSource(self.connection, self.url, WAIT)

    def put(self, body: str, corrupt_md5: bool = False) -> None:
        if corrupt_md5:
            self._corrupt.add(body)
        self.client.send_message(QueueUrl=self.url, MessageBody=body)

    def remaining(self) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=names)
        return sum(int(attributes["Attributes"][name]) for name in names)

    def sink(self) -> NotificationSink:
        return SqsNotificationSink(self.connection, self.out_url)

    def sent(self) -> list[dict[str, Any]]:
        """The notifications, out of their SNS-style envelopes (the default format)."""
        envelopes = [json.loads(body) for body in self.moto.drain(self.out_url)]
        assert all(e["Type"] == "Notification" for e in envelopes)
        return [json.loads(e["Message"]) for e in envelopes]

    def _missing_url(self) -> str:
        return str(self.url).rsplit("/", 1)[0] + "/no-such-queue"

    def broken_source(self) -> NotificationSource:
        return SqsNotificationSource(self.connection, self._missing_url(), WAIT)

    def broken_sink(self) -> NotificationSink:
        return SqsNotificationSink(self.connection, self._missing_url())


Queues = MemoryQueues | SqsQueues


@pytest.fixture(params=["memory", "sqs"])
async def queues(request: pytest.FixtureRequest) -> AsyncIterator[Queues]:
    if request.param == "memory":
        yield MemoryQueues()
    else:
        yield SqsQueues(request.getfixturevalue("moto"))


async def drain(source: NotificationSource, expected: int) -> list[IncomingMessage]:
    """Receive until ``expected`` messages arrived (each receive waits at most WAIT s)."""
    received: list[IncomingMessage] = []
    deadline = time.monotonic() + 10
    while len(received) < expected and time.monotonic() < deadline:
        received.extend(await source.receive())
    return received


async def test_raw_and_enveloped_bodies_arrive_parsed_and_are_deleted(queues: Queues) -> None:
    raw = ses.load("complaint")
    queues.put(json.dumps(raw))
    queues.put(json.dumps(ses.sns_envelope(raw)))
    source = queues.source()
    messages = await drain(source, 2)
    assert len(messages) == 2
    received = [m for m in messages if isinstance(m, ReceivedEvent)]
    assert len(received) == 2
    for message in received:
        assert message.queue == source.name == "bounces"
        assert message.id and message.receipt
        assert message.event.message_id == raw["mail"]["messageId"]
        assert message.event.recipients == ("angry@example.com",)
    assert received[0].event == received[1].event
    assert len({m.id for m in messages}) == 2
    assert await source.delete(received) == []
    assert queues.remaining() == 0


async def test_an_empty_queue_is_long_polled_not_spun(queues: Queues) -> None:
    started = time.monotonic()
    assert await queues.source().receive() == []
    assert time.monotonic() - started >= WAIT * 0.8


async def test_a_receive_returns_at_most_ten(queues: Queues) -> None:
    for _ in range(12):
        queues.put(json.dumps(ses.load("delivery")))
    source = queues.source()
    first = await source.receive()
    assert 1 <= len(first) <= 10
    rest = await drain(source, 12 - len(first))
    assert len(first) + len(rest) == 12
    received = [m for m in [*first, *rest] if isinstance(m, ReceivedEvent)]
    assert await source.delete(received) == []
    assert queues.remaining() == 0


@pytest.mark.parametrize(
    ("body", "corrupt_md5", "reason"),
    [
        (ses.text("broken.json.txt"), False, "not JSON"),
        (json.dumps(ses.load("unknown-type")), False, "notificationType"),
        (json.dumps(ses.load("bounce-permanent")), True, "MD5"),
    ],
)
async def test_unparseable_messages_are_received_with_the_reason(
    queues: Queues, body: str, corrupt_md5: bool, reason: str
) -> None:
    queues.put(body, corrupt_md5)
    [message] = await drain(queues.source(), 1)
    assert isinstance(message, UnparseableMessage)
    assert reason in message.error
    assert queues.remaining() == 1  # receiving never deletes


async def test_an_undeleted_message_comes_back_after_the_visibility_timeout(
    queues: Queues,
) -> None:
    queues.put(json.dumps(ses.load("delivery")))
    source = queues.source()
    [first] = await drain(source, 1)
    hidden_until = time.monotonic() + VISIBILITY
    [again] = await drain(source, 1)
    assert isinstance(again, ReceivedEvent)
    assert time.monotonic() >= hidden_until - 0.2
    assert again.id == first.id
    assert await source.delete([again]) == []
    assert queues.remaining() == 0


async def test_the_sink_sends_one_json_object(queues: Queues) -> None:
    notification = {**ses.load("bounce-permanent"), "metadata": "m\u00e9ta \u2603"}
    await queues.sink().send(notification)
    assert queues.sent() == [notification]


async def test_concurrent_sends_each_arrive_once(queues: Queues) -> None:
    sink = queues.sink()
    async with anyio.create_task_group() as group:
        for i in range(13):  # more than one SQS batch
            group.start_soon(sink.send, {"n": i, "body": "x" * 30_000})
    assert sorted(d["n"] for d in queues.sent()) == list(range(13))


async def test_concurrent_sends_to_an_unreachable_queue_each_fail(queues: Queues) -> None:
    sink = queues.broken_sink()
    failures: list[int] = []

    async def send(i: int) -> None:
        try:
            await sink.send({"n": i})
        except QueueError:
            failures.append(i)

    async with anyio.create_task_group() as group:
        for i in range(12):
            group.start_soon(send, i)
    assert sorted(failures) == list(range(12))


@pytest.mark.parametrize("what", ["receive", "delete", "send"])
async def test_an_unreachable_queue_raises_queue_error(queues: Queues, what: str) -> None:
    with pytest.raises(QueueError):
        if what == "send":
            await queues.broken_sink().send({"x": 1})
        else:
            source = queues.broken_source()
            event = ses_notifications.parse_ses(ses.load("delivery"))
            message = ReceivedEvent(source.name, "id", uuid.uuid4().hex, event)
            calls: dict[str, Any] = {
                "receive": source.receive,
                "delete": lambda: source.delete([message]),
            }
            await calls[what]()
