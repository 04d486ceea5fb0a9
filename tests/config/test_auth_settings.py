"""`auth` and `ratelimits` settings: JSON through FXA_EMAIL_* variables, clear errors."""

from __future__ import annotations

import json

import pytest

from config.errors import ConfigError
from config.settings import load_settings
from domain.buckets import TokenBucket
from domain.reliers import hash_key

HASH = hash_key("k")


def test_reliers_and_rate_limits_come_as_json_through_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "FXA_EMAIL_AUTH_RELIERS", json.dumps([{"id": "fxa-auth", "keyhash": HASH.upper()}])
    )
    monkeypatch.setenv(
        "FXA_EMAIL_RATELIMITS", '{"relier": {"rate": 5, "per": "minute", "burst": 9}}'
    )
    monkeypatch.setenv("FXA_EMAIL_RATELIMITS_RECIPIENT_BURST", "3")

    settings = load_settings()

    assert [k.to_domain().keyhash for k in settings.auth.reliers] == [HASH]
    assert settings.ratelimits.relier is not None and settings.ratelimits.recipient is not None
    assert settings.ratelimits.relier.to_domain() == TokenBucket(5, 60, 9)
    assert settings.ratelimits.recipient.to_domain() == TokenBucket(20, 3600, 3)
    assert HASH not in json.dumps(settings.redacted(), default=str)


def test_default_rate_limits() -> None:
    limits = load_settings().ratelimits
    assert limits.enabled
    assert limits.relier is not None and limits.relier.to_domain() == TokenBucket(50, 1, 100)
    assert limits.recipient is not None
    assert limits.recipient.to_domain() == TokenBucket(20, 3600, 20)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"auth": {"reliers": [{"id": "a", "keyhash": "abc"}]}}, "auth.reliers.0.keyhash: not a"),
        ({"auth": {"reliers": [{"id": "", "keyhash": HASH}]}}, "auth.reliers.0.id:"),
        (
            {
                "auth": {
                    "reliers": [{"id": "a", "keyhash": HASH}],
                    "admins": [{"id": "b", "keyhash": HASH}],
                }
            },
            "auth: the same keyhash is given twice",
        ),
        (
            {"ratelimits": {"relier": {"rate": 1, "per": "fortnight", "burst": 1}}},
            "ratelimits.relier.per: invalid period",
        ),
        (
            {"ratelimits": {"recipient": {"rate": 0, "per": "hour", "burst": 1}}},
            "ratelimits.recipient.rate:",
        ),
    ],
)
def test_bad_values_name_their_key(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(**overrides)
    assert str(error.value).startswith(message)
