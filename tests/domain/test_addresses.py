"""Email address and header rules (CONTRACT sections 2 and 5)."""

from __future__ import annotations

import pytest

from domain.addresses import check_header, normalise_address
from domain.errors import InvalidPayload


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("foo@example.com", "foo@example.com"),
        ("Foo.Bar+tag@Sub.Example.COM", "Foo.Bar+tag@Sub.Example.COM"),
        ("a!#$%&'*+/=?^_`{|}~-@example.com", "a!#$%&'*+/=?^_`{|}~-@example.com"),
        ("o\u2019brien@example.com", "o\u2019brien@example.com"),
        ("user@b\u00fccher.example", "user@xn--bcher-kva.example"),
        ("x@a-b.c0", "x@a-b.c0"),
        ("x" * 64 + "@example.com", "x" * 64 + "@example.com"),
    ],
)
def test_valid_addresses(given: str, expected: str) -> None:
    assert normalise_address(given, "to") == expected


@pytest.mark.parametrize(
    "given",
    [
        "",
        "foo",
        "foo@",
        "@example.com",
        "foo@example",
        "foo@-example.com",
        "foo@example-.com",
        "foo@exa_mple.com",
        "foo@.com",
        "foo@example..com",
        "f\u00f6o@example.com",
        "foo bar@example.com",
        "foo@example.com\r\nBcc: x@y.com",
        "x" * 65 + "@example.com",
        "a@" + ".".join(["b" * 60] * 5),
        'a"b@example.com',
        "foo@example.com\n",
        "foo\n@example.com",
    ],
)
def test_invalid_addresses(given: str) -> None:
    with pytest.raises(InvalidPayload) as caught:
        normalise_address(given, "cc.2")
    assert caught.value.errno == 101
    assert caught.value.extra == {"field": "cc.2"}


@pytest.mark.parametrize("name", ["from", "SUBJECT", "Content-Type", "message-id", "Return-Path"])
def test_reserved_headers_are_refused(name: str) -> None:
    with pytest.raises(InvalidPayload, match="set by the service"):
        check_header(name, "x")


@pytest.mark.parametrize(
    ("name", "value"), [("X Bad", "v"), ("X:Bad", "v"), ("", "v"), ("X-Ok", "a\r\nBcc: b")]
)
def test_malformed_headers_are_refused(name: str, value: str) -> None:
    with pytest.raises(InvalidPayload):
        check_header(name, value)


def test_extra_header_passes() -> None:
    assert check_header("X-Template-Name", "verifyEmail") == ("X-Template-Name", "verifyEmail")
    assert check_header("X-" + "a" * 74, "tab\tand \u00fcnicode") == (
        "X-" + "a" * 74,
        "tab\tand \u00fcnicode",
    )
