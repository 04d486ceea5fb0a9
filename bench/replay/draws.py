"""Keyed random draws: the same (seed, key) gives the same number in every configuration.

Decisions that depend on what happened (a user retrying, the provider's outcome for the
n-th message to an address) are drawn from a hash of their key rather than from one shared
stream, so that two configurations replaying the same month take the same decision wherever
they reach the same situation (common random numbers): their figures differ by the limits,
not by noise.
"""

from __future__ import annotations

import hashlib
import math
from statistics import NormalDist

_STANDARD = NormalDist()
_SCALE = float(2**64)


def uniforms(seed: int, count: int, *key: object) -> list[float]:
    """``count`` independent numbers in [0, 1) fixed by ``seed`` and ``key`` (one hash)."""
    digest = hashlib.blake2b(repr((seed, key)).encode(), digest_size=8 * count).digest()
    return [int.from_bytes(digest[i : i + 8], "big") / _SCALE for i in range(0, 8 * count, 8)]


def lognormal(u: float, median: float, sigma: float) -> float:
    """The lognormal quantile at ``u`` (in [0, 1)) of median ``median`` and shape ``sigma``."""
    u = min(max(u, 1e-12), 1 - 1e-12)
    return median * math.exp(sigma * _STANDARD.inv_cdf(u))


def between(u: float, low: float, high: float) -> float:
    """The uniform quantile at ``u`` between ``low`` and ``high``."""
    return low + (high - low) * u
