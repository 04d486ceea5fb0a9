"""Every email provider in one place: its name, when it is configured, how it is built.

A provider is configured once its settings are present; the others answer errno 103
(docs/api.md). ``provider.default`` must name a configured one (docs/configuration.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import SecretStr

from adapters.providers.mock import MockEmailProvider
from adapters.providers.sendgrid import SendgridEmailProvider
from adapters.providers.ses import SesEmailProvider
from adapters.providers.smtp import SmtpEmailProvider
from adapters.providers.socketlabs import SocketlabsEmailProvider
from domain.model import Sender
from ports.providers import EmailProvider

if TYPE_CHECKING:  # config.settings validates names against this registry
    from config.settings import Settings


@dataclass(frozen=True, slots=True)
class ProviderKind:
    """How a deployment gets one provider: whether it has it, and how it is built."""

    is_configured: Callable[[Settings], bool]
    build: Callable[[Settings, Sender], EmailProvider]


def secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


def _mock(settings: Settings, sender: Sender) -> MockEmailProvider:
    # Only in dev does the mock write each message to the outbox as an .eml file.
    outbox = settings.mock.outbox if settings.env == "dev" else None
    return MockEmailProvider(sender, outbox=outbox)


def _ses(settings: Settings, sender: Sender) -> SesEmailProvider:
    aws = settings.aws
    return SesEmailProvider(
        sender,
        region=aws.region,
        timeout=aws.timeout,
        access_key=secret(aws.keys.access),
        secret_key=secret(aws.keys.secret),
        retry_mode=aws.retrymode,
        max_attempts=aws.maxattempts,
    )


def _sendgrid(settings: Settings, sender: Sender) -> SendgridEmailProvider:
    sendgrid = settings.sendgrid
    key = secret(sendgrid.key)
    assert key is not None, "built only when configured"
    return SendgridEmailProvider(sender, key, sendgrid.baseuri, sendgrid.timeout)


def _smtp(settings: Settings, sender: Sender) -> SmtpEmailProvider:
    smtp = settings.smtp
    assert smtp.host is not None, "built only when configured"
    return SmtpEmailProvider(
        sender,
        host=smtp.host,
        port=smtp.port,
        timeout=smtp.timeout,
        security=smtp.security,
        user=smtp.user,
        password=secret(smtp.password),
        cafile=smtp.cafile,
    )


def _socketlabs(settings: Settings, sender: Sender) -> SocketlabsEmailProvider:
    socketlabs = settings.socketlabs
    key = secret(socketlabs.key)
    assert key is not None and socketlabs.serverid is not None, "built only when configured"
    return SocketlabsEmailProvider(
        sender, socketlabs.serverid, key, socketlabs.baseuri, socketlabs.timeout
    )


PROVIDERS: Mapping[str, ProviderKind] = {
    "ses": ProviderKind(lambda s: bool(s.aws.region), _ses),
    "sendgrid": ProviderKind(lambda s: s.sendgrid.key is not None, _sendgrid),
    "smtp": ProviderKind(lambda s: s.smtp.host is not None, _smtp),
    "socketlabs": ProviderKind(
        lambda s: s.socketlabs.key is not None and s.socketlabs.serverid is not None, _socketlabs
    ),
    "mock": ProviderKind(lambda s: True, _mock),
}


def configured_providers(
    settings: Settings, sender: Sender, **built: EmailProvider
) -> dict[str, EmailProvider]:
    """Each configured provider, built once; those in ``built`` are taken as they are."""
    return {
        name: built[name] if name in built else kind.build(settings, sender)
        for name, kind in PROVIDERS.items()
        if kind.is_configured(settings)
    }
