"""`POST /send` over the real app: every error row it can produce, and nothing sent on error."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from dependency_injector import providers

from config.container import Container
from domain.errors import (
    AccountsDbError,
    BodyTooLarge,
    InternalError,
    InvalidPayload,
    ProviderError,
    QueueError,
    RateLimited,
    RouteNotFound,
    ServiceError,
    StoreError,
    Unauthorized,
    UnknownProvider,
    UnsupportedMediaType,
    UnverifiedEvent,
)
from domain.model import DeliveryProblem, MessageData, ProblemSubtype, ProblemType
from entrypoints import http
from entrypoints.http import error_response
from ports.stores import DeliveryProblemStore, MessageDataStore
from tests.fakes import Faulty, RecordingProvider, faulty_messages, faulty_problems
from tests.http_app import client_for, make_container

VALID: dict[str, Any] = {"to": "foo@example.com", "subject": "bar", "body": {"text": "baz"}}


class Service:
    def __init__(self, container: Container, client: httpx.AsyncClient) -> None:
        self.container = container
        self.client = client
        self.provider: RecordingProvider = container.mock_provider()  # type: ignore[assignment]
        self.problems: Faulty[DeliveryProblemStore] = container.delivery_problems()
        self.messages: Faulty[MessageDataStore] = container.message_data()

    async def post(self, body: Any, **kwargs: Any) -> httpx.Response:
        if isinstance(body, (dict, list)) or body is None:
            body = json.dumps(body)
        headers = kwargs.pop("headers", {"Content-Type": "application/json"})
        return await self.client.post("/send", content=body, headers=headers, **kwargs)

    def assert_nothing_sent_or_stored(self) -> None:
        assert self.provider.sent == []
        assert "put" not in self.messages.calls


@pytest.fixture
async def service() -> AsyncIterator[Service]:
    container = make_container(limits={"maxbody": 16384, "maxrecipients": 4})
    container.mock_provider.override(providers.Singleton(RecordingProvider, "mock"))
    problems, messages = container.delivery_problems(), container.message_data()
    container.delivery_problems.override(providers.Object(faulty_problems(problems)))
    container.message_data.override(providers.Object(faulty_messages(messages)))
    async with client_for(container) as client:
        yield Service(container, client)


def assert_error(response: httpx.Response, status: int, errno: int, **extra: Any) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == status
    assert body["errno"] == errno
    assert body["error"] == httpx.codes.get_reason_phrase(status)
    assert isinstance(body["message"], str) and body["message"]
    for key, value in extra.items():
        assert body[key] == value, (key, body)
    return dict(body)


async def test_valid_request_is_sent_with_metadata(service: Service) -> None:
    response = await service.post({**VALID, "metadata": "opaque", "unknownField": [1]})

    assert response.status_code == 200
    message_id = service.provider.sent[0][0]
    assert response.json() == {"messageId": f"mock:{message_id}"}
    assert await service.messages.get(message_id) == MessageData("opaque")


async def test_nulls_mean_absent(service: Service) -> None:
    body = {**VALID, "cc": None, "headers": None, "provider": None, "metadata": None}
    body["body"] = {"text": "t", "html": None}

    response = await service.post(body)

    assert response.status_code == 200
    assert "put" not in service.messages.calls


async def test_everything_reaches_the_provider(service: Service) -> None:
    body = {
        **VALID,
        "to": "user@b\u00fccher.example",
        "cc": ["a@example.com", "USER@xn--bcher-kva.example", "a@example.com"],
        "subject": "Gr\u00fc\u00dfe",
        "body": {"text": "plain", "html": "<b>html</b>"},
        "headers": {"X-Template": "verify"},
    }

    assert (await service.post(body)).status_code == 200

    email = service.provider.sent[0][1]
    assert email.to == "user@xn--bcher-kva.example"
    assert email.cc == ("a@example.com",)
    assert (email.subject, email.text, email.html) == ("Gr\u00fc\u00dfe", "plain", "<b>html</b>")
    assert email.headers == (("X-Template", "verify"),)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({k: v for k, v in VALID.items() if k != "to"}, "to"),
        ({**VALID, "to": 5}, "to"),
        ({**VALID, "to": "not-an-address"}, "to"),
        ({**VALID, "to": "a@example.com\r\nBcc: x@example.com"}, "to"),
        ({**VALID, "cc": "a@example.com"}, "cc"),
        ({**VALID, "cc": ["ok@example.com", "bad"]}, "cc.1"),
        ({**VALID, "cc": ["a@example.com", "b@example.com", "c@example.com", "d@x.com"]}, "cc"),
        ({k: v for k, v in VALID.items() if k != "subject"}, "subject"),
        ({**VALID, "subject": "two\nlines"}, "subject"),
        ({**VALID, "subject": "cr\rinside"}, "subject"),
        ({**VALID, "subject": "vertical\x0btab"}, "subject"),
        ({**VALID, "subject": "line\u2028separator"}, "subject"),
        ({**VALID, "subject": "lone \ud83d surrogate"}, "subject"),
        ({**VALID, "to": "foo@example.com\n"}, "to"),
        ({**VALID, "body": {"text": "lone \udc00 surrogate"}}, "body.text"),
        ({**VALID, "body": {"text": "t", "html": "\ud800"}}, "body.html"),
        ({**VALID, "metadata": "\udfff"}, "metadata"),
        ({**VALID, "headers": {"X-A": "v\x0cw"}}, "headers.X-A"),
        ({**VALID, "body": {"html": "<p>only html</p>"}}, "body.text"),
        ({**VALID, "body": "text"}, "body"),
        ({**VALID, "body": {"text": 1}}, "body.text"),
        ({**VALID, "headers": ["X-A"]}, "headers"),
        ({**VALID, "headers": {"X-A": 1}}, "headers.X-A"),
        ({**VALID, "headers": {"Bcc": "spy@example.com"}}, "headers.Bcc"),
        ({**VALID, "headers": {"content-type": "text/plain"}}, "headers.content-type"),
        ({**VALID, "headers": {"X-A": "v\r\nBcc: spy@example.com"}}, "headers.X-A"),
        ({**VALID, "headers": {"X A": "v"}}, "headers.X A"),
        ({**VALID, "headers": {"Reply-To": "a@example.com", "reply-to": "b@x.com"}}, "headers"),
        ({**VALID, "metadata": {"not": "a string"}}, "metadata"),
        ({**VALID, "metadata": "x" * 4097}, "metadata"),
        ({**VALID, "provider": 7}, "provider"),
    ],
)
async def test_invalid_payloads_are_refused(
    service: Service, body: dict[str, Any], field: str
) -> None:
    assert_error(await service.post(body), 400, 101, field=field)
    service.assert_nothing_sent_or_stored()


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"[1, 2]",
        b'"string"',
        b"",
        b"\xff\xfe",
        b'{"to": "foo@example.com", "subject": NaN, "body": {"text": "t"}}',
        b'{"to": "foo@example.com", "x": Infinity, "subject": "s", "body": {"text": "t"}}',
        b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ],
)
async def test_malformed_json_is_refused(service: Service, raw: bytes) -> None:
    body = assert_error(await service.post(raw), 400, 101)
    assert "JSON" in body["message"]
    service.assert_nothing_sent_or_stored()


async def test_type_errors_speak_json_not_python(service: Service) -> None:
    body = assert_error(await service.post({**VALID, "body": "text"}), 400, 101, field="body")
    assert body["message"] == "body: expected an object"
    body = assert_error(await service.post({**VALID, "to": None}), 400, 101, field="to")
    assert body["message"] == "to: expected a string"


async def test_metadata_of_exactly_4_kib_is_accepted(service: Service) -> None:
    assert (await service.post({**VALID, "metadata": "\u00e9" * 2048})).status_code == 200


@pytest.mark.parametrize("name", ["postmark", "sendgrid"])
async def test_unknown_or_unconfigured_provider(service: Service, name: str) -> None:
    assert_error(await service.post({**VALID, "provider": name}), 400, 103, name=name)
    service.assert_nothing_sent_or_stored()


async def test_provider_failure_is_104(service: Service) -> None:
    service.provider.fail = True

    assert_error(await service.post({**VALID, "metadata": "m"}), 500, 104, name="mock")
    assert "put" not in service.messages.calls


@pytest.mark.parametrize(
    ("kind", "errno", "name"),
    [
        (ProblemType.COMPLAINT, 106, "complaint"),
        (ProblemType.SOFT_BOUNCE, 107, "softBounce"),
        (ProblemType.HARD_BOUNCE, 108, "hardBounce"),
    ],
)
async def test_recipient_over_a_limit_is_429(
    service: Service, kind: ProblemType, errno: int, name: str
) -> None:
    created = service.container.clock().now_ms() - 1000
    await service.problems.record(
        DeliveryProblem("FOO@example.com", kind, ProblemSubtype.MAILBOX_FULL, created)
    )

    body = assert_error(
        await service.post({**VALID, "metadata": "m"}),
        429,
        errno,
        address="foo@example.com",
        time=created,
        bouncedAt=created,
    )
    assert body["problem"] == {"type": name, "subtype": "MailboxFull", "createdAt": created}
    service.assert_nothing_sent_or_stored()


async def test_dropped_recipients_are_listed(service: Service) -> None:
    created = service.container.clock().now_ms() - 1000
    await service.problems.record(
        DeliveryProblem("cc@example.com", ProblemType.HARD_BOUNCE, ProblemSubtype.GENERAL, created)
    )

    response = await service.post({**VALID, "cc": ["cc@example.com", "other@example.com"]})

    assert response.status_code == 200
    assert response.json()["skipped"] == [{"address": "cc@example.com", "errno": 108}]
    assert service.provider.sent[0][1].cc == ("other@example.com",)


async def test_to_over_a_limit_is_429_whatever_the_cc(service: Service) -> None:
    # The auth server reads only the 429 (it ignores `skipped`): its bounce errors must fire.
    created = service.container.clock().now_ms() - 1000
    await service.problems.record(
        DeliveryProblem("foo@example.com", ProblemType.HARD_BOUNCE, ProblemSubtype.GENERAL, created)
    )

    response = await service.post({**VALID, "cc": ["cc@example.com"], "metadata": "m"})

    assert_error(response, 429, 108, address="foo@example.com", bouncedAt=created)
    service.assert_nothing_sent_or_stored()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**VALID, "subject": "s" * 999}, "subject"),
        ({**VALID, "subject": "\u00fc" * 999}, "subject"),
        ({**VALID, "headers": {"X-Link": "l" * 999}}, "headers.X-Link"),
        ({**VALID, "headers": {f"X-H{i}": "v" for i in range(51)}}, "headers"),
        ({**VALID, "headers": {"X-SES-SOURCE-ARN": "arn"}}, "headers.X-SES-SOURCE-ARN"),
        ({**VALID, "headers": {"Content-Disposition": "inline"}}, "headers.Content-Disposition"),
        ({**VALID, "headers": {"DKIM-Signature": "v=1"}}, "headers.DKIM-Signature"),
        ({**VALID, "to": "o\u2019brien@example.com"}, "to"),
    ],
)
async def test_section_2_limits_are_refused(
    service: Service, body: dict[str, Any], field: str
) -> None:
    assert_error(await service.post(body), 400, 101, field=field)
    service.assert_nothing_sent_or_stored()


async def test_values_at_the_limits_are_sent(service: Service) -> None:
    headers = {f"X-H{i}": "v" for i in range(49)} | {"X-Link": "l" * 998}
    response = await service.post({**VALID, "subject": "\u00fc" * 998, "headers": headers})

    assert response.status_code == 200, response.text
    assert len(service.provider.sent[0][1].headers) == 50


@pytest.mark.parametrize(
    ("error", "status", "errno"), [(StoreError, 500, 117), (AccountsDbError, 500, 109)]
)
async def test_store_failures(
    service: Service, error: type[StoreError], status: int, errno: int
) -> None:
    service.problems.fail_with = error("store is down")

    body = assert_error(await service.post({**VALID, "metadata": "m"}), status, errno)
    assert "foo@example.com" not in json.dumps(body)
    assert "store is down" not in body["message"]  # hosts and names stay in the logs
    service.assert_nothing_sent_or_stored()


async def test_metadata_store_failure_after_send_still_answers_200(service: Service) -> None:
    service.messages.fail_with = StoreError("store is down")

    response = await service.post({**VALID, "metadata": "m"})

    assert response.status_code == 200
    assert len(service.provider.sent) == 1


async def test_body_over_the_limit_is_413(service: Service) -> None:
    body = {**VALID, "body": {"text": "x" * 20000}}

    assert_error(await service.post(body), 413, 121)
    service.assert_nothing_sent_or_stored()


async def test_body_over_the_limit_is_refused_while_streaming(service: Service) -> None:
    sent_chunks = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent_chunks
        for _ in range(100):
            sent_chunks += 1
            yield b" " * 1024

    assert_error(await service.post(chunks()), 413, 121)
    assert sent_chunks < 30  # refused once past 16 KiB, not after reading 100 KiB


@pytest.mark.parametrize(
    "headers", [{}, {"Content-Type": "text/plain"}, {"Content-Type": "application/jsonx"}]
)
async def test_wrong_content_type_is_415(service: Service, headers: dict[str, str]) -> None:
    assert_error(await service.post(VALID, headers=headers), 415, 122)
    service.assert_nothing_sent_or_stored()


async def test_json_content_type_with_charset_is_accepted(service: Service) -> None:
    response = await service.post(
        VALID, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 200


async def test_unknown_route_is_404(service: Service) -> None:
    assert_error(await service.client.get("/nowhere"), 404, 123)


async def test_trailing_slash_is_404_not_a_redirect(service: Service) -> None:
    response = await service.client.post(
        "/send/", content=json.dumps(VALID), headers={"Content-Type": "application/json"}
    )
    assert_error(response, 404, 123)
    service.assert_nothing_sent_or_stored()


async def test_wrong_method_is_405(service: Service) -> None:
    response = await service.client.get("/send")
    assert_error(response, 405, 123)
    assert response.headers["allow"] == "POST"
    assert_error(await service.client.put("/send", json=VALID), 405, 123)


async def test_unexpected_exception_is_100_without_details(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode(email: Any) -> str:
        raise RuntimeError("secret internals")

    service.provider.send = explode  # type: ignore[method-assign]

    body = assert_error(await service.post(VALID), 500, 100)
    assert "secret internals" not in json.dumps(body)
    assert "secret internals" in caplog.text


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InternalError("x"), 500),
        (QueueError("x"), 500),
        (InvalidPayload("x"), 400),
        (UnknownProvider("x", name="p"), 400),
        (ProviderError("x", name="p"), 500),
        (StoreError("x"), 500),
        (AccountsDbError("x"), 500),
        (BodyTooLarge("x"), 413),
        (UnsupportedMediaType("x"), 415),
        (RouteNotFound("x"), 404),
        (Unauthorized("x"), 401),
        (RateLimited("x", retry_after=7), 429),
        (UnverifiedEvent("x"), 403),
    ],
)
def test_each_errno_is_answered_with_its_status(error: ServiceError, status: int) -> None:
    response = error_response(error)
    assert response.status_code == status
    body = json.loads(bytes(response.body))
    assert isinstance(body.pop("message"), str)
    assert body == {
        "code": status,
        "errno": error.errno,
        "error": httpx.codes.get_reason_phrase(status),
        **error.extra,
    }
    assert ("retry-after" in response.headers) is isinstance(error, RateLimited)
    if isinstance(error, RateLimited):
        assert response.headers["retry-after"] == "7"


VERSION = {"source": "https://example.com/src", "version": "1.2.3", "commit": "abc", "build": "b"}


async def test_version_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "version.json").write_text(json.dumps(VERSION))
    async with client_for(make_container()) as client:
        assert (await client.get("/__version__")).json() == VERSION


async def test_version_from_the_versionfile_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "version.json").write_text(json.dumps({**VERSION, "version": "not this one"}))
    (tmp_path / "deployed.json").write_text(json.dumps(VERSION))
    container = make_container(versionfile=str(tmp_path / "deployed.json"))
    async with client_for(container) as client:
        assert (await client.get("/__version__")).json() == VERSION


async def test_version_is_never_looked_for_beside_the_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beside the code is site-packages once installed: not the deployment's file."""
    code = tmp_path / "site-packages"
    (code / "entrypoints").mkdir(parents=True)
    (code / "version.json").write_text(json.dumps(VERSION))
    monkeypatch.setattr(http, "__file__", str(code / "entrypoints" / "http.py"))
    monkeypatch.chdir(tmp_path)
    async with client_for(make_container()) as client:
        body = (await client.get("/__version__")).json()
    assert body["source"] == "fxa-email-service"
    assert body["commit"] == "unknown"


async def test_a_client_that_leaves_mid_body_is_logged_at_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = http.create_app(make_container())
    events: Iterator[dict[str, Any]] = iter(
        [
            {"type": "http.request", "body": b'{"to": "foo@exa', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(events)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "path": "/send",
        "raw_path": b"/send",
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8001),
    }
    caplog.set_level("DEBUG")

    await app(scope, receive, send)

    assert [r.levelname for r in caplog.records if r.name == "entrypoints.http"] == ["INFO"]
    assert not any(r.levelno >= 40 or r.exc_info for r in caplog.records)
    assert not any('"errno": 100' in r.getMessage() for r in caplog.records)
