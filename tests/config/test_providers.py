"""The provider registry: one place for each provider's name, configuredness and factory."""

from __future__ import annotations

from typing import Any

import pytest

from config.errors import ConfigError
from config.providers import PROVIDERS, configured_providers
from config.settings import load_settings
from domain.model import Sender

EVERY_PROVIDER: dict[str, Any] = {
    "aws": {"region": "eu-west-1"},
    "sendgrid": {"key": "sg-key"},
    "smtp": {"host": "127.0.0.1"},
    "socketlabs": {"serverid": 1, "key": "sl-key"},
}
SENDER = Sender("accounts@example.com", "Accounts")


def test_each_built_provider_answers_to_its_registry_name() -> None:
    settings = load_settings(**EVERY_PROVIDER)
    built = configured_providers(settings, SENDER)
    assert set(built) == set(PROVIDERS)
    assert {name: provider.name for name, provider in built.items()} == {n: n for n in PROVIDERS}


def test_only_providers_with_their_settings_are_built() -> None:
    settings = load_settings(aws={"region": ""})
    assert set(configured_providers(settings, SENDER)) == {"mock"}


@pytest.mark.parametrize("name", list(PROVIDERS))
def test_provider_default_accepts_every_registered_name(name: str) -> None:
    assert load_settings(**EVERY_PROVIDER, provider={"default": name}).provider.default == name


def test_provider_default_outside_the_registry_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^provider.default: unknown provider 'postmark'"):
        load_settings(provider={"default": "postmark"})
