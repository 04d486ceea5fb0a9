"""The event webhook settings: sns.*, sendgrid.webhookkey, socketlabs keys, worker.verifysns."""

from __future__ import annotations

import os

import pytest

from config.errors import ConfigError
from config.settings import load_settings
from tests.doubles.sendgrid import SendgridEventSigner

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-events"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FXA_EMAIL_") or name == "NODE_ENV":
            monkeypatch.delenv(name)


def test_by_default_no_webhook_is_configured() -> None:
    settings = load_settings()
    assert settings.sns.topics == []
    assert settings.sendgrid.webhookkey is None
    assert settings.socketlabs.secretkey is None
    assert settings.worker.verifysns is False


def test_the_certificate_host_follows_the_region_unless_set() -> None:
    assert load_settings(aws={"region": "eu-west-1"}).sns_certhost == "sns.eu-west-1.amazonaws.com"
    settings = load_settings(sns={"certhost": "sns.cn-north-1.amazonaws.com.cn"})
    assert settings.sns_certhost == "sns.cn-north-1.amazonaws.com.cn"


def test_environment_variables_set_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    key = SendgridEventSigner().public_key
    monkeypatch.setenv("FXA_EMAIL_SNS_TOPICS", f'["{TOPIC}"]')
    monkeypatch.setenv("FXA_EMAIL_SENDGRID_WEBHOOKKEY", key)
    monkeypatch.setenv("FXA_EMAIL_SOCKETLABS_SECRETKEY", "s3cret")
    monkeypatch.setenv("FXA_EMAIL_SOCKETLABS_VALIDATIONKEY", "v4lid")
    monkeypatch.setenv("FXA_EMAIL_WORKER_VERIFYSNS", "true")
    settings = load_settings()
    assert settings.sns.topics == [TOPIC]
    assert settings.sendgrid.webhookkey == key
    assert settings.worker.verifysns is True
    redacted = settings.redacted()
    assert redacted["socketlabs"]["secretkey"] == redacted["socketlabs"]["validationkey"]
    assert "s3cret" not in repr(redacted) and "v4lid" not in repr(redacted)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sendgrid": {"webhookkey": "not a key"}}, "sendgrid.webhookkey: not a base64 ECDSA"),
        ({"socketlabs": {"secretkey": "s"}}, "set both or neither"),
        ({"socketlabs": {"validationkey": "v"}}, "set both or neither"),
        ({"sns": {"topics": ["ses-events"]}}, "sns.topics"),
        ({"worker": {"verifysns": True}}, "worker.verifysns: needs sns.topics"),
    ],
)
def test_bad_event_settings_name_the_key(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(**overrides)
