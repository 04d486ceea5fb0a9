"""`fxa-email-service serve` and `fxa-email-service queues` as a deployment runs them.

Two processes share the embedded SQLite store; SES and SQS are moto's server, reached
through the standard ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.service import RunningService, clean_env, command_path, run_command, serve
from tests.fixtures import auth_server, ses
from tests.servers import TEST_AWS_ENV, MotoServer
from tests.waiting import wait_for


@contextmanager
def queues_worker(cwd: Path, env: dict[str, str]) -> Iterator[RunningService]:
    log = cwd / "queues.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [command_path(), "queues"],
            cwd=cwd,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    worker = RunningService(process, 0, log)
    try:
        yield worker
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def deployment_env(moto: MotoServer, tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    sqs = moto.client("sqs")
    urls = {
        name: sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
        for name in ("bounce", "complaint", "delivery", "notification")
    }
    moto.client("ses").verify_domain_identity(Domain="example.com")
    env = clean_env(
        **TEST_AWS_ENV,
        AWS_ENDPOINT_URL=moto.url,
        FXA_EMAIL_ENV="test",
        FXA_EMAIL_HMACKEY="e2e hmac key",
        FXA_EMAIL_SQLITE_PATH=str(tmp_path / "shared.sqlite3"),
        FXA_EMAIL_WORKER_WAITSECONDS="1",
        FXA_EMAIL_LOG_FORMAT="pretty",
        FXA_EMAIL_LOG_LEVEL="info",
        **{f"FXA_EMAIL_AWS_SQSURLS_{name.upper()}": url for name, url in urls.items()},
    )
    return env, urls


def send(service: RunningService, to: str, **extra: Any) -> httpx.Response:
    body = {"to": to, "subject": "Hi", "body": {"text": "hello"}, **extra}
    return httpx.post(f"{service.url}/send", json=body, timeout=10)


def test_a_bounce_on_the_queue_blocks_the_address_and_metadata_comes_back(
    moto: MotoServer, tmp_path: Path
) -> None:
    env, urls = deployment_env(moto, tmp_path)
    address = "bouncer@example.com"
    with serve(tmp_path, env) as service, queues_worker(tmp_path, env) as worker:
        sent = send(service, address, provider="ses", metadata='{"flow": "e2e-7"}')
        assert sent.status_code == 200, sent.text
        ses_id = sent.json()["messageId"].removeprefix("ses:")

        notification = ses.bounce("Permanent", "General", address)
        notification["mail"]["messageId"] = ses_id
        bounced_at = datetime.now(UTC).replace(microsecond=123000)
        notification["bounce"]["timestamp"] = bounced_at.isoformat().replace("+00:00", "Z")
        envelope = json.dumps(ses.sns_envelope(notification))
        moto.client("sqs").send_message(QueueUrl=urls["bounce"], MessageBody=envelope)

        def refused() -> httpx.Response | None:
            response = send(service, address)
            return response if response.status_code == 429 else None

        refusal = wait_for(refused, 20, "/send to refuse the bounced address").json()
        forwarded = wait_for(
            lambda: moto.drain(urls["notification"]) or None, 20, "the forwarded notification"
        )
        worker_exit, serve_exit = worker.stop(), service.stop()

    assert refusal["errno"] == 108
    assert refusal["time"] == refusal["bouncedAt"] == int(bounced_at.timestamp() * 1000)
    assert refusal["problem"]["type"] == "hardBounce"
    [read] = [auth_server.read(body) for body in forwarded]
    assert (read.notification_type, read.message_id) == ("Bounce", ses_id)
    assert (read.addresses, read.metadata) == ((address,), '{"flow": "e2e-7"}')
    attributes = moto.client("sqs").get_queue_attributes(
        QueueUrl=urls["bounce"], AttributeNames=["All"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert (worker_exit, serve_exit) == (0, 0)
    log = worker.output()
    assert "e2e-7" not in log and "notification worker stopped: processed 1" in log


def sqs_send(moto: MotoServer, url: str, document: dict[str, Any] | str) -> None:
    body = document if isinstance(document, str) else json.dumps(ses.sns_envelope(document))
    moto.client("sqs").send_message(QueueUrl=url, MessageBody=body)


def depth(moto: MotoServer, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = moto.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=names)
    return sum(int(attributes["Attributes"][name]) for name in names)


def drained(moto: MotoServer, url: str, count: int) -> list[auth_server.Read]:
    """Every forwarded message, as the auth server reads them, once ``count`` arrived."""
    reads: list[auth_server.Read] = []

    def more() -> bool:
        reads.extend(auth_server.read(body) for body in moto.drain(url))
        return len(reads) >= count

    wait_for(more, 20, f"{count} forwarded notifications")
    return reads


def test_metadata_comes_back_on_every_notification_about_a_message(
    moto: MotoServer, tmp_path: Path
) -> None:
    env, urls = deployment_env(moto, tmp_path)
    with serve(tmp_path, env) as service, queues_worker(tmp_path, env) as worker:
        sent = send(
            service, "to@example.com", cc=["cc@example.com"], provider="ses", metadata="m-42"
        )
        assert sent.status_code == 200, sent.text
        ses_id = sent.json()["messageId"].removeprefix("ses:")
        delivery = ses.aws("notification-delivery")
        delivery["mail"]["messageId"] = ses_id
        delivery["delivery"]["recipients"] = ["to@example.com"]
        bounce = ses.bounce("Transient", "MailboxFull", "cc@example.com")
        bounce["mail"]["messageId"] = ses_id
        sqs_send(moto, urls["delivery"], delivery)
        sqs_send(moto, urls["bounce"], bounce)
        first = drained(moto, urls["notification"], 2)
        complaint = ses.aws("event-complaint")  # days later, through a configuration set
        complaint["mail"]["messageId"] = ses_id
        complaint["complaint"]["complainedRecipients"] = [{"emailAddress": "to@example.com"}]
        sqs_send(moto, urls["complaint"], complaint)
        later = drained(moto, urls["notification"], 1)
        assert worker.stop() == 0
    reads = sorted(first, key=lambda r: r.notification_type) + later
    assert [(r.notification_type, r.addresses) for r in reads] == [
        ("Bounce", ("cc@example.com",)),
        ("Delivery", ("to@example.com",)),
        ("Complaint", ("to@example.com",)),
    ]
    assert [r.metadata for r in reads] == ["m-42"] * 3
    assert {r.message_id for r in reads} == {ses_id}


def test_an_event_publishing_bounce_blocks_the_address(moto: MotoServer, tmp_path: Path) -> None:
    env, urls = deployment_env(moto, tmp_path)
    address = "evented@example.com"
    with serve(tmp_path, env) as service, queues_worker(tmp_path, env) as worker:
        assert send(service, address).status_code == 200
        record = ses.aws("event-bounce")
        record["bounce"]["bouncedRecipients"][0]["emailAddress"] = address
        now = datetime.now(UTC)
        record["mail"]["timestamp"] = now.isoformat().replace("+00:00", "Z")
        record["bounce"]["timestamp"] = now.isoformat().replace("+00:00", "Z")
        sqs_send(moto, urls["bounce"], record)
        open_ = ses.aws("event-open")  # records nothing, forwarded and deleted
        sqs_send(moto, urls["bounce"], open_)

        def refused() -> httpx.Response | None:
            response = send(service, address)
            return response if response.status_code == 429 else None

        refusal = wait_for(refused, 20, "/send to refuse the bounced address").json()
        reads = drained(moto, urls["notification"], 2)
        wait_for(lambda: depth(moto, urls["bounce"]) == 0, 20, "both deleted")
        assert worker.stop() == 0
    assert (refusal["errno"], refusal["problem"]["type"]) == (108, "hardBounce")
    assert sorted(r.notification_type for r in reads) == ["Bounce", "Open"]


def test_a_refused_forward_stays_queued_and_is_forwarded_once_later(
    moto: MotoServer, tmp_path: Path
) -> None:
    env, urls = deployment_env(moto, tmp_path)
    sqs = moto.client("sqs")
    late = urls["notification"].rsplit("/", 1)[0] + "/late-notification"
    env["FXA_EMAIL_AWS_SQSURLS_NOTIFICATION"] = late  # refused: the queue does not exist yet
    doc = ses.bounce("Permanent", "General", "late@example.com")
    with queues_worker(tmp_path, env) as worker:
        sqs_send(moto, urls["bounce"], doc)
        wait_for(lambda: "left for redelivery" in worker.output(), 20, "a refused forward")
        assert depth(moto, urls["bounce"]) == 1
        assert sqs.create_queue(QueueName="late-notification")["QueueUrl"] == late
        reads = drained(moto, late, 1)
        wait_for(lambda: depth(moto, urls["bounce"]) == 0, 20, "deleted once forwarded")
        assert worker.stop() == 0
    assert [r.addresses for r in reads] == [("late@example.com",)]
    assert moto.drain(late) == []  # exactly once
    assert "late@example.com" not in worker.output()


def test_a_poison_message_never_delays_the_nine_good_ones_of_its_batch(
    moto: MotoServer, tmp_path: Path
) -> None:
    env, urls = deployment_env(moto, tmp_path)
    env["FXA_EMAIL_WORKER_WAITSECONDS"] = "2"
    sqs = moto.client("sqs")
    # Long enough that nothing received is received again during the test: the nine can
    # only be gone if they were deleted after the first receive.
    sqs.set_queue_attributes(QueueUrl=urls["bounce"], Attributes={"VisibilityTimeout": "120"})
    poison = "[" * 50_000 + "]" * 50_000  # RecursionError in a JSON parser
    entries = [{"Id": "poison", "MessageBody": poison}] + [
        {"Id": str(i), "MessageBody": json.dumps(ses.sns_envelope(ses.load("delivery")))}
        for i in range(9)
    ]
    assert not sqs.send_message_batch(QueueUrl=urls["bounce"], Entries=entries).get("Failed")
    with queues_worker(tmp_path, env) as worker:
        reads = drained(moto, urls["notification"], 9)
        wait_for(lambda: depth(moto, urls["bounce"]) == 1, 20, "the nine deleted")
        assert worker.stop() == 0
    assert len(reads) == 9
    log = worker.output()
    assert "cannot be parsed (body: not JSON (nested too deeply))" in log
    assert log.count("cannot be parsed") == 1


def test_sigterm_during_a_long_poll_stops_within_two_seconds(
    moto: MotoServer, tmp_path: Path
) -> None:
    env, urls = deployment_env(moto, tmp_path)
    env["FXA_EMAIL_WORKER_WAITSECONDS"] = "20"
    with queues_worker(tmp_path, env) as worker:
        # Once a message was handled and deleted, the loop is straight back in a long poll.
        sqs_send(moto, urls["delivery"], ses.load("delivery"))
        wait_for(lambda: depth(moto, urls["delivery"]) == 0, 20, "handled and deleted")
        started = time.monotonic()
        code = worker.stop(timeout=10)
        elapsed = time.monotonic() - started
    assert code == 0
    assert elapsed < 2, f"stopped after {elapsed:.1f} s"
    assert "notification worker stopped" in worker.output()


def test_queues_without_an_incoming_queue_is_a_configuration_error(tmp_path: Path) -> None:
    result = run_command("queues", cwd=tmp_path, env=clean_env(FXA_EMAIL_ENV="test"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "fxa-email-service: configuration error: aws.sqsurls: no incoming queue "
        "(bounce, complaint or delivery) is configured"
    )
