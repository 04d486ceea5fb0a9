"""The `POST /send` request body: msgspec or pydantic for shape, domain rules for content.

A body is first decoded by msgspec straight into ``FastSendRequest``, which takes only the
usual request: valid UTF-8 JSON with the documented fields and no other, each of its type.
Anything else, whatever msgspec would say of it, is read again the reference way (the
stdlib's decoder, then pydantic), which alone decides what is refused and with which message
(docs/api.md); both reads give the same values wherever the fast one succeeds
(tests/entrypoints/test_requests_fast.py).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from pydantic import BaseModel, ConfigDict, ValidationError

from domain.addresses import (
    MAX_EXTRA_HEADERS,
    check_header,
    check_header_value,
    check_text,
    distinct_cc,
    normalise_address,
)
from domain.errors import InvalidPayload
from domain.model import Email, SendCommand

MAX_METADATA_BYTES = 4096
# pydantic's wording names its own classes; a relier wants the JSON type.
_MESSAGES = {
    "missing": "required",
    "string_type": "expected a string",
    "dict_type": "expected an object",
    "model_type": "expected an object",
    "model_attributes_type": "expected an object",
    "list_type": "expected an array of strings",
}


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    text: str
    html: str | None = None


class SendRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    to: str
    cc: list[str] | None = None
    subject: str
    body: Body
    headers: dict[str, str] | None = None
    provider: str | None = None
    metadata: str | None = None


# forbid_unknown_fields: msgspec skips an unknown field's value without the stdlib's checks
# (integers of over 4300 digits, bytes that are not UTF-8 inside strings) and with a depth
# limit of its own, so a body with one takes the reference path, where those are decided.
class FastBody(msgspec.Struct, forbid_unknown_fields=True):
    text: str
    html: str | None = None


class FastSendRequest(msgspec.Struct, forbid_unknown_fields=True):
    to: str
    subject: str
    body: FastBody
    cc: list[str] | None = None
    headers: dict[str, str] | None = None
    provider: str | None = None
    metadata: str | None = None


# strict (the default); a str field takes only a JSON string either way.
_FAST_DECODER = msgspec.json.Decoder(FastSendRequest)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Built once: json.loads(raw, parse_constant=...) builds a decoder per call (~5 us here).
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def parse_json(raw: bytes) -> Any:
    """Strict JSON: no NaN/Infinity; too deep or too large numbers are refused, not a crash."""
    try:
        # What json.loads does with bytes, on the one decoder.
        return _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidPayload("body: not valid JSON") from None


def validate_shape(data: Any) -> SendRequest:
    """The reference shape check of decoded JSON (``parse_json``): pydantic, strict;
    InvalidPayload names the first field at fault in field order."""
    if not isinstance(data, dict):
        raise InvalidPayload("body: expected a JSON object")
    try:
        return SendRequest.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        message = _MESSAGES.get(error["type"], str(error["msg"]))
        raise InvalidPayload(f"{field}: {message}", field=field) from None


def parse_send_request(raw: bytes, max_recipients: int, relier: str = "-") -> SendCommand:
    """Validate a request body; raise InvalidPayload (errno 101) naming the field at fault.

    ``relier`` is the id of the key that came with it (``-`` for none): the command's."""
    request: FastSendRequest | SendRequest | None
    try:
        request = _FAST_DECODER.decode(raw)
    except Exception:  # DecodeError, UnicodeDecodeError, RecursionError: the reference decides
        request = None  # and raises outside this handler, its errors chained to nothing
    if request is None:
        # parse_json called from here, as before msgspec: the stdlib decoder's depth limit
        # counts the caller's frames too, so the deepest nesting read stays the same.
        request = validate_shape(parse_json(raw))
    return check_content(request, max_recipients, relier)


def check_content(
    request: FastSendRequest | SendRequest, max_recipients: int, relier: str = "-"
) -> SendCommand:
    """The domain rules of docs/api.md over a request of the right shape."""
    if 1 + len(request.cc or ()) > max_recipients:
        raise InvalidPayload(
            f"cc: too many recipients (at most {max_recipients} in to and cc)", field="cc"
        )
    to = normalise_address(request.to, "to")
    cc = distinct_cc(
        to, (normalise_address(value, f"cc.{i}") for i, value in enumerate(request.cc or ()))
    )
    subject = check_header_value(request.subject, "subject")
    text = check_text(request.body.text, "body.text")
    html = None if request.body.html is None else check_text(request.body.html, "body.html")
    if len(request.headers or ()) > MAX_EXTRA_HEADERS:
        raise InvalidPayload(
            f"headers: more than {MAX_EXTRA_HEADERS} extra headers", field="headers"
        )
    headers = tuple(check_header(name, value) for name, value in (request.headers or {}).items())
    if len({name.lower() for name, _ in headers}) != len(headers):
        raise InvalidPayload("headers: the same header name given twice", field="headers")
    if request.metadata is not None:
        metadata = check_text(request.metadata, "metadata")
        if len(metadata.encode("utf-8")) > MAX_METADATA_BYTES:
            raise InvalidPayload(
                f"metadata: longer than {MAX_METADATA_BYTES} bytes", field="metadata"
            )
    email = Email(to=to, cc=cc, subject=subject, text=text, html=html, headers=headers)
    return SendCommand(email, request.provider, request.metadata, relier)
