"""The worker through the real container: SQS on moto's server, memory stores."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from dependency_injector import providers

from config.container import Container, build_container
from config.settings import load_settings
from domain.errors import StoreError
from domain.events import DeliveryEvent
from domain.model import ProblemSubtype, ProblemType
from domain.notifications import Handled
from entrypoints import worker
from entrypoints.worker import Worker
from tests.fakes import faulty_problems
from tests.fixtures import auth_server, ses
from tests.servers import MotoServer
from tests.waiting import eventually

VISIBILITY = 1


class Queues:
    def __init__(self, moto: MotoServer) -> None:
        self.moto = moto
        self.client = moto.client("sqs")
        attributes = {"VisibilityTimeout": str(VISIBILITY)}
        self.bounce = self._create("bounces", attributes)
        self.other = self._create("complaints-and-deliveries", attributes)
        self.outgoing = self._create("notifications", {})

    def _create(self, name: str, attributes: dict[str, str]) -> str:
        return str(self.client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])

    def put(self, url: str, document: dict[str, Any] | str, envelope: bool = False) -> None:
        if isinstance(document, dict):
            document = json.dumps(ses.sns_envelope(document) if envelope else document)
        self.client.send_message(QueueUrl=url, MessageBody=document)

    def depth(self, url: str, visible_only: bool = False) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        response = self.client.get_queue_attributes(QueueUrl=url, AttributeNames=names)
        counts = [int(response["Attributes"][name]) for name in names]
        return counts[0] if visible_only else sum(counts)

    def forwarded(self) -> list[auth_server.Read]:
        """What the auth server reads from each forwarded message (drained)."""
        return [auth_server.read(body) for body in self.moto.drain(self.outgoing)]


@pytest.fixture
def queues(moto: MotoServer) -> Queues:
    return Queues(moto)


def make_container(queues: Queues, notification: str | None = None) -> Container:
    settings = load_settings(
        deliveryproblems={"backend": "memory"},
        messagedata={"backend": "memory"},
        aws={
            "region": "us-east-1",
            "keys": {"access": "testing", "secret": "testing"},
            "sqsurls": {
                "bounce": queues.bounce,
                "complaint": queues.other,
                "delivery": queues.other,
                "notification": notification or queues.outgoing,
            },
        },
        worker={"waitseconds": 1, "concurrency": 4},
    )
    return build_container(settings)


@asynccontextmanager
async def running(work: Worker | Container) -> AsyncIterator[Worker]:
    """A worker (or the container's), running until the block ends; then stopped, awaited."""
    if not isinstance(work, Worker):
        work = Worker(work.notification_sources(), work.handle_delivery_event(), 4)
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(work.run, stop)
        try:
            yield work
        finally:
            stop.set()


async def test_each_kind_is_recorded_forwarded_with_metadata_and_deleted(queues: Queues) -> None:
    container = make_container(queues)
    assert [s.name for s in container.notification_sources()] == [
        "bounces",
        "complaints-and-deliveries",
    ]
    bounce, complaint, delivery = (
        ses.load(n) for n in ("bounce-permanent", "complaint", "delivery")
    )
    messages = container.message_data()
    for doc in (bounce, complaint, delivery):
        await messages.put(doc["mail"]["messageId"], f"meta of {doc['notificationType']}")
    queues.put(queues.bounce, bounce)
    queues.put(queues.other, complaint, envelope=True)
    queues.put(queues.other, delivery, envelope=True)

    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(worker.run, container, stop)
        await eventually(
            lambda: queues.depth(queues.bounce) + queues.depth(queues.other) == 0, what="drained"
        )
        stop.set()

    problems = container.delivery_problems()
    for address in ("jane@example.com", "richard@example.com"):
        [problem] = await problems.fetch(address)
        assert (problem.type, problem.subtype) == (ProblemType.HARD_BOUNCE, ProblemSubtype.GENERAL)
        assert problem.created_at == 1795172706477
    assert await problems.fetch("mary@example.com") == []  # delivered to, never bounced
    [problem] = await problems.fetch("angry@example.com")
    assert (problem.type, problem.subtype) == (ProblemType.COMPLAINT, ProblemSubtype.ABUSE)
    assert await problems.fetch("happy@example.com") == []
    forwarded = sorted(queues.forwarded(), key=lambda read: read.notification_type)
    assert [(r.notification_type, r.message_id, r.metadata) for r in forwarded] == [
        (doc["notificationType"], doc["mail"]["messageId"], f"meta of {doc['notificationType']}")
        for doc in (bounce, complaint, delivery)
    ]
    assert [r.addresses for r in forwarded] == [
        ("jane@example.com", "Richard@Example.com"),
        ("angry@example.com",),
        ("happy@example.com", "glad@example.com"),
    ]


async def test_a_store_failure_leaves_the_message_until_the_store_is_back(
    queues: Queues,
) -> None:
    container = make_container(queues)
    store = faulty_problems(container.delivery_problems())
    container.delivery_problems.override(providers.Object(store))
    store.fail_with = StoreError("store down")
    doc = ses.bounce("Permanent", "General", "x@example.com")
    await container.message_data().put(doc["mail"]["messageId"], "meta")
    queues.put(queues.bounce, doc, envelope=True)
    async with running(container) as work:
        await eventually(lambda: work.counts.failed >= 2, what="failed and received again")
        assert work.counts.processed == 0
        assert queues.depth(queues.bounce) == 1
        store.fail_with = None
        await eventually(
            lambda: work.counts.processed == 1, what="processed once the store is back"
        )
    assert queues.depth(queues.bounce) == 0
    assert len(await store.fetch("x@example.com")) == 1
    [read] = queues.forwarded()
    assert (read.addresses, read.metadata) == (("x@example.com",), "meta")


async def test_a_refused_forward_leaves_the_message_and_a_later_success_forwards_once(
    queues: Queues,
) -> None:
    late = queues.outgoing.rsplit("/", 1)[0] + "/late-notifications"  # not created yet
    container = make_container(queues, notification=late)
    doc = ses.bounce("Transient", "MailboxFull", "full@example.com")
    await container.message_data().put(doc["mail"]["messageId"], "meta")
    queues.put(queues.bounce, doc)
    async with running(container) as work:
        await eventually(lambda: work.counts.failed >= 2, what="refused and received again")
        assert work.counts.processed == 0
        assert queues.depth(queues.bounce) == 1
        assert queues._create("late-notifications", {}) == late
        await eventually(lambda: work.counts.processed == 1, what="forwarded once it exists")
    assert work.counts.forwarded == 1
    assert queues.depth(queues.bounce) == 0
    [problem] = await container.delivery_problems().fetch("full@example.com")  # once
    assert problem.type == ProblemType.SOFT_BOUNCE
    [read] = [auth_server.read(body) for body in queues.moto.drain(late)]
    assert (read.addresses, read.metadata) == (("full@example.com",), "meta")


async def test_poison_messages_never_stop_the_loop_and_are_never_deleted(queues: Queues) -> None:
    container = make_container(queues)
    corrupt = json.dumps(ses.load("bounce-undetermined"))

    def corrupt_md5(parsed: dict[str, Any], **_: Any) -> None:
        for message in parsed.get("Messages", []):
            if message["Body"] == corrupt:
                message["MD5OfBody"] = "0" * 32

    container.sqs().client_for(queues.bounce).meta.events.register(
        "after-call.sqs.ReceiveMessage", corrupt_md5
    )
    queues.put(queues.bounce, ses.text("broken.json.txt"))
    queues.put(queues.bounce, ses.load("unknown-type"))
    queues.put(queues.bounce, corrupt)
    queues.put(queues.bounce, ses.load("bounce-transient"))
    async with running(container) as work:
        await eventually(lambda: work.counts.unparseable >= 6, what="poison seen twice each")
        await eventually(lambda: work.counts.processed == 1)
    assert work.counts.failed == 0
    await eventually(lambda: queues.depth(queues.bounce, visible_only=True) == 3, what="visible")
    assert queues.depth(queues.bounce) == 3
    assert len(queues.forwarded()) == 1


@pytest.mark.parametrize("feedback_id", [True, False], ids=["feedbackId", "no feedbackId"])
async def test_a_duplicate_delivery_records_one_problem(queues: Queues, feedback_id: bool) -> None:
    container = make_container(queues)
    doc = ses.load("complaint-no-feedback-type")
    if not feedback_id:
        del doc["complaint"]["feedbackId"]
    queues.put(queues.other, doc)
    queues.put(queues.other, doc, envelope=True)
    async with running(container) as work:
        await eventually(lambda: work.counts.processed == 2)
    for address in ("quiet@example.com", "other@example.com"):
        [problem] = await container.delivery_problems().fetch(address)
        assert problem.subtype == ProblemSubtype.UNMAPPED
    assert len(queues.forwarded()) == 2


async def test_stop_lets_the_messages_in_flight_finish(queues: Queues) -> None:
    container = make_container(queues)
    handle = container.handle_delivery_event()
    started, release = anyio.Event(), anyio.Event()

    async def slow(event: DeliveryEvent) -> Handled:
        started.set()
        await release.wait()
        return await handle(event)

    work = Worker(container.notification_sources(), slow, concurrency=4)
    doc = ses.load("delivery")
    queues.put(queues.other, doc)
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(work.run, stop)
        await started.wait()
        stop.set()
        queues.put(queues.other, ses.load("complaint"))  # arrives after the stop: not taken
        release.set()
    assert work.counts.processed == 1
    assert [r.notification_type for r in queues.forwarded()] == ["Delivery"]
    assert queues.depth(queues.other) == 1
