"""Store ports: delivery problems per address and message data per message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domain.model import DeliveryProblem, MessageData


class DeliveryProblemStore(Protocol):
    """Bounce and complaint records, keyed by address (case-insensitive)."""

    async def fetch(self, address: str) -> Sequence[DeliveryProblem]:
        """The problems recorded for ``address``, newest first.

        Records older than the store's retention may be missing. Raises
        ``domain.errors.StoreError`` (or its subclass ``AccountsDbError``) when the store
        cannot answer.
        """
        ...

    async def fetch_many(self, addresses: Sequence[str]) -> list[Sequence[DeliveryProblem]]:
        """What ``fetch`` answers for each address, in the order given, in one round trip
        to the store where it allows one (SQLite: one query; Redis: one pipeline).

        Raises as ``fetch`` does; on failure nothing is answered for any address.
        """
        ...

    async def record(self, problem: DeliveryProblem) -> bool:
        """Record ``problem``; return False when it was already recorded.

        A problem with a ``feedback_id`` is recorded at most once per address and feedback
        id, so a notification delivered twice counts once. Raises ``StoreError`` on failure,
        in which case nothing may be assumed recorded.
        """
        ...

    async def clear(self, address: str) -> int:
        """Delete every record of ``address`` (case-insensitive); return how many there were.

        For support, to unblock an address whose mailbox was fixed (docs/reliers.md). Other
        addresses' records are untouched, and a problem recorded again afterwards counts
        anew, even one with a feedback id seen before the clear. A backend that cannot delete
        (the accounts database) raises ``domain.errors.RecordsNotClearable`` naming itself,
        having changed nothing; a failing store raises ``StoreError``.
        """
        ...


class MessageDataStore(Protocol):
    """Relier metadata and relier id remembered per provider message id, for
    ``messagedata.ttl``."""

    async def put(self, message_id: str, metadata: str | None, relier: str | None = None) -> None:
        """Remember ``metadata`` and the sending ``relier``'s id (docs/reliers.md) for the
        provider's ``message_id`` for the configured TTL; either may be None.

        Raises ``StoreError`` on failure.
        """
        ...

    async def get(self, message_id: str) -> MessageData | None:
        """What was stored for ``message_id``; None when absent or expired.

        A record stored before relier ids were kept reads with ``relier`` None. Reading
        never removes it: every notification about the message carries it until the TTL
        expires it. Raises ``StoreError`` on failure.
        """
        ...
