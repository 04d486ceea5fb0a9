"""The SendEmail service: resolve provider -> check recipients -> send -> store message data."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

from domain.addresses import SES_ONLY_HEADERS
from domain.errors import ServiceError, UnknownProvider
from domain.limits import BounceLimits, violation_error
from domain.model import (
    DeliveryProblem,
    Email,
    SendCommand,
    SendResult,
    SkippedRecipient,
)
from domain.ratelimits import RateLimits
from domain.reliers import ANONYMOUS
from ports.clock import Clock
from ports.providers import EmailProvider
from ports.stores import DeliveryProblemStore, MessageDataStore

logger = logging.getLogger(__name__)


class SendEmail:
    """Send one relier's email, in the order of work of docs/api.md.

    The recipients that pass the delivery-problem limits then take their rate-limit tokens
    (docs/reliers.md) with the relier's own, before anything is sent.

    Nothing is sent when anything before the send fails. Once the provider has accepted the
    email the result is success, even if storing its message data (the metadata and an
    authenticated relier's id) fails (that is logged): a relier that saw an error would
    retry and send the email twice.
    """

    def __init__(
        self,
        providers: Mapping[str, EmailProvider],
        problems: DeliveryProblemStore,
        messages: MessageDataStore,
        limits: BounceLimits,
        clock: Clock,
        default_provider: str,
        force_default: bool = False,
        rate_limits: RateLimits | None = None,
    ) -> None:
        self._providers = providers
        self._problems = problems
        self._messages = messages
        self._limits = limits
        self._clock = clock
        self._default = default_provider
        self._force_default = force_default
        self._rate_limits = rate_limits

    def provider_for(self, requested: str | None) -> EmailProvider:
        """The provider to use; UnknownProvider (103) when unknown or not configured."""
        name = self._default if self._force_default or requested is None else requested
        provider = self._providers.get(name)
        if provider is None:
            raise UnknownProvider(f"provider: {name!r} is unknown or not configured", name=name)
        return provider

    async def __call__(self, command: SendCommand) -> SendResult:
        provider = self.provider_for(command.provider)
        email, skipped = await self._allowed_recipients(command)
        if self._rate_limits is not None:
            # after the delivery-problem limits: only mail about to go out takes tokens
            email, limited = await self._rate_limits.take(command.relier, email)
            skipped += limited
        if provider.name != "ses":
            email = without_ses_headers(email)
        provider_id = await provider.send(email)
        relier = None if command.relier == ANONYMOUS else command.relier
        if command.metadata is not None or relier is not None:
            try:
                await self._messages.put(provider_id, command.metadata, relier)
            except ServiceError:
                logger.exception(
                    "sent %s:%s but could not store its metadata", provider.name, provider_id
                )
        return SendResult(provider.name, provider_id, tuple(skipped))

    async def _allowed_recipients(
        self, command: SendCommand
    ) -> tuple[Email, list[SkippedRecipient]]:
        email = command.email
        recipients = email.recipients
        histories = await self._problems.fetch_many(recipients)
        now = self._clock.now_ms()
        verdicts: list[DeliveryProblem | None] = [
            self._limits.violation(history, now) for history in histories
        ]
        # A violating `to` refuses the whole request, whatever the cc (docs/api.md): the
        # relier decides where else to write; promoting a cc would mail someone else.
        to_violation = verdicts[0]
        if to_violation is not None:
            raise violation_error(email.to, to_violation)
        passing = [a for a, v in zip(recipients, verdicts, strict=True) if v is None]
        skipped = [
            SkippedRecipient(a, violation_error(a, v).errno)
            for a, v in zip(recipients, verdicts, strict=True)
            if v is not None
        ]
        if not skipped:
            return email, []
        return replace(email, cc=tuple(passing[1:])), skipped


def without_ses_headers(email: Email) -> Email:
    """``email`` without the headers only SES acts on (docs/api.md, extra headers)."""
    kept = tuple((n, v) for n, v in email.headers if n.lower() not in SES_ONLY_HEADERS)
    return email if len(kept) == len(email.headers) else replace(email, headers=kept)
