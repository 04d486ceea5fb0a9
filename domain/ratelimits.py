"""The RateLimits service: what an email takes from the relier's and recipients' buckets."""

from __future__ import annotations

from dataclasses import replace

from domain.buckets import RECIPIENT, RELIER, BucketKey, Take, TokenBucket, retry_after_seconds
from domain.errors import RateLimited
from domain.model import Email, SkippedRecipient
from ports.clock import Clock
from ports.ratelimits import RateLimiter

_KEPT = 256  # Takes kept for reuse


class RateLimits:
    """Decides what an email may take: the relier's token and one per recipient.

    The relier's bucket and the ``to`` recipient's are required: when either is empty the
    whole request is refused with ``RateLimited`` (429, errno 125, ``retryAfter``) and no
    token is taken. A ``cc`` whose bucket is empty is left out (listed as skipped with errno
    125) and the send goes on, as with the delivery-problem limits. ``None`` for a bucket
    turns that limit off.
    """

    def __init__(
        self,
        limiter: RateLimiter,
        clock: Clock,
        relier: TokenBucket | None,
        recipient: TokenBucket | None,
    ) -> None:
        self._limiter = limiter
        self._clock = clock
        self._relier = relier
        self._recipient = recipient
        self._required = (relier is not None) + (recipient is not None)
        self._takes: dict[tuple[str, tuple[str, ...]], tuple[Take, ...]] = {}

    def _takes_for(self, relier_id: str, recipients: tuple[str, ...]) -> tuple[Take, ...]:
        """What a relier's email to ``recipients`` takes. Takes are values: those of the last
        few hundred (relier, recipients) are kept and given again."""
        takes = self._takes.get((relier_id, recipients))
        if takes is None:
            if len(self._takes) >= _KEPT:
                self._takes.clear()
            made: list[Take] = []
            if self._relier is not None:
                made.append(Take(BucketKey(RELIER, relier_id), self._relier))
            if self._recipient is not None:
                recipient = self._recipient
                made += [Take(BucketKey(RECIPIENT, a), recipient) for a in recipients]
            takes = self._takes[(relier_id, recipients)] = tuple(made)
        return takes

    async def take(self, relier_id: str, email: Email) -> tuple[Email, list[SkippedRecipient]]:
        """The email as it may be sent and the cc recipients left out; raises RateLimited."""
        required = self._required
        if not required:
            return email, []
        takes = self._takes_for(relier_id, email.recipients)
        waits = await self._limiter.take(takes, required, self._clock.now_ms() * 1000)
        refused = [wait for wait in waits[:required] if wait > 0]
        if refused:
            seconds = retry_after_seconds(max(refused))
            which = "relier" if self._relier is not None and waits[0] > 0 else "recipient"
            raise RateLimited(f"{which} rate limit exceeded", retry_after=seconds)
        if self._recipient is None:
            return email, []
        cc_waits = waits[required:]
        skipped = [
            SkippedRecipient(a, RateLimited.errno)
            for a, wait in zip(email.cc, cc_waits, strict=True)
            if wait > 0
        ]
        if not skipped:
            return email, []
        kept = tuple(a for a, wait in zip(email.cc, cc_waits, strict=True) if wait == 0)
        return replace(email, cc=kept), skipped
