"""The `POST /send` request body: pydantic for shape, domain rules for content."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from domain.addresses import check_header, check_no_newline, normalise_address
from domain.errors import InvalidPayload
from domain.model import Email, SendCommand

MAX_METADATA_BYTES = 4096


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    text: str
    html: str | None = None


class _SendRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    to: str
    cc: list[str] | None = None
    subject: str
    body: _Body
    headers: dict[str, str] | None = None
    provider: str | None = None
    metadata: str | None = None


def parse_send_request(raw: bytes, max_recipients: int) -> SendCommand:
    """Validate a request body; raise InvalidPayload (errno 101) naming the field at fault."""
    try:
        data: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidPayload("body: not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidPayload("body: expected a JSON object")
    try:
        request = _SendRequest.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise InvalidPayload(f"{field}: {error['msg']}", field=field) from None

    if 1 + len(request.cc or ()) > max_recipients:
        raise InvalidPayload(
            f"cc: too many recipients (at most {max_recipients} in to and cc)", field="cc"
        )
    to = normalise_address(request.to, "to")
    cc: list[str] = []
    seen = {to.lower()}
    for index, value in enumerate(request.cc or ()):
        address = normalise_address(value, f"cc.{index}")
        if address.lower() not in seen:
            seen.add(address.lower())
            cc.append(address)
    subject = check_no_newline(request.subject, "subject")
    headers = tuple(check_header(name, value) for name, value in (request.headers or {}).items())
    if len({name.lower() for name, _ in headers}) != len(headers):
        raise InvalidPayload("headers: the same header name given twice", field="headers")
    if request.metadata is not None and len(request.metadata.encode("utf-8")) > MAX_METADATA_BYTES:
        raise InvalidPayload(f"metadata: longer than {MAX_METADATA_BYTES} bytes", field="metadata")
    email = Email(
        to=to,
        cc=tuple(cc),
        subject=subject,
        text=request.body.text,
        html=request.body.html,
        headers=headers,
    )
    return SendCommand(email=email, provider=request.provider, metadata=request.metadata)
