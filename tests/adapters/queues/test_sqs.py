"""SQS: which endpoint a call goes to, and the outgoing queue's message format."""

from __future__ import annotations

import json

import pytest

from adapters.queues.ses_notifications import parse_ses
from adapters.queues.sqs import SqsConnection, SqsNotificationSink, queue_name
from domain.notifications import outgoing_notification
from tests.fixtures import auth_server, ses
from tests.servers import MotoServer

LOCAL = "http://127.0.0.1:4566/123456789012/bounces"
AWS = "https://sqs.us-east-1.amazonaws.com/123456789012/bounces"


@pytest.fixture(autouse=True)
def no_endpoint_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")


def endpoint(connection: SqsConnection, url: str) -> str:
    return str(connection.client_for(url).meta.endpoint_url)


def test_a_queue_url_outside_aws_is_reached_at_its_own_origin() -> None:
    connection = SqsConnection("us-east-1", "k", "s")
    assert endpoint(connection, LOCAL) == "http://127.0.0.1:4566"
    assert endpoint(connection, AWS) == "https://sqs.us-east-1.amazonaws.com"
    assert connection.client_for(LOCAL) is connection.client_for(LOCAL)  # one client each


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS"])
def test_the_standard_endpoint_variables_win(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "http://localhost:9324")
    connection = SqsConnection("us-east-1", "k", "s")
    assert endpoint(connection, LOCAL) == "http://localhost:9324"
    assert endpoint(connection, AWS) == "http://localhost:9324"


def test_queue_names_for_logs() -> None:
    assert queue_name(LOCAL) == "bounces"
    assert queue_name("https://example.com/q/") == "q"


@pytest.mark.parametrize("format", ["sns", "raw"])
async def test_the_outgoing_format_is_what_the_auth_server_parses(
    moto: MotoServer, format: str
) -> None:
    sqs = moto.client("sqs")
    url = sqs.create_queue(QueueName=f"notifications-{format}")["QueueUrl"]
    connection = SqsConnection("us-east-1", "testing", "testing")
    document = outgoing_notification(parse_ses(ses.aws("notification-bounce-dsn")), 0, "meta")
    await SqsNotificationSink(connection, url, format).send(document)
    [body] = moto.drain(url)
    read = auth_server.read(body, raw=format == "raw")
    assert (read.notification_type, read.addresses, read.metadata) == (
        "Bounce",
        ("jane@example.com",),
        "meta",
    )
    if format == "sns":
        envelope = json.loads(body)
        assert envelope["Type"] == "Notification"
        assert set(envelope) == {"Type", "MessageId", "TopicArn", "Message", "Timestamp"}
        assert json.loads(envelope["Message"]) == document
    else:
        assert json.loads(body) == document
    await connection.aclose()
