"""Email address and header rules of CONTRACT sections 2 and 5."""

from __future__ import annotations

import re

from domain.errors import InvalidPayload

# fullmatch throughout: "$" would also match before a trailing "\n".
_LOCAL = re.compile(r"[A-Za-z0-9.!#$%&'\u2019*+/=?^_`{|}~-]{1,64}")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]{1,76}")
# What may not appear in a header value: CR, LF and every other character Python's email
# package (str.splitlines) takes for a line break, plus the remaining control characters.
_HEADER_BREAKERS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
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
        "Content-Type",
        "Content-Transfer-Encoding",
        "Message-ID",
        "Date",
        "Return-Path",
    )
)


def normalise_address(value: str, field: str) -> str:
    """Validate ``value`` as an email address; return it with an IDN domain as punycode."""
    local, at, domain = value.rpartition("@")
    if not at or not _LOCAL.fullmatch(local):
        raise InvalidPayload(f"{field}: not a valid email address", field=field)
    try:
        ascii_domain = domain if domain.isascii() else domain.encode("idna").decode("ascii")
    except UnicodeError:
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
    """A header value or subject: valid text with no line break or control character."""
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
    if name.lower() in RESERVED_HEADERS:
        raise InvalidPayload(f"{field}: this header is set by the service", field=field)
    check_header_value(value, field)
    return name, value
