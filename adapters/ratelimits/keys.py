"""Storage keys of rate-limit buckets: relier ids as they are, addresses only as HMACs."""

from __future__ import annotations

from adapters.stores.keys import KeyHasher
from domain.buckets import RECIPIENT, BucketKey


def bucket_key(hasher: KeyHasher, key: BucketKey) -> str:
    """``relier:<id>`` or ``recipient:<hmac of the lower-cased address>``."""
    name = hasher.address(key.name) if key.kind == RECIPIENT else key.name
    return f"{key.kind}:{name}"
