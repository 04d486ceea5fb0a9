"""The EmailProvider port."""

from __future__ import annotations

from typing import Protocol

from domain.model import Email


class EmailProvider(Protocol):
    """Something that delivers an email: SES, Sendgrid, SMTP, SocketLabs, the mock."""

    name: str

    async def send(self, email: Email) -> str:
        """Send ``email`` and return the provider's own message id.

        The id is the one the provider's notifications will carry, so that stored metadata
        can be found again. Raises ``domain.errors.ProviderError`` for every failure: network,
        timeout, refusal, throttling after the provider's retries.
        """
        ...
