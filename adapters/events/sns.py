"""Amazon SNS message verification: certificate URL, signature, age and topic (docs/events.md).

No maintained Python library verifies SNS signatures, so this follows AWS's own description:
the string to sign is ``name\\nvalue\\n`` for each signed field of the message's ``Type`` in
byte order, signed with SHA1withRSA (``SignatureVersion`` 1) or SHA256withRSA (2) by the
X.509 certificate at ``SigningCertURL``, which must be https on the configured SNS host.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import ssl
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from domain.errors import UnverifiedEvent
from ports.clock import Clock

logger = logging.getLogger(__name__)

MAX_AGE_MS = 3600 * 1000  # SNS's longest HTTP retry policy spans one hour
FUTURE_TOLERANCE_MS = 5 * 60 * 1000  # clock skew between SNS and this host
MAX_CERTIFICATE_BYTES = 64 * 1024
CACHED_CERTIFICATES = 32  # SNS rotates a handful of certificates per region

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"
# The signed fields per message type, in byte order (AWS: "Verifying the signatures of
# Amazon SNS messages"). Subject is signed only when the message has one.
SIGNED_FIELDS = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
    UNSUBSCRIBE_CONFIRMATION: (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
}  # fmt: skip
OPTIONAL_FIELDS = frozenset({"Subject"})

if TYPE_CHECKING:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa


def _hash_for(signature_version: str) -> type[hashes.HashAlgorithm] | None:
    """SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA."""
    # cryptography is imported on the first message: ~9 MB a process without SNS never pays.
    from cryptography.hazmat.primitives import hashes

    versions: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
    return versions.get(signature_version)


@dataclass(frozen=True, slots=True)
class SnsMessage:
    """A verified SNS message: ``type``, ``topic_arn``, ``message`` and the whole ``fields``."""

    type: str
    topic_arn: str
    message: str
    message_id: str
    fields: Mapping[str, Any]

    @property
    def subscribe_url(self) -> str:
        return str(self.fields.get("SubscribeURL", ""))


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The canonical string SNS signs for this message's ``Type``; raises UnverifiedEvent."""
    kind = message.get("Type")
    names = SIGNED_FIELDS.get(kind) if isinstance(kind, str) else None
    if names is None:
        raise UnverifiedEvent(f"SNS message of unknown Type {kind!r}")
    lines: list[str] = []
    for name in names:
        value = message.get(name)
        if value is None and name in OPTIONAL_FIELDS:
            continue
        if not isinstance(value, str):
            raise UnverifiedEvent(f"SNS {kind} without a string {name}")
        lines += (name, value)
    return ("\n".join(lines) + "\n").encode("utf-8")


class SnsMessageVerifier:
    """Verifies SNS messages, fetching each signing certificate once (then cached).

    ``cert_host`` is the only host a ``SigningCertURL`` (and a ``SubscribeURL``) may name;
    ``topics`` the topic ARNs whose messages are accepted. ``cafile`` (PEM) is trusted for
    the certificate's https download instead of the system's authorities.
    """

    def __init__(
        self,
        cert_host: str,
        topics: frozenset[str],
        clock: Clock,
        timeout: float = 10.0,
        cafile: str | None = None,
    ) -> None:
        self._cert_host = cert_host.lower()
        self._topics = topics
        self._clock = clock
        # Both clients (async for requests, blocking for the worker's threads) alike.
        self._http: dict[str, Any] = {
            "timeout": timeout,
            "verify": ssl.create_default_context(cafile=cafile),
            "follow_redirects": False,
            "trust_env": False,
        }
        self._client = httpx.AsyncClient(**self._http)
        self._blocking_client: httpx.Client | None = None
        self._keys: OrderedDict[str, rsa.RSAPublicKey] = OrderedDict()
        self._fetching: dict[str, asyncio.Future[rsa.RSAPublicKey]] = {}

    async def verify(self, message: Mapping[str, Any]) -> SnsMessage:
        """The message, once every check passes; raises UnverifiedEvent (errno 128) naming
        the first that fails (for the logs; callers answer a generic 403)."""
        signed = self._signed(message)
        key = self._cached(signed.url) or await self._public_key(signed.url)
        return signed.verified_by(key)

    def verify_blocking(self, message: Mapping[str, Any]) -> SnsMessage:
        """``verify`` for a worker thread reading SNS envelopes from SQS: a certificate not
        cached yet is downloaded there, blocking. No age limit: an envelope legitimately
        waits in its queue longer than an hour while the worker is down, and one replayed
        from a queue records nothing twice (docs/events.md)."""
        signed = self._signed(message, check_age=False)
        key = self._cached(signed.url)
        if key is None:
            if self._blocking_client is None:
                self._blocking_client = httpx.Client(**self._http)
            try:
                response = self._blocking_client.get(signed.url)
            except httpx.HTTPError as exc:
                raise _download_failed(exc) from None
            key = self._remember(signed.url, self._certificate_key(response))
        return signed.verified_by(key)

    def _signed(self, message: Mapping[str, Any], check_age: bool = True) -> _Signed:
        """Every check but the signature's, in the order of the cheapest first."""
        canonical = string_to_sign(message)
        algorithm = _hash_for(str(message.get("SignatureVersion")))
        if algorithm is None:
            raise UnverifiedEvent(f"SNS SignatureVersion {message.get('SignatureVersion')!r}")
        if message["TopicArn"] not in self._topics:
            raise UnverifiedEvent("SNS message from a topic not in sns.topics")
        if check_age:
            self._check_age(str(message["Timestamp"]))
        signature = _base64(message.get("Signature"))
        url = self._check_url(message.get("SigningCertURL"), "SigningCertURL")
        return _Signed(message, canonical, algorithm(), signature, url)

    async def confirm(self, message: SnsMessage) -> None:
        """Confirm a verified SubscriptionConfirmation: GET its ``SubscribeURL``.

        Raises UnverifiedEvent for a URL off the SNS host, ``ConnectionError`` when SNS
        does not answer 200 (the caller answers 500, and SNS sends the confirmation again).
        """
        url = self._check_url(message.subscribe_url, "SubscribeURL")
        try:
            response = await self._client.get(url)
        except httpx.HTTPError as exc:
            raise ConnectionError(f"SNS SubscribeURL failed: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise ConnectionError(f"SNS SubscribeURL answered HTTP {response.status_code}")
        logger.info("confirmed the SNS subscription to %s", message.topic_arn)

    async def aclose(self) -> None:
        await self._client.aclose()
        if self._blocking_client is not None:
            self._blocking_client.close()

    def _check_age(self, timestamp: str) -> None:
        try:
            moment = datetime.fromisoformat(timestamp)
        except ValueError:
            raise UnverifiedEvent("SNS Timestamp is not an ISO 8601 time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        sent_ms = int(moment.timestamp() * 1000)
        now_ms = self._clock.now_ms()
        if sent_ms < now_ms - MAX_AGE_MS:
            raise UnverifiedEvent("SNS message older than one hour")
        if sent_ms > now_ms + FUTURE_TOLERANCE_MS:
            raise UnverifiedEvent("SNS message from the future")

    def _check_url(self, url: object, field: str) -> str:
        if not isinstance(url, str):
            raise UnverifiedEvent(f"SNS {field} missing")
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            raise UnverifiedEvent(f"SNS {field} is not a URL") from None
        if parts.scheme != "https":
            raise UnverifiedEvent(f"SNS {field} is not https")
        if host is None or host.lower() != self._cert_host or parts.username is not None:
            raise UnverifiedEvent(f"SNS {field} is not on the SNS host (sns.certhost)")
        if field == "SigningCertURL" and (not parts.path.endswith(".pem") or parts.query):
            raise UnverifiedEvent("SNS SigningCertURL is not a certificate")
        return url

    def _cached(self, url: str) -> rsa.RSAPublicKey | None:
        key = self._keys.get(url)
        if key is not None:
            self._keys.move_to_end(url)
        return key

    def _remember(self, url: str, key: rsa.RSAPublicKey) -> rsa.RSAPublicKey:
        self._keys[url] = key
        while len(self._keys) > CACHED_CERTIFICATES:
            self._keys.popitem(last=False)
        return key

    async def _public_key(self, url: str) -> rsa.RSAPublicKey:
        """The RSA key of the certificate at ``url``, downloaded once however many requests
        ask for it at the same time; a failed download is not cached."""
        pending = self._fetching.get(url)
        if pending is None:
            pending = asyncio.ensure_future(self._download(url))
            self._fetching[url] = pending
            pending.add_done_callback(lambda _: self._fetching.pop(url, None))
        return self._remember(url, await asyncio.shield(pending))

    async def _download(self, url: str) -> rsa.RSAPublicKey:
        try:
            response = await self._client.get(url)
        except httpx.HTTPError as exc:
            raise _download_failed(exc) from None
        return self._certificate_key(response)

    def _certificate_key(self, response: httpx.Response) -> rsa.RSAPublicKey:
        if response.status_code != 200 or len(response.content) > MAX_CERTIFICATE_BYTES:
            raise UnverifiedEvent(f"SNS certificate download answered {response.status_code}")
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import rsa

        try:
            certificate = x509.load_pem_x509_certificate(response.content)
        except ValueError:
            raise UnverifiedEvent("SNS certificate is not a PEM X.509 certificate") from None
        now = datetime.fromtimestamp(self._clock.now_ms() / 1000, UTC)
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise UnverifiedEvent("SNS certificate is not valid now")
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise UnverifiedEvent("SNS certificate does not hold an RSA key")
        return key


@dataclass(frozen=True, slots=True)
class _Signed:
    """A message that passed every check but its signature's."""

    message: Mapping[str, Any]
    canonical: bytes
    algorithm: hashes.HashAlgorithm
    signature: bytes
    url: str

    def verified_by(self, key: rsa.RSAPublicKey) -> SnsMessage:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric import padding

        try:
            key.verify(self.signature, self.canonical, padding.PKCS1v15(), self.algorithm)
        except InvalidSignature:
            raise UnverifiedEvent("SNS signature does not verify") from None
        m = self.message
        return SnsMessage(
            str(m["Type"]), str(m["TopicArn"]), str(m["Message"]), str(m["MessageId"]), dict(m)
        )


def _download_failed(exc: Exception) -> UnverifiedEvent:
    logger.warning("SNS certificate download failed: %s", type(exc).__name__)
    return UnverifiedEvent("SNS certificate could not be downloaded")


def _base64(value: object) -> bytes:
    if not isinstance(value, str):
        raise UnverifiedEvent("SNS Signature missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise UnverifiedEvent("SNS Signature is not base64") from None
