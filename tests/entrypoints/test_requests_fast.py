"""`parse_send_request`'s msgspec read against the reference read it falls back to.

The reference is the parser as it was before msgspec, call for call: the stdlib's decoder
(``parse_json``), pydantic (``validate_shape``), then the domain rules (``check_content``).
Random bodies, valid and not (repeated keys, unknown fields of any type, ``null``s, lone
surrogates escaped or as bytes, big numbers, NaN, deep nesting, UTF-16 and UTF-32, BOMs,
bytes that are not UTF-8, cut or spliced bytes) must give both the same SendCommand or the
same InvalidPayload, message and field; and wherever msgspec takes a body, the reference
reads the very same values from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain.errors import InvalidPayload
from domain.model import SendCommand
from entrypoints.requests import (
    Body,
    FastBody,
    FastSendRequest,
    SendRequest,
    check_content,
    parse_json,
    parse_send_request,
    validate_shape,
)

Outcome = SendCommand | tuple[str, str | None, dict[str, Any]]


def reference(raw: bytes, max_recipients: int) -> SendCommand:
    """``parse_send_request`` before msgspec, with parse_json called at the same depth."""
    return check_content(validate_shape(parse_json(raw)), max_recipients)


def outcome(parse: Any, raw: bytes, max_recipients: int = 50) -> Outcome:
    try:
        command: SendCommand = parse(raw, max_recipients)
        return command
    except InvalidPayload as error:
        return (error.message, error.field, error.extra)


def shape(request: FastSendRequest | SendRequest) -> tuple[Any, ...]:
    headers = None if request.headers is None else list(request.headers.items())
    body = (request.body.text, request.body.html)
    return (
        request.to,
        request.cc,
        request.subject,
        body,
        headers,
        request.provider,
        request.metadata,
    )


def assert_same(raw: bytes, max_recipients: int = 50) -> None:
    assert outcome(parse_send_request, raw, max_recipients) == outcome(
        reference, raw, max_recipients
    )
    try:
        fast = msgspec.json.decode(raw, type=FastSendRequest)
    except Exception:
        return
    slow = validate_shape(parse_json(raw))  # must take what msgspec took
    assert shape(fast) == shape(slow)


# JSON written by hand, so that keys can repeat and any text can stand for a value: an
# object is an Obj of (key, value) pairs, a Raw is written as it is.
@dataclass(frozen=True)
class Obj:
    pairs: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Raw:
    text: str


@dataclass(frozen=True)
class Style:
    escape: str  # "none": as json.dumps(ensure_ascii=False), "ascii", "all": every char \uXXXX
    space: str  # around every ':' and ','


def write_string(value: str, style: Style) -> str:
    if style.escape != "all":
        return json.dumps(value, ensure_ascii=style.escape == "ascii")
    units = value.encode("utf-16-be", "surrogatepass")
    return (
        '"' + "".join(f"\\u{units[i]:02x}{units[i + 1]:02X}" for i in range(0, len(units), 2)) + '"'
    )


def write(value: Any, style: Style) -> str:
    comma, colon = f"{style.space},{style.space}", f"{style.space}:{style.space}"
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Obj):
        pairs = (f"{write_string(k, style)}{colon}{write(v, style)}" for k, v in value.pairs)
        return "{" + comma.join(pairs) + "}"
    if isinstance(value, list):
        return "[" + comma.join(write(item, style) for item in value) + "]"
    if isinstance(value, str):
        return write_string(value, style)
    return json.dumps(value)  # None, bools, ints, floats (nan and inf as NaN and Infinity)


def mostly(usual: Any, odd: Any, one_in: int = 8) -> Any:
    """``usual``, except about one time in ``one_in`` ``odd`` (``usual`` is what shrinks)."""
    return st.integers(0, one_in - 1).flatmap(lambda n: odd if n == one_in - 1 else usual)


ODD_TEXT = '\x00\x01\t\n\r\x1f\x7f\x85\u2028\u2029"\\/ é\ufeff\ufffe\U0001f600\ud800\udc00'
odd_chars = st.characters() | st.characters(categories=["Cs"]) | st.sampled_from(ODD_TEXT)
texts = mostly(
    st.text(st.characters(exclude_categories=["Cc", "Cs", "Zl", "Zp"]), max_size=12),
    st.text(odd_chars, max_size=12) | st.sampled_from(["", "x" * 999, "m" * 4097, "\ud83d"]),
    one_in=3,
)
addresses = mostly(
    st.builds(
        "{}@{}.com".format,
        st.from_regex(r"[a-z][a-z.]{0,7}", fullmatch=True),
        mostly(st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True), texts, one_in=4),
    ),
    st.sampled_from(
        [
            "TO@Example.COM",
            "a@fa\u00dfe.de",
            "b@B\u00fccher.example",
            "not-an-address",
            "a@b@example.com",
            "a@example.com\n",
            "\u00e4@example.com",
            "a@\ud800.com",
            "l" * 65 + "@example.com",
        ]
    ),
    one_in=4,
)
RAWS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "1e-400",
    "-0",
    "9" * 4300,
    "9" * 4301,
    "-" + "9" * 5000,
    "1.5",
    "[" * 50 + "]" * 50,
    "[" * 3000 + "]" * 3000,
    '{"a":' * 2000 + "1" + "}" * 2000,
    '"\\ud800"',
    '"\\udc00\\ud800"',
    '"\\uD83D\\uDE00"',
    '"a\\x"',
    "nul",
    "tru",
    "",
]
leaves = mostly(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    st.integers(min_value=10**30) | st.floats() | st.sampled_from([Raw(text) for text in RAWS]),
    one_in=4,
)


def objects(values: Any, keys: Any = texts) -> Any:
    return st.lists(st.tuples(keys, values), max_size=4).map(lambda pairs: Obj(tuple(pairs)))


any_json = st.recursive(
    leaves, lambda inner: st.lists(inner, max_size=3) | objects(inner), max_leaves=12
)
FIELD_NAMES = ["to", "cc", "subject", "body", "headers", "provider", "metadata"]
field_names = st.sampled_from([*FIELD_NAMES, "text", "html", "x", "To", "t\u006f"]) | texts
header_names = mostly(
    st.from_regex(r"X-[A-Za-z0-9-]{1,10}", fullmatch=True),
    st.sampled_from(["x-a", "Reply-To", "X A", "", "Bcc", "X-\u00e9"]) | texts,
    one_in=4,
)
times = mostly(st.just(1), st.sampled_from([0, 2]), one_in=10)  # a field given once
unknown_fields = mostly(st.just([]), st.lists(st.tuples(field_names, any_json), max_size=2), 4)


def or_anything(usual: Any) -> Any:
    """Mostly values of the right type, sometimes null or anything at all."""
    return mostly(usual, st.none() | any_json, one_in=20)


@st.composite
def fields(draw: st.DrawFn, values: dict[str, Any]) -> Obj:
    """An object with these fields (some left out, some given twice) and unknown ones, in
    any order."""
    pairs = [(name, draw(value)) for name, value in values.items() for _ in range(draw(times))]
    return Obj(tuple(draw(st.permutations(pairs + draw(unknown_fields)))))


VALUES = {
    "to": or_anything(addresses),
    "cc": or_anything(st.lists(or_anything(addresses), max_size=5)),
    "subject": or_anything(texts),
    "body": or_anything(fields({"text": or_anything(texts), "html": or_anything(texts)})),
    "headers": or_anything(objects(or_anything(texts), header_names)),
    "provider": or_anything(st.sampled_from(["mock", "ses", "carrier-pigeon"]) | texts),
    "metadata": or_anything(texts),
}
requests = mostly(fields(VALUES), any_json, one_in=10)
ENCODINGS = ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]
SPLICES = [b"\xff", b"\x80", b"\xed\xa0\x80", b"\xc0\x80", b"\xf4\x90\x80\x80", b"\x00", b"\x01"]
SPLICES += [b" ", b"\x0c", b"\xc2\xa0", b'"', b"\\", b"}", b"]", b",", b"\xef\xbb\xbf"]


@st.composite
def raw_bodies(draw: st.DrawFn) -> bytes:
    style = Style(
        draw(st.sampled_from(["none", "none", "ascii", "all"])),
        draw(st.sampled_from(["", "", " ", "\n\t ", "\r\n"])),
    )
    text = draw(st.sampled_from(["", "", " ", "\n"])) + write(draw(requests), style)
    raw = text.encode(
        draw(mostly(st.just("utf-8"), st.sampled_from(ENCODINGS), 5)), "surrogatepass"
    )
    at = int(draw(st.floats(0, 1)) * len(raw))
    change = draw(
        mostly(st.just("none"), st.sampled_from(["cut", "splice", "replace", "append"]), 5)
    )
    if change == "cut":
        raw = raw[:at]
    elif change == "splice":
        raw = raw[:at] + draw(st.sampled_from(SPLICES)) + raw[at:]
    elif change == "replace":
        raw = raw[:at] + draw(st.sampled_from(SPLICES)) + raw[at + 1 :]
    elif change == "append":
        raw += draw(st.sampled_from([b" \n", b"x", b"}", b"\x00", b"{}"]))
    return raw


VALID = b'{"to":"to@example.com","subject":"s","body":{"text":"t"}}'


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=raw_bodies(), max_recipients=st.sampled_from([1, 2, 3, 50]))
@example(raw=VALID, max_recipients=50)
@example(raw=b'{"to":"a@b.example",' + VALID[1:], max_recipients=50)  # the last "to" counts
@example(raw=VALID[:-1] + b',"to":"a@b.example"}', max_recipients=50)
@example(raw=b'{"to":1,' + VALID[1:], max_recipients=50)
@example(raw=VALID[:-1] + b',"cc":null,"metadata":null,"x":{"y":[1e400]}}', max_recipients=50)
@example(raw=VALID[:-1] + b',"x":' + b"9" * 5000 + b"}", max_recipients=50)
@example(raw=VALID.replace(b'"s"', b'"\\ud800"'), max_recipients=50)
@example(raw=VALID.replace(b'"s"', b'"\xed\xa0\x80"'), max_recipients=50)
@example(raw=b"\xef\xbb\xbf" + VALID, max_recipients=50)
@example(raw=VALID.decode().encode("utf-16"), max_recipients=50)
@example(raw=VALID.decode().encode("utf-32-le"), max_recipients=50)
@example(raw=VALID.replace(b'"t"}', b'"t","html":null}'), max_recipients=50)
@example(raw=VALID[:-1] + b',"cc":["a@example.com","b@example.com"]}', max_recipients=2)
def test_the_fast_read_answers_as_the_reference(raw: bytes, max_recipients: int) -> None:
    assert_same(raw, max_recipients)


@pytest.mark.parametrize(
    "raw",
    [
        VALID,
        VALID[:-1] + b',"x":NaN}',
        VALID[:-1] + b',"x":' + b"1" * 4301 + b"}",
        VALID[:-1] + b',"x":"\xff"}',  # msgspec skips an unknown field unread
        VALID.replace(b'"t"', b'"\\udc00"'),
        VALID.replace(b'"to"', b'"t\\u006f"'),
        VALID[:-1] + b',"headers":{"X-A":"1","X-B":"2","X-A":"3"}}',
        VALID[:-1] + b',"body":{"html":"h"}}',  # the last body counts
        b"[" + VALID + b"]",
        b"\xef\xbb\xbf" + VALID,
        b" \t\r\n" + VALID + b"\n",
        b"\x0c" + VALID,
    ],
)
def test_the_tricky_bodies(raw: bytes) -> None:
    assert_same(raw)


def test_the_deepest_nesting_read_is_the_references() -> None:
    """The stdlib decoder's limit depends on the depth of the call, so it is found here."""

    def body(depth: int) -> bytes:
        return VALID[:-1] + b',"x":' + b"[" * depth + b"]" * depth + b"}"

    depth = 1  # found in this frame: no generator's frame on the stack
    while not isinstance(outcome(reference, body(depth)), tuple):
        depth += 1
    assert outcome(reference, body(depth)) == ("body: not valid JSON", None, {})
    for d in (depth - 1, depth):
        assert outcome(parse_send_request, body(d)) == outcome(reference, body(d))


def test_the_fast_types_have_the_reference_fields() -> None:
    for fast, model in ((FastSendRequest, SendRequest), (FastBody, Body)):
        fields = {f.name: f.required for f in msgspec.structs.fields(fast)}
        assert fields == {name: f.is_required() for name, f in model.model_fields.items()}
