"""Email address and header rules of CONTRACT sections 2 and 5."""

from __future__ import annotations

import re

from domain.errors import InvalidPayload

_LOCAL = re.compile(r"^[A-Za-z0-9.!#$%&'\u2019*+/=?^_`{|}~-]{1,64}$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
_FIELD_NAME = re.compile(r"^[\x21-\x39\x3b-\x7e]+$")
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
    if not at or not _LOCAL.match(local):
        raise InvalidPayload(f"{field}: not a valid email address", field=field)
    try:
        ascii_domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        raise InvalidPayload(f"{field}: not a valid email address", field=field) from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(len(label) <= 63 and _LABEL.match(label) for label in labels):
        raise InvalidPayload(f"{field}: not a valid email address", field=field)
    address = f"{local}@{ascii_domain}"
    if len(address) >= 254:
        raise InvalidPayload(f"{field}: email address is too long", field=field)
    return address


def check_no_newline(value: str, field: str) -> str:
    if "\r" in value or "\n" in value:
        raise InvalidPayload(f"{field}: must not contain CR or LF", field=field)
    return value


def check_header(name: str, value: str) -> tuple[str, str]:
    """A caller-supplied header: an RFC 5322 field name, no CR/LF, not a reserved name."""
    field = f"headers.{name}"
    if not _FIELD_NAME.match(name):
        raise InvalidPayload(f"{field}: not a valid header name", field=field)
    if name.lower() in RESERVED_HEADERS:
        raise InvalidPayload(f"{field}: this header is set by the service", field=field)
    check_no_newline(value, field)
    return name, value
