"""Relier and admin keys: bearer keys checked against SHA-256 hashes (docs/reliers.md).

The service stores only the hashes. A presented key is hashed once and compared with every
configured hash in constant time, without stopping at the first match, so the time taken
says nothing about which hash (or how much of one) matched.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from domain.errors import Unauthorized

logger = logging.getLogger(__name__)
ANONYMOUS = "-"  # the caller's id when auth is not required and no key was presented
KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One configured key: whose it is, the SHA-256 hex of the key, and whether it is revoked.

    A revoked record keeps refusing its key (401) but names the relier in the log, so an
    operator sees who still uses an old key after a rotation.
    """

    id: str
    keyhash: str
    revoked: bool = False


def hash_key(key: str) -> str:
    """The SHA-256 hex digest of a bearer key, as ``auth.reliers[].keyhash`` holds it."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh random bearer key (256 bits, URL-safe) and its hash."""
    key = secrets.token_urlsafe(KEY_BYTES)
    return key, hash_key(key)


def bearer_key(authorization: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header value; None when there is none."""
    if authorization is None:
        return None
    scheme, _, key = authorization.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return None
    return key


class Authenticator:
    """Who is calling: a relier (``POST /send``) or an admin (the support API)."""

    def __init__(
        self,
        reliers: Sequence[KeyRecord],
        admins: Sequence[KeyRecord] = (),
        required: bool = True,
    ) -> None:
        self._reliers = [(bytes.fromhex(r.keyhash), r) for r in reliers]
        self._admins = [(bytes.fromhex(a.keyhash), a) for a in admins]
        self.required = required

    def relier(self, authorization: str | None) -> str:
        """The relier id for an ``Authorization`` header value.

        Without a header, ``ANONYMOUS`` when keys are not required. A presented key is always
        checked, required or not: a wrong key is a misconfigured relier, better told at once.
        Raises ``Unauthorized`` (401, errno 124) for a missing, unknown or revoked key.
        """
        key = bearer_key(authorization)
        if key is None:
            if authorization is None and not self.required:
                return ANONYMOUS
            raise Unauthorized("authorization: a relier key is required (Bearer)")
        return self._match(key, self._reliers, "relier").id

    def admin(self, authorization: str | None) -> str:
        """The admin id for an ``Authorization`` header value; needed whatever ``required``.

        A relier key is refused here like an unknown one. Raises ``Unauthorized``.
        """
        key = bearer_key(authorization)
        if key is None:
            raise Unauthorized("authorization: an admin key is required (Bearer)")
        return self._match(key, self._admins, "admin").id

    @staticmethod
    def _match(key: str, records: list[tuple[bytes, KeyRecord]], role: str) -> KeyRecord:
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        found: KeyRecord | None = None
        for keyhash, record in records:  # every hash, no early exit
            if hmac.compare_digest(digest, keyhash):
                found = record
        if found is None:
            raise Unauthorized(f"authorization: not a valid {role} key")
        if found.revoked:
            logger.warning("refused a revoked key of %s %s", role, found.id)
            raise Unauthorized(f"authorization: not a valid {role} key")
        return found
