"""worker.verifysns: only SNS envelopes whose signature verifies are read from SQS."""

from __future__ import annotations

import json

import pytest

from config.container import Container, build_container, shutdown
from config.settings import load_settings
from entrypoints.worker import Worker
from tests.doubles.sns import TOPIC, SnsDouble
from tests.doubles.tls import Certificates
from tests.entrypoints.test_worker import Queues, running
from tests.fixtures import ses
from tests.waiting import eventually


@pytest.fixture
def queues(moto: object) -> Queues:
    return Queues(moto)  # type: ignore[arg-type]


def make_container(queues: Queues, certificates: Certificates, verify: bool) -> Container:
    settings = load_settings(
        deliveryproblems={"backend": "memory"},
        messagedata={"backend": "memory"},
        aws={
            "region": "us-east-1",
            "keys": {"access": "testing", "secret": "testing"},
            "sqsurls": {"bounce": queues.bounce, "notification": queues.outgoing},
        },
        sns={"certhost": "127.0.0.1", "topics": [TOPIC], "cafile": certificates.cafile},
        worker={"waitseconds": 1, "concurrency": 4, "verifysns": verify},
    )
    return build_container(settings)


def bounce_for(address: str) -> str:
    return json.dumps(ses.bounce("Permanent", "General", address))


async def test_only_signed_envelopes_are_read(
    queues: Queues, certificates: Certificates, sns: SnsDouble
) -> None:
    container = make_container(queues, certificates, verify=True)
    forged = sns.notification(bounce_for("forged@example.com"))
    forged["Signature"] = "FORGED"
    tampered = sns.notification(bounce_for("victim@example.com"))
    tampered["Message"] = bounce_for("tampered@example.com")
    queues.put(queues.bounce, json.dumps(forged))
    queues.put(queues.bounce, json.dumps(tampered))
    queues.put(queues.bounce, ses.bounce("Permanent", "General", "raw@example.com"))
    queues.put(queues.bounce, json.dumps(sns.notification(bounce_for("signed@example.com"))))
    queues.put(
        queues.bounce, json.dumps(sns.notification(bounce_for("v2@example.com"), version="2"))
    )

    work = Worker(container.notification_sources(), container.handle_delivery_event(), 4)
    try:
        async with running(work):
            await eventually(lambda: work.counts.processed >= 2, what="the signed envelopes")
            await eventually(lambda: work.counts.unparseable >= 3, what="the others refused")
    finally:
        await shutdown(container)

    problems = container.delivery_problems()
    for address in ("signed@example.com", "v2@example.com"):
        assert len(await problems.fetch(address)) == 1
    for address in ("forged@example.com", "victim@example.com", "tampered@example.com"):
        assert await problems.fetch(address) == []
    assert await problems.fetch("raw@example.com") == []
    assert sorted(read.addresses for read in queues.forwarded()) == [
        ("signed@example.com",),
        ("v2@example.com",),
    ]
    assert queues.depth(queues.bounce) == 3  # left for the queue's redrive policy
    assert sns.downloads == 1


async def test_without_verifysns_a_forged_envelope_is_still_read(
    queues: Queues, certificates: Certificates, sns: SnsDouble
) -> None:
    # What `worker.verifysns` closes, for a deployment whose queues only SNS may write to.
    container = make_container(queues, certificates, verify=False)
    forged = sns.notification(bounce_for("forged@example.com"))
    forged["Signature"] = "FORGED"
    queues.put(queues.bounce, json.dumps(forged))
    async with running(container):
        await eventually(lambda: queues.depth(queues.bounce) == 0, what="drained")
    assert len(await container.delivery_problems().fetch("forged@example.com")) == 1
