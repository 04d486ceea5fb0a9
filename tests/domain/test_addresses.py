"""Email address and header rules (docs/api.md: addresses, extra headers)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import addresses
from domain.addresses import check_header, check_header_value, distinct_cc, normalise_address
from domain.errors import InvalidPayload


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("foo@example.com", "foo@example.com"),
        ("Foo.Bar+tag@Sub.Example.COM", "Foo.Bar+tag@Sub.Example.COM"),
        ("a!#$%&'*+/=?^_`{|}~-@example.com", "a!#$%&'*+/=?^_`{|}~-@example.com"),
        ("user@b\u00fccher.example", "user@xn--bcher-kva.example"),
        # UTS 46 non-transitional (IDNA 2008): the stdlib's IDNA 2003 codec gave fasse.de.
        ("user@fa\u00dfe.de", "user@xn--fae-6ka.de"),
        ("user@\u0392\u03cc\u03bb\u03bf\u03c2.gr", "user@xn--nxasmm1c.gr"),
        ("user@B\u00dcCHER.example", "user@xn--bcher-kva.example"),
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
        # Not an ASCII local part: SES refuses it, and SMTP answered an uncaught 500.
        "o\u2019brien@example.com",
        "user@\u2488.example",
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


@pytest.mark.parametrize(
    "name",
    [
        "from",
        "SUBJECT",
        "Content-Type",
        "message-id",
        "Return-Path",
        "Content-Disposition",
        "content-id",
        "Received",
        "Resent-From",
        "RESENT-MESSAGE-ID",
        "DKIM-Signature",
        "ARC-Seal",
        "Authentication-Results",
        "X-SES-SOURCE-ARN",
        "x-ses-from-arn",
        "X-SES-RETURN-PATH-ARN",
        "Sender",
        "Bcc",
        "MIME-Version",
    ],
)
def test_reserved_headers_are_refused(name: str) -> None:
    with pytest.raises(InvalidPayload, match="set by the service") as caught:
        check_header(name, "x")
    assert caught.value.extra == {"field": f"headers.{name}"}


@pytest.mark.parametrize(
    "name", ["X-SES-CONFIGURATION-SET", "x-ses-message-tags", "Reply-To", "X-Resent"]
)
def test_headers_reliers_use_pass(name: str) -> None:
    assert check_header(name, "value") == (name, "value")


def test_header_values_and_subjects_are_at_most_998_characters() -> None:
    assert check_header("X-Link", "a" * 998) == ("X-Link", "a" * 998)
    assert check_header_value("\u00fc" * 998, "subject") == "\u00fc" * 998
    with pytest.raises(InvalidPayload) as caught:
        check_header("X-Link", "a" * 999)
    assert caught.value.extra == {"field": "headers.X-Link"}
    with pytest.raises(InvalidPayload) as caught:
        check_header_value("\u00fc" * 999, "subject")
    assert caught.value.extra == {"field": "subject"}


@pytest.mark.parametrize(
    ("name", "value"), [("X Bad", "v"), ("X:Bad", "v"), ("", "v"), ("X-Ok", "a\r\nBcc: b")]
)
def test_malformed_headers_are_refused(name: str, value: str) -> None:
    with pytest.raises(InvalidPayload):
        check_header(name, value)


def test_extra_header_passes() -> None:
    assert check_header("X-Template-Name", "verifyEmail") == ("X-Template-Name", "verifyEmail")
    assert check_header("X-" + "a" * 74, "spaces and \u00fcnicode") == (
        "X-" + "a" * 74,
        "spaces and \u00fcnicode",
    )


def test_distinct_cc_drops_to_and_repeats_case_insensitively_keeping_the_first() -> None:
    cc = ["B@example.com", "to@EXAMPLE.com", "b@example.com", "c@example.com", "C@example.com"]
    assert distinct_cc("To@example.com", cc) == ("B@example.com", "c@example.com")
    assert distinct_cc("to@example.com", []) == ()


_ADDRESS_CHARS = "aZ09.!#$%&'*+/=?^_`{|}~-@" + "\u00e9"


@settings(max_examples=500, deadline=None)
@given(
    value=st.text(st.sampled_from(_ADDRESS_CHARS), max_size=80)
    | st.from_regex(r"[a-z.]{1,70}@([a-z0-9-]{1,70}\.){1,3}[a-z0-9-]{0,70}", fullmatch=True)
)
def test_the_one_match_for_plain_addresses_decides_as_the_full_rules_do(value: str) -> None:
    def outcome() -> str:
        try:
            return normalise_address(value, "to")
        except InvalidPayload as error:
            return f"refused: {error.message}"

    fast = outcome()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(addresses, "_PLAIN_ADDRESS", re.compile(r"(?!)"))  # never matches
        assert outcome() == fast
