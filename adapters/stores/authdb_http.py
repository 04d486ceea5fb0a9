"""The accounts database's HTTP API for delivery problems (``/emailBounces``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import httpx

from adapters.clock import SystemClock
from adapters.stores.recent_feedback import RecentFeedback
from domain.errors import AccountsDbError, RecordsNotClearable
from domain.model import DeliveryProblem, ProblemSubtype, ProblemType
from ports.clock import Clock

logger = logging.getLogger(__name__)
_CONFLICT_TRIES = 5


class AuthDbDeliveryProblemStore:
    """``GET {baseuri}emailBounces/{hex(address)}`` to check, ``POST {baseuri}emailBounces``
    to record.

    The same record as the ``mysql`` adapter makes (docs/stores.md): the server sets
    ``createdAt`` to its own time of recording, and a notification is recorded once per
    feedback id and address (remembered by this process for a day). The server answers 409
    "Record already exists" when it already holds a record of the address in that very
    millisecond: the POST is tried again (its clock has moved on), and a 409 that persists
    counts as recorded, never as a failure. Addresses are sent lower-cased. Every other
    failure, including any non-2xx answer, raises ``AccountsDbError`` (errno 109) with a
    message that names neither address nor URL.
    """

    def __init__(
        self, baseuri: str, timeout: float = 5.0, poolsize: int = 20, clock: Clock | None = None
    ) -> None:
        self._recent = RecentFeedback(clock or SystemClock())
        self._baseuri = baseuri if baseuri.endswith("/") else baseuri + "/"
        self._timeout = timeout
        self._poolsize = poolsize
        self._client: httpx.AsyncClient | None = None

    @property
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self._baseuri,
                timeout=httpx.Timeout(self._timeout),
                limits=httpx.Limits(
                    max_connections=self._poolsize, max_keepalive_connections=self._poolsize
                ),
                follow_redirects=False,
            )
        return self._client

    async def _request(
        self, action: str, method: str, path: str, accept: tuple[int, ...] = (), **kwargs: Any
    ) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise AccountsDbError(
                f"accounts database failed to {action}: {type(exc).__name__}"
            ) from exc
        if not response.is_success and response.status_code not in accept:
            raise AccountsDbError(
                f"accounts database failed to {action}: HTTP {response.status_code}"
            )
        return response

    async def fetch(self, address: str) -> Sequence[DeliveryProblem]:
        response = await self._request(
            "fetch delivery problems",
            "GET",
            f"emailBounces/{address.lower().encode('utf-8').hex()}",
        )
        try:
            return [
                DeliveryProblem(
                    address,
                    ProblemType.from_db(int(item["bounceType"])),
                    ProblemSubtype.from_db(int(item["bounceSubType"])),
                    int(item["createdAt"]),
                )
                for item in response.json()
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise AccountsDbError(
                "accounts database failed to fetch delivery problems: unexpected answer"
            ) from exc

    async def fetch_many(self, addresses: Sequence[str]) -> list[Sequence[DeliveryProblem]]:
        # The accounts database answers one address at a time.
        return [await self.fetch(address) for address in addresses]

    async def record(self, problem: DeliveryProblem) -> bool:
        if not self._recent.claim(problem):
            return False
        body = {
            "email": problem.address.lower(),
            "bounceType": int(problem.type),
            "bounceSubType": int(problem.subtype),
        }
        try:
            for attempt in range(_CONFLICT_TRIES):
                if attempt:
                    await asyncio.sleep(0.001 * attempt)  # the server's next millisecond
                response = await self._request(
                    "record a delivery problem", "POST", "emailBounces", accept=(409,), json=body
                )
                if response.status_code != 409:
                    return True
            logger.info("accounts database answered 409 %d times: counted as recorded", attempt + 1)
            return True
        except BaseException:
            self._recent.release(problem)
            raise

    async def clear(self, address: str) -> int:
        """The accounts database has no procedure or endpoint that deletes records."""
        raise RecordsNotClearable(
            "the accounts database (authdb) offers no deletion of delivery problems",
            backend="authdb",
        )

    async def ping(self) -> None:
        """The accounts database server's own heartbeat, which also checks its database."""
        await self._request("answer its heartbeat", "GET", "__heartbeat__")

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
