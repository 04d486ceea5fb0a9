"""Email address and header rules of docs/api.md (addresses, extra headers)."""

from __future__ import annotations

import re
from collections.abc import Iterable

import idna

from domain.errors import InvalidPayload

# fullmatch throughout: "$" would also match before a trailing "\n".
# ASCII only: SES and most relays refuse SMTPUTF8 local parts (docs/api.md).
_LOCAL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
# The usual address in one match: ASCII, at least two labels of at most 63 characters. Any
# address it takes, the full rules below take unchanged; anything else goes through them.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]{1,76}")
# What may not appear in a header value: CR, LF and every other character Python's email
# package (str.splitlines) takes for a line break, and every other control character, TAB
# included (docs/api.md allows none).
_HEADER_BREAKERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MAX_HEADER_VALUE = 998  # RFC 5322's line limit, for a subject or an extra header's value
MAX_EXTRA_HEADERS = 50
# The two X-SES-* headers reliers set for SES; no other provider emits them.
SES_ONLY_HEADERS = frozenset({"x-ses-configuration-set", "x-ses-message-tags"})
# Headers that change routing, authentication or structure are the service's (docs/api.md).
RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "From",
        "Sender",
        "To",
        "Cc",
        "Bcc",
        "Subject",
        "MIME-Version",
        "Message-ID",
        "Date",
        "Return-Path",
        "Received",
        "DKIM-Signature",
        "Authentication-Results",
    )
)
RESERVED_PREFIXES = ("content-", "resent-", "arc-", "x-ses-")


def is_reserved_header(name: str) -> bool:
    """True for a header a relier may not set (any case)."""
    lowered = name.lower()
    if lowered in RESERVED_HEADERS:
        return True
    return lowered.startswith(RESERVED_PREFIXES) and lowered not in SES_ONLY_HEADERS


def _ascii_domain(domain: str) -> str:
    """An IDN domain as punycode, by UTS 46 non-transitional processing (IDNA 2008).

    Not the stdlib's ``idna`` codec: that is IDNA 2003, which maps ``ß`` to ``ss`` and so
    sends ``user@faße.de`` to someone at ``fasse.de``.
    """
    if domain.isascii():
        return domain
    return idna.encode(domain, uts46=True, transitional=False).decode("ascii")


def normalise_address(value: str, field: str) -> str:
    """Validate ``value`` as an email address; return it with an IDN domain as punycode."""
    if len(value) < 254 and value.isascii() and _PLAIN_ADDRESS.fullmatch(value):
        return value
    local, at, domain = value.rpartition("@")
    if not at or not _LOCAL.fullmatch(local):
        raise InvalidPayload(f"{field}: not a valid email address", field=field)
    try:
        ascii_domain = _ascii_domain(domain)
    except UnicodeError:  # idna.IDNAError is one
        raise InvalidPayload(f"{field}: not a valid email address", field=field) from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(len(label) <= 63 and _LABEL.fullmatch(label) for label in labels):
        raise InvalidPayload(f"{field}: not a valid email address", field=field)
    address = f"{local}@{ascii_domain}"
    if len(address) >= 254:
        raise InvalidPayload(f"{field}: email address is too long", field=field)
    return address


def check_text(value: str, field: str) -> str:
    """Text that can be sent: encodable as UTF-8 (no lone surrogates from JSON escapes)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidPayload(f"{field}: not valid Unicode text", field=field) from None
    return value


def check_header_value(value: str, field: str) -> str:
    """A header value or subject: valid text of at most 998 characters, with no line break
    or control character."""
    if len(value) > MAX_HEADER_VALUE:
        raise InvalidPayload(f"{field}: longer than {MAX_HEADER_VALUE} characters", field=field)
    if _HEADER_BREAKERS.search(value):
        raise InvalidPayload(
            f"{field}: must not contain CR, LF or other control characters", field=field
        )
    return check_text(value, field)


def check_header(name: str, value: str) -> tuple[str, str]:
    """A caller-supplied header: an RFC 5322 field name, a clean value, not a reserved name."""
    field = f"headers.{name}"
    if not _FIELD_NAME.fullmatch(name):
        raise InvalidPayload(f"{field}: not a valid header name", field=field)
    if is_reserved_header(name):
        raise InvalidPayload(f"{field}: this header is set by the service", field=field)
    check_header_value(value, field)
    return name, value


def distinct_cc(to: str, cc: Iterable[str]) -> tuple[str, ...]:
    """``cc`` without ``to`` and without repeats, compared case-insensitively, first kept.

    Providers refuse or double-deliver a recipient named twice (docs/api.md).
    """
    seen = {to.lower()}
    kept: list[str] = []
    for address in cc:
        if address.lower() not in seen:
            seen.add(address.lower())
            kept.append(address)
    return tuple(kept)
