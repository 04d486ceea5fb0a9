"""Logs carry no secret, no address and no hex or HMAC of one, at any level (docs/operations.md).

A send, a 429, a store outage and a worker batch, with ``log.level`` debug and the
accounts database's URL carrying credentials, all logged as in production.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from adapters.stores.keys import KeyHasher
from config.container import build_container, shutdown
from config.settings import load_settings
from domain.model import DeliveryProblem, ProblemSubtype, ProblemType
from entrypoints import worker
from entrypoints.logs import configure_logging, log_effective_configuration
from tests.doubles.accountsdb import reset_accounts_db, shared_http_double
from tests.entrypoints.test_worker import Queues
from tests.fixtures import ses
from tests.http_app import client_for
from tests.servers import MotoServer, free_port
from tests.waiting import eventually

SECRETS = ("pa55w0rd-of-the-db", "aws-secret-of-the-test", "hmac-key-of-the-test")
SENT_TO = ("victim@example.com", "copied@example.org")
BLOCKED = "blocked@example.com"
BOUNCED = ("jane@example.com", "richard@example.com")  # in the bounce-permanent fixture


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger's output as configured by the service, restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    sink = io.StringIO()
    yield sink
    root.handlers[:], root.level = saved
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def settings(moto: MotoServer, queues: Queues, baseuri: str) -> Any:
    return load_settings(
        env="test",
        log={"level": "debug", "format": "mozlog"},
        hmackey=SECRETS[2],
        deliveryproblems={"backend": "authdb"},
        messagedata={"backend": "memory"},
        authdb={"baseuri": baseuri, "timeout": 1},
        aws={
            "region": "us-east-1",
            "keys": {"access": "testing", "secret": SECRETS[1]},
            "sqsurls": {"bounce": queues.bounce, "notification": queues.outgoing},
        },
        worker={"waitseconds": 1, "concurrency": 4},
    )


def forbidden(hmackey: str) -> list[str]:
    words = list(SECRETS)
    hasher = KeyHasher(hmackey)
    for address in (*SENT_TO, BLOCKED, *BOUNCED):
        for form in {address, address.lower(), address.title()}:
            words += [form, form.encode().hex(), hasher.address(form)]
    return words


async def test_no_secret_or_address_reaches_the_log_at_any_level(
    moto: MotoServer, captured: io.StringIO, tmp_path: Path
) -> None:
    await reset_accounts_db()
    queues = Queues(moto)
    double = shared_http_double()
    good = settings(moto, queues, f"http://fxa:{SECRETS[0]}@127.0.0.1:{double.port}/")
    down = settings(moto, queues, f"http://fxa:{SECRETS[0]}@127.0.0.1:{free_port()}/")
    configure_logging(good)
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logging.getLogger().handlers[0].formatter)
    logging.getLogger().addHandler(handler)
    log_effective_configuration(good)

    container = build_container(good)
    await container.delivery_problems().record(
        DeliveryProblem(BLOCKED, ProblemType.HARD_BOUNCE, ProblemSubtype.GENERAL, 1)
    )
    body = {"subject": "s", "body": {"text": "t"}, "metadata": "m"}
    async with client_for(container) as client:
        sent = await client.post("/send", json={**body, "to": SENT_TO[0], "cc": [SENT_TO[1]]})
        refused = await client.post("/send", json={**body, "to": BLOCKED})
    outage = build_container(down)
    async with client_for(outage) as client:
        failed = await client.post("/send", json={**body, "to": SENT_TO[0]})
    assert (sent.status_code, refused.status_code, failed.status_code) == (200, 429, 500)

    queues.put(queues.bounce, ses.load("bounce-permanent"))
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(worker.run, container, stop)
        await eventually(lambda: queues.depth(queues.bounce) == 0, what="the batch handled")
        stop.set()
    assert len(await container.delivery_problems().fetch(BOUNCED[0])) == 1
    await shutdown(container)
    await shutdown(outage)

    log = captured.getvalue()
    assert logging.getLogger().level == logging.DEBUG
    assert "errno 109" in log and "notification worker" in log  # the outage and the batch
    leaked = [word for word in forbidden(good.hmackey.get_secret_value()) if word in log]
    assert leaked == [], "\n".join(
        line for line in log.splitlines() if any(w in line for w in leaked)
    )[:3000]
