"""The RateLimiter port: token buckets kept where every `serve` process sees them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domain.buckets import Take


class RateLimiter(Protocol):
    """Token buckets shared by every process that uses the same backend (docs/reliers.md).

    The arithmetic is ``domain.buckets.take_tokens``; an adapter stores each bucket's
    state and applies it atomically across processes.
    """

    async def take(self, takes: Sequence[Take], required: int, now_us: int) -> Sequence[int]:
        """Take one token from each bucket of ``takes`` at time ``now_us`` (microseconds).

        Returns, in the order of ``takes``, 0 for a token taken, or the microseconds until
        that bucket has one. All or nothing for the first ``required`` takes: when one of
        them is refused, no bucket changes. The keys of one call are distinct. The whole
        call is atomic: two processes taking from the same bucket at once never both get
        its last token. A recipient's address is never stored in clear. Raises
        ``domain.errors.StoreError`` when the backend fails, in which case nothing may be
        assumed taken.
        """
        ...
