"""`fxa-email-service serve` and `fxa-email-service queues` as a deployment runs them.

Two processes share the embedded SQLite store; SES and SQS are moto's server, reached
through the standard ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import json
import subprocess
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


def test_queues_without_an_incoming_queue_is_a_configuration_error(tmp_path: Path) -> None:
    result = run_command("queues", cwd=tmp_path, env=clean_env(FXA_EMAIL_ENV="test"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "fxa-email-service: configuration error: aws.sqsurls: no incoming queue "
        "(bounce, complaint or delivery) is configured"
    )
