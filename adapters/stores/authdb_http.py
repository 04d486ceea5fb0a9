"""The accounts database's HTTP API for delivery problems (``/emailBounces``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from domain.errors import AccountsDbError
from domain.model import DeliveryProblem, ProblemSubtype, ProblemType


class AuthDbDeliveryProblemStore:
    """``GET {baseuri}emailBounces/{hex(address)}`` to check, ``POST {baseuri}emailBounces``
    to record. The accounts database sets ``createdAt`` itself and keeps its records itself.

    Once per feedback id, as well as this API allows: it stores no feedback id, so before
    recording a problem that has one, the adapter reads the address's records and skips the
    POST when one of the same type and subtype was created at or after the problem's own
    timestamp (a record made from this notification cannot be older than the notification).
    Limits of that:
    - a different notification of the same type and subtype whose timestamp is not newer
      than an existing record is skipped too (it would only add a second record of a
      problem already on file);
    - two workers handling the same notification at the same moment may both record it;
    - only the 20 newest records are visible to the check.
    Addresses are sent lower-cased. Every failure, including any non-2xx answer, raises
    ``AccountsDbError`` (errno 109) with a message that names neither address nor URL.
    """

    def __init__(self, baseuri: str, timeout: float = 5.0, poolsize: int = 20) -> None:
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

    async def _request(self, action: str, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise AccountsDbError(
                f"accounts database failed to {action}: {type(exc).__name__}"
            ) from exc
        if not response.is_success:
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
        if problem.feedback_id is not None and any(
            known.type is problem.type
            and known.subtype is problem.subtype
            and known.created_at >= problem.created_at
            for known in await self.fetch(problem.address)
        ):
            return False
        await self._request(
            "record a delivery problem",
            "POST",
            "emailBounces",
            json={
                "email": problem.address.lower(),
                "bounceType": int(problem.type),
                "bounceSubType": int(problem.subtype),
            },
        )
        return True

    async def ping(self) -> None:
        """The accounts database server's own heartbeat, which also checks its database."""
        await self._request("answer its heartbeat", "GET", "__heartbeat__")

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
