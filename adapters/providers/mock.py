"""The mock provider: accepts everything; in env dev it writes each message to an outbox."""

from __future__ import annotations

import logging
from pathlib import Path

from adapters.ids import random_hex
from adapters.providers.mime import MimeWriter
from domain.errors import ProviderError
from domain.model import Email, Sender

logger = logging.getLogger(__name__)


class MockEmailProvider:
    """Returns a unique id per message.

    With an ``outbox`` folder, each message is written there as a complete ``<id>.eml`` file
    so a person can open exactly what would have gone out.
    """

    name = "mock"

    def __init__(self, sender: Sender, outbox: str | None = None) -> None:
        self._writer = MimeWriter(sender)
        self._outbox = Path(outbox) if outbox else None

    async def send(self, email: Email) -> str:
        message_id = random_hex()
        raw = await self._writer.render(email)
        if self._outbox is not None:
            path = self._outbox / f"{message_id}.eml"
            try:
                self._outbox.mkdir(parents=True, exist_ok=True)
                path.write_bytes(raw)
            except OSError as exc:
                raise ProviderError(
                    f"mock could not write its outbox: {exc.strerror}", name=self.name
                ) from exc
            logger.info("mock provider wrote %s", path)
        return message_id
