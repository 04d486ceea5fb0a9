"""The worker's settings and wiring: queue URLs, worker knobs, sources and sink."""

from __future__ import annotations

import pytest

from adapters.queues.sqs import SqsNotificationSink
from config.container import build_container
from config.errors import ConfigError
from config.settings import load_settings

BOUNCE = "http://127.0.0.1:4566/123456789012/bounces"
OTHER = "https://sqs.us-east-1.amazonaws.com/123456789012/others"


def test_the_original_variables_configure_the_queues_and_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FXA_EMAIL_AWS_SQSURLS_BOUNCE", BOUNCE)
    monkeypatch.setenv("FXA_EMAIL_AWS_SQSURLS_COMPLAINT", OTHER)
    monkeypatch.setenv("FXA_EMAIL_AWS_SQSURLS_DELIVERY", OTHER)
    monkeypatch.setenv("FXA_EMAIL_AWS_SQSURLS_NOTIFICATION", "")
    monkeypatch.setenv("FXA_EMAIL_WORKER_WAITSECONDS", "3")
    settings = load_settings()
    assert settings.aws.sqsurls.incoming == [BOUNCE, OTHER]
    assert settings.aws.sqsurls.notification is None
    assert (settings.worker.waitseconds, settings.worker.concurrency) == (3, 10)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.aws.sqsurls.incoming == []
    assert (settings.worker.waitseconds, settings.worker.reportinterval) == (20, 60.0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"aws": {"sqsurls": {"bounce": "sqs://bounces"}}}, "aws.sqsurls.bounce: not an http"),
        (
            {"aws": {"sqsurls": {"delivery": BOUNCE, "notification": BOUNCE}}},
            "aws.sqsurls: notification must not be an incoming queue",
        ),
        ({"worker": {"waitseconds": 21}}, "worker.waitseconds"),
        ({"worker": {"concurrency": 0}}, "worker.concurrency"),
    ],
)
def test_bad_values_name_the_key(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(**overrides)


def test_one_source_per_distinct_url_and_a_sink_only_when_configured() -> None:
    urls = {"bounce": BOUNCE, "complaint": BOUNCE, "delivery": OTHER}
    container = build_container(load_settings(aws={"sqsurls": urls}))
    assert [s.url for s in container.notification_sources()] == [BOUNCE, OTHER]
    assert [s.name for s in container.notification_sources()] == ["bounces", "others"]
    assert container.notification_sink() is None

    with_sink = {**urls, "notification": "http://127.0.0.1:4566/123456789012/out"}
    container = build_container(load_settings(aws={"sqsurls": with_sink}))
    assert isinstance(container.notification_sink(), SqsNotificationSink)


@pytest.mark.parametrize(("value", "envelope"), [(None, True), ("sns", True), ("raw", False)])
def test_the_notification_format_selects_the_envelope(
    monkeypatch: pytest.MonkeyPatch, value: str | None, envelope: bool
) -> None:
    monkeypatch.setenv("FXA_EMAIL_AWS_SQSURLS_BOUNCE", BOUNCE)
    monkeypatch.setenv("FXA_EMAIL_AWS_SQSURLS_NOTIFICATION", OTHER)
    if value is not None:
        monkeypatch.setenv("FXA_EMAIL_AWS_NOTIFICATIONFORMAT", value)
    sink = build_container(load_settings()).notification_sink()
    assert isinstance(sink, SqsNotificationSink)
    assert sink.envelope is envelope


def test_an_unknown_notification_format_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FXA_EMAIL_AWS_NOTIFICATIONFORMAT", "xml")
    with pytest.raises(ConfigError, match="aws.notificationformat"):
        load_settings()
