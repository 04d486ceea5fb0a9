"""`POST /send`'s validation rules of docs/api.md, pinned at their boundaries over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from dependency_injector import providers

from config.container import Container
from domain.model import DeliveryProblem, ProblemSubtype, ProblemType
from tests.fakes import RecordingProvider
from tests.http_app import client_for, make_container

VALID: dict[str, Any] = {"to": "to@example.com", "subject": "s", "body": {"text": "t"}}


class Service:
    def __init__(self, container: Container, client: httpx.AsyncClient) -> None:
        self.container = container
        self.client = client
        self.provider: RecordingProvider = container.mock_provider()  # type: ignore[assignment]

    async def post(self, body: Any) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body)
        headers = {"Content-Type": "application/json"}
        return await self.client.post("/send", content=content, headers=headers)

    async def refused(self, body: Any, field: str | None, message: str) -> None:
        """``body`` answers 400 errno 101 naming ``field`` with exactly ``message``."""
        sent_before = len(self.provider.sent)
        response = await self.post(body)
        assert response.status_code == 400, response.text
        answer = response.json()
        assert answer["errno"] == 101
        assert answer.get("field") == field
        assert answer["message"] == message
        assert len(self.provider.sent) == sent_before  # nothing sent

    async def accepted(self, body: Any) -> None:
        response = await self.post(body)
        assert response.status_code == 200, response.text


@pytest.fixture
async def service() -> AsyncIterator[Service]:
    container = make_container()
    container.mock_provider.override(providers.Singleton(RecordingProvider, "mock"))
    async with client_for(container) as client:
        yield Service(container, client)


# 7. Addresses


@pytest.mark.parametrize(("size", "ok"), [(63, True), (64, False)])
async def test_a_domain_label_is_at_most_63_characters(
    service: Service, size: int, ok: bool
) -> None:
    body = {**VALID, "to": f"a@{'l' * size}.example.com"}
    if ok:
        await service.accepted(body)
    else:
        await service.refused(body, "to", "to: not a valid email address")


@pytest.mark.parametrize(("size", "ok"), [(64, True), (65, False)])
async def test_a_local_part_is_at_most_64_characters(service: Service, size: int, ok: bool) -> None:
    body = {**VALID, "to": f"{'l' * size}@example.com"}
    if ok:
        await service.accepted(body)
    else:
        await service.refused(body, "to", "to: not a valid email address")


@pytest.mark.parametrize(("length", "ok"), [(253, True), (254, False)])
async def test_a_whole_address_is_under_254_characters(
    service: Service, length: int, ok: bool
) -> None:
    labels = ["d" * 63, "d" * 63, "d" * 63]
    local = "l" * (length - 1 - len(".".join(labels)) - len(".com"))
    address = f"{local}@{'.'.join(labels)}.com"
    assert len(address) == length
    body = {**VALID, "to": address}
    if ok:
        await service.accepted(body)
        assert service.provider.sent[0][1].to == address
    else:
        await service.refused(body, "to", "to: email address is too long")


@pytest.mark.parametrize(
    "address",
    [
        "a@b@example.com",  # a second @ in the local part
        "a@example",  # one label
        "a@-example.com",
        "a@example-.com",
        "a@exa_mple.com",
        "@example.com",
        "a@",
        "a@.example.com",
        "a@example..com",
        "a b@example.com",
        "a@example.com\n",
        "\u00e4@example.com",  # no SMTPUTF8 local part
        "a@\u2620.com",  # not encodable by UTS 46 (IDNA 2008)
    ],
)
async def test_bad_addresses_name_their_field(service: Service, address: str) -> None:
    await service.refused({**VALID, "to": address}, "to", "to: not a valid email address")
    body = {**VALID, "cc": ["ok@example.com", address]}
    await service.refused(body, "cc.1", "cc.1: not a valid email address")


async def test_an_idn_domain_is_sent_as_uts46_punycode(service: Service) -> None:
    await service.accepted({**VALID, "to": "a@fa\u00dfe.de", "cc": ["b@B\u00fccher.example"]})
    email = service.provider.sent[0][1]
    assert (email.to, email.cc) == ("a@xn--fae-6ka.de", ("b@xn--bcher-kva.example",))


# 4. Duplicates


async def test_a_cc_equal_to_the_to_in_another_case_is_dropped(service: Service) -> None:
    body = {**VALID, "cc": ["TO@Example.COM", "b@example.com", "B@EXAMPLE.com"]}
    await service.accepted(body)
    email = service.provider.sent[0][1]
    assert (email.to, email.cc) == ("to@example.com", ("b@example.com",))


async def test_recipients_are_counted_before_duplicates_are_dropped(service: Service) -> None:
    body = {**VALID, "cc": ["to@example.com"] * 50}
    await service.refused(body, "cc", "cc: too many recipients (at most 50 in to and cc)")
    await service.accepted({**VALID, "cc": ["to@example.com"] * 49})


# 7. Headers and subject


@pytest.mark.parametrize(("size", "ok"), [(76, True), (77, False)])
async def test_a_header_name_is_at_most_76_characters(
    service: Service, size: int, ok: bool
) -> None:
    name = "X-" + "h" * (size - 2)
    body = {**VALID, "headers": {name: "v"}}
    if ok:
        await service.accepted(body)
    else:
        await service.refused(body, f"headers.{name}", f"headers.{name}: not a valid header name")


@pytest.mark.parametrize("name", ["X A", "X:A", "", "X-\u00e9", "X-\x7f"])
async def test_a_header_name_is_an_rfc_5322_field_name(service: Service, name: str) -> None:
    body = {**VALID, "headers": {name: "v"}}
    await service.refused(body, f"headers.{name}", f"headers.{name}: not a valid header name")


CONTROLS = [chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0))]
CONTROLS += ["\u2028", "\u2029"]


async def test_no_control_character_in_any_header_value_or_the_subject(service: Service) -> None:
    message = "must not contain CR, LF or other control characters"
    for char in CONTROLS:
        value = f"a{char}b"
        await service.refused({**VALID, "subject": value}, "subject", f"subject: {message}")
        body = {**VALID, "headers": {"X-A": "ok", "X-B": value}}
        await service.refused(body, "headers.X-B", f"headers.X-B: {message}")
    await service.accepted({**VALID, "subject": "\u00a0 \u00e9 \u200b", "headers": {"X-A": " "}})


RESERVED = [
    "From",
    "Sender",
    "To",
    "Cc",
    "Bcc",
    "Subject",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "Message-ID",
    "Date",
    "Return-Path",
    "Received",
    "Resent-From",
    "Resent-Message-ID",
    "DKIM-Signature",
    "ARC-Seal",
    "ARC-Authentication-Results",
    "Authentication-Results",
    "X-SES-SOURCE-ARN",
    "X-SES-FROM-ARN",
    "X-SES-RETURN-PATH-ARN",
]


@pytest.mark.parametrize("name", [*RESERVED, *(n.upper() for n in RESERVED), "mime-version"])
async def test_every_reserved_header_is_refused_in_any_case(service: Service, name: str) -> None:
    body = {**VALID, "headers": {name: "v"}}
    field = f"headers.{name}"
    await service.refused(body, field, f"{field}: this header is set by the service")


@pytest.mark.parametrize(
    "name", ["Reply-To", "X-SES-CONFIGURATION-SET", "x-ses-message-tags", "X-Link", "Contents"]
)
async def test_headers_reliers_may_set(service: Service, name: str) -> None:
    await service.accepted({**VALID, "headers": {name: "v"}})


async def test_a_header_name_given_twice_in_any_case_is_refused(service: Service) -> None:
    body = {**VALID, "headers": {"X-A": "1", "x-a": "2"}}
    await service.refused(body, "headers", "headers: the same header name given twice")


async def test_at_most_50_extra_headers(service: Service) -> None:
    await service.accepted({**VALID, "headers": {f"X-{i}": "v" for i in range(50)}})
    body = {**VALID, "headers": {f"X-{i}": "v" for i in range(51)}}
    await service.refused(body, "headers", "headers: more than 50 extra headers")


@pytest.mark.parametrize("field", ["subject", "header"])
async def test_values_are_at_most_998_characters(service: Service, field: str) -> None:
    def body(value: str) -> dict[str, Any]:
        return (
            {**VALID, "subject": value}
            if field == "subject"
            else {**VALID, "headers": {"X-A": value}}
        )

    await service.accepted(body("\u00e9" * 998))
    name = "subject" if field == "subject" else "headers.X-A"
    await service.refused(body("e" * 999), name, f"{name}: longer than 998 characters")


# 8. Metadata


async def test_metadata_is_measured_in_utf8_bytes(service: Service) -> None:
    await service.accepted({**VALID, "metadata": "\u00e9" * 2048})  # 4096 bytes
    await service.accepted({**VALID, "metadata": "m" * 4096})
    message = "metadata: longer than 4096 bytes"
    await service.refused({**VALID, "metadata": "\u00e9" * 2049}, "metadata", message)
    await service.refused({**VALID, "metadata": "\u20ac" * 1366}, "metadata", message)
    await service.refused({**VALID, "metadata": "m" * 4097}, "metadata", message)


# 9. The messages of docs/api.md, one by one


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"subject": "s", "body": {"text": "t"}}, "to", "to: required"),
        ({**VALID, "to": 1}, "to", "to: expected a string"),
        ({**VALID, "cc": "a@example.com"}, "cc", "cc: expected an array of strings"),
        ({**VALID, "cc": [1]}, "cc.0", "cc.0: expected a string"),
        ({**VALID, "subject": None}, "subject", "subject: expected a string"),
        ({**VALID, "body": "t"}, "body", "body: expected an object"),
        ({**VALID, "body": {}}, "body.text", "body.text: required"),
        ({**VALID, "body": {"text": "t", "html": 1}}, "body.html", "body.html: expected a string"),
        ({**VALID, "headers": []}, "headers", "headers: expected an object"),
        ({**VALID, "headers": {"X-A": 1}}, "headers.X-A", "headers.X-A: expected a string"),
        ({**VALID, "metadata": {}}, "metadata", "metadata: expected a string"),
        ({**VALID, "provider": 1}, "provider", "provider: expected a string"),
    ],
)
async def test_each_shape_error_says_what_json_was_expected(
    service: Service, body: dict[str, Any], field: str, message: str
) -> None:
    await service.refused(body, field, message)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{", "body: not valid JSON"),
        (b'{"to": NaN}', "body: not valid JSON"),
        (b"\xff", "body: not valid JSON"),
        (b"[1]", "body: expected a JSON object"),
        (b'"text"', "body: expected a JSON object"),
    ],
)
async def test_a_body_that_is_not_a_json_object(service: Service, raw: bytes, message: str) -> None:
    await service.refused(raw, None, message)


async def test_text_that_is_not_unicode_is_refused_by_field(service: Service) -> None:
    bodies = {
        "subject": {**VALID, "subject": "LONE"},
        "body.text": {**VALID, "body": {"text": "LONE"}},
        "body.html": {**VALID, "body": {"text": "t", "html": "LONE"}},
        "metadata": {**VALID, "metadata": "LONE"},
        "headers.X-A": {**VALID, "headers": {"X-A": "LONE"}},
    }
    for field, body in bodies.items():
        raw = json.dumps(body).replace('"LONE"', '"\\ud800"').encode()  # a lone surrogate
        await service.refused(raw, field, f"{field}: not valid Unicode text")
        # the same surrogate as raw bytes is read (as json.loads reads bytes), then refused
        raw = json.dumps(body).replace("LONE", "\udc80").encode("utf-8", "surrogatepass")
        await service.refused(raw, field, f"{field}: not valid Unicode text")


async def test_an_unknown_provider_with_a_blocked_to_answers_103(service: Service) -> None:
    store = service.container.delivery_problems()
    created = service.container.clock().now_ms() - 1000
    await store.record(
        DeliveryProblem("to@example.com", ProblemType.HARD_BOUNCE, ProblemSubtype.GENERAL, created)
    )
    response = await service.post({**VALID, "provider": "carrier-pigeon"})
    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "errno": 103,
        "error": "Bad Request",
        "message": "provider: 'carrier-pigeon' is unknown or not configured",
        "name": "carrier-pigeon",
    }


@pytest.mark.parametrize(
    ("kind", "subtype", "errno", "type_name", "subtype_name"),
    [
        (ProblemType.COMPLAINT, ProblemSubtype.ABUSE, 106, "complaint", "abuse"),
        (ProblemType.SOFT_BOUNCE, ProblemSubtype.MAILBOX_FULL, 107, "softBounce", "MailboxFull"),
        (ProblemType.HARD_BOUNCE, ProblemSubtype.NO_EMAIL, 108, "hardBounce", "NoEmail"),
    ],
)
async def test_the_429_body_names_the_problem_as_docs_api_shows(
    service: Service,
    kind: ProblemType,
    subtype: ProblemSubtype,
    errno: int,
    type_name: str,
    subtype_name: str,
) -> None:
    created = service.container.clock().now_ms() - 1000
    store = service.container.delivery_problems()
    await store.record(DeliveryProblem("to@example.com", kind, subtype, created))
    response = await service.post({**VALID, "to": "TO@example.com"})
    assert response.status_code == 429
    assert response.json() == {
        "code": 429,
        "errno": errno,
        "error": "Too Many Requests",
        "message": f"email address TO@example.com has a recent {type_name} and cannot be sent to",
        "address": "TO@example.com",  # as the relier wrote it
        "time": created,
        "bouncedAt": created,
        "problem": {"type": type_name, "subtype": subtype_name, "createdAt": created},
    }
