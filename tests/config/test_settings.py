"""Configuration layering and errors (docs/configuration.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config.errors import ConfigError
from config.settings import BounceLimitSettings, MessageDataSettings, load_settings
from domain.limits import BounceLimits, LimitRule
from domain.model import ProblemType


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    import os

    for name in list(os.environ):
        if name.startswith("FXA_EMAIL_") or name == "NODE_ENV":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_local(tmp_path: Path, data: dict[str, object]) -> None:
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "config" / "local.json").write_text(json.dumps(data))


def test_defaults_are_the_embedded_default() -> None:
    settings = load_settings()
    assert settings.env == "dev"
    assert (settings.host, settings.port) == ("127.0.0.1", 8001)
    assert settings.provider.default == "mock"
    assert settings.deliveryproblems.backend == settings.messagedata.backend == "sqlite"
    assert settings.messagedata.ttl == 30 * 86400
    assert (settings.log.level, settings.log.format) == ("info", "mozlog")


def test_env_file_layers_over_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FXA_EMAIL_ENV", "test")
    settings = load_settings()
    assert settings.env == "test"
    assert settings.log.level == "warning"


def test_node_env_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_ENV", "test")
    assert load_settings().env == "test"
    monkeypatch.setenv("FXA_EMAIL_ENV", "dev")
    assert load_settings().env == "dev"


def test_local_json_then_environment_win(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    write_local(tmp_path, {"sender": {"name": "Local"}, "redis": {"port": 7000, "host": "r"}})
    monkeypatch.setenv("FXA_EMAIL_REDIS_PORT", "7001")

    settings = load_settings()

    assert settings.sender.name == "Local"
    assert settings.sender.address == "accounts@example.com"  # deep merge keeps siblings
    assert (settings.redis.host, settings.redis.port) == ("r", 7001)


def test_original_variable_names_work(monkeypatch: pytest.MonkeyPatch) -> None:
    variables = {
        "FXA_EMAIL_AWS_REGION": "eu-west-1",
        "FXA_EMAIL_AWS_KEYS_ACCESS": "AKIAEXAMPLE",
        "FXA_EMAIL_AWS_KEYS_SECRET": "secret",
        "FXA_EMAIL_AWS_SQSURLS_BOUNCE": "http://127.0.0.1:5000/123/bounce",
        "FXA_EMAIL_AWS_SQSURLS_COMPLAINT": "http://127.0.0.1:5000/123/complaint",
        "FXA_EMAIL_AWS_SQSURLS_DELIVERY": "http://127.0.0.1:5000/123/delivery",
        "FXA_EMAIL_AWS_SQSURLS_NOTIFICATION": "http://127.0.0.1:5000/123/notification",
        "FXA_EMAIL_SENDER_ADDRESS": "noreply@example.org",
        "FXA_EMAIL_SENDER_NAME": "Example",
        "FXA_EMAIL_SENDGRID_KEY": "sg-key",
        "FXA_EMAIL_REDIS_HOST": "redis.internal",
        "FXA_EMAIL_REDIS_PORT": "6380",
        "FXA_EMAIL_AUTHDB_BASEURI": "http://authdb.internal:8000",
        "FXA_EMAIL_HOST": "0.0.0.0",
        "FXA_EMAIL_PORT": "9000",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)

    s = load_settings()

    assert s.aws.region == "eu-west-1"
    assert s.aws.keys.access is not None and s.aws.keys.access.get_secret_value() == "AKIAEXAMPLE"
    assert s.aws.sqsurls.bounce == "http://127.0.0.1:5000/123/bounce"
    assert s.aws.sqsurls.notification == "http://127.0.0.1:5000/123/notification"
    assert (s.sender.address, s.sender.name) == ("noreply@example.org", "Example")
    assert s.sendgrid.key is not None and s.sendgrid.key.get_secret_value() == "sg-key"
    assert (s.redis.host, s.redis.port) == ("redis.internal", 6380)
    assert s.authdb.baseuri == "http://authdb.internal:8000/"
    assert (s.host, s.port) == ("0.0.0.0", 9000)


def test_bouncelimits_as_json_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "FXA_EMAIL_BOUNCELIMITS", json.dumps({"soft": [{"period": "2 hours", "limit": 3}]})
    )
    limits = load_settings().bouncelimits
    assert [(r.period, r.limit) for r in limits.soft] == [(2 * 3600, 3)]
    assert limits.enabled is True


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("FXA_EMAIL_SENDER_ADDRESS", "not-an-address", "sender.address: not an email address"),
        ("FXA_EMAIL_PORT", "eighty", "port: "),
        ("FXA_EMAIL_DELIVERYPROBLEMS_BACKEND", "postgres", "deliveryproblems.backend: "),
        ("FXA_EMAIL_MESSAGEDATA_TTL", "forever", "messagedata.ttl: invalid period 'forever'"),
        ("FXA_EMAIL_PROVIDER_DEFAULT", "postmark", "provider.default: "),
        ("FXA_EMAIL_LOG_FORMAT", "xml", "log.format: "),
        ("FXA_EMAIL_ENV", "qa", "env: "),
    ],
)
def test_bad_values_name_the_key(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_unknown_key_in_a_file_is_refused(tmp_path: Path) -> None:
    write_local(tmp_path, {"sender": {"adress": "typo@example.com"}})
    with pytest.raises(ConfigError, match=r"^sender.adress: unknown key$"):
        load_settings()


def test_broken_local_json_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "local.json").write_text("{broken")
    with pytest.raises(ConfigError, match="local.json: not valid JSON"):
        load_settings()


def test_prod_refuses_the_default_hmackey(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FXA_EMAIL_ENV", "prod")
    with pytest.raises(ConfigError, match="^hmackey: "):
        load_settings()
    for blank in ("", "   "):
        monkeypatch.setenv("FXA_EMAIL_HMACKEY", blank)
        with pytest.raises(ConfigError, match="^hmackey: "):
            load_settings()
    monkeypatch.setenv("FXA_EMAIL_HMACKEY", "a real key")
    assert load_settings().env == "prod"


def test_default_provider_must_be_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FXA_EMAIL_PROVIDER_DEFAULT", "sendgrid")
    with pytest.raises(ConfigError, match="^provider.default: sendgrid is not configured"):
        load_settings()
    monkeypatch.setenv("FXA_EMAIL_SENDGRID_KEY", "a key")
    assert load_settings().provider.default == "sendgrid"


def test_password_inside_a_url_is_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    for given, shown in [
        ("http://user:s-url@authdb.example:8000/", "http://user:[hidden]@authdb.example:8000/"),
        ("http://user:s-url@[::1]:8000/", "http://user:[hidden]@[::1]:8000/"),
    ]:
        monkeypatch.setenv("FXA_EMAIL_AUTHDB_BASEURI", given)

        dumped = json.dumps(load_settings().redacted())

        assert "s-url" not in dumped
        assert shown in dumped


def test_redacted_configuration_hides_every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "FXA_EMAIL_HMACKEY": "s-hmac",
        "FXA_EMAIL_AWS_KEYS_SECRET": "s-aws",
        "FXA_EMAIL_SENDGRID_KEY": "s-sendgrid",
        "FXA_EMAIL_SMTP_PASSWORD": "s-smtp",
        "FXA_EMAIL_SOCKETLABS_KEY": "s-socketlabs",
        "FXA_EMAIL_REDIS_PASSWORD": "s-redis",
        "FXA_EMAIL_MYSQL_URL": "mysql://user:s-mysql@db:3306/fxa",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)

    dumped = json.dumps(load_settings().redacted())

    for value in secrets.values():
        assert value not in dumped
    assert dumped.count("[hidden]") >= len(secrets)


def test_the_model_holds_every_default_and_periods_are_seconds() -> None:
    limits = BounceLimitSettings()  # no file read: the model alone
    assert limits.to_domain() == BounceLimits(
        enabled=True,
        rules={
            ProblemType.COMPLAINT: (LimitRule(86400, 0), LimitRule(365 * 86400, 1)),
            ProblemType.HARD_BOUNCE: (LimitRule(86400, 0), LimitRule(365 * 86400, 1)),
            ProblemType.SOFT_BOUNCE: (LimitRule(300, 0),),
        },
    )
    assert load_settings().bouncelimits == limits
    assert MessageDataSettings().ttl == 30 * 86400
