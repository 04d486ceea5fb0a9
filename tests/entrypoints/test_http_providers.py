"""`POST /send` through each real provider, configured by settings, against a real server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from config.container import Container, shutdown
from domain.model import MessageData
from tests.doubles.net import refused_port
from tests.doubles.seen import SeenEmail, normalise_text
from tests.doubles.sendgrid import SendgridDouble
from tests.doubles.ses import ses_seen
from tests.doubles.smtp import smtp_server
from tests.doubles.socketlabs import PATH as SOCKETLABS_PATH
from tests.doubles.socketlabs import SocketlabsDouble
from tests.http_app import client_for, make_container
from tests.servers import MotoServer

SENDER = {"address": "accounts@example.com", "name": "Fïrefox Accounts"}
SENDGRID_KEY = "SG.integration-key"
SOCKETLABS_ID, SOCKETLABS_KEY = 4242, "integration-socketlabs-key"
REQUEST: dict[str, Any] = {
    "to": "to@example.com",
    "cc": ["cc.one@example.org", "cc-two@example.net"],
    "subject": "Confirmez — ✓ votre adresse",
    "body": {"text": "Héllo\nsecond line", "html": "<p>Héllo <b>ünïcødé</b></p>"},
    "headers": {
        "X-Template-Name": "verifyEmail",
        "X-Flow-Id": "fl0w-ïd",
        "Reply-To": "support@example.com",
    },
    "metadata": "opaque relier data",
}
REAL = ["ses", "smtp", "sendgrid", "socketlabs"]


@dataclass
class Backend:
    """Settings that point one provider at its server, and how to read what it received."""

    settings: dict[str, Any]
    seen: Callable[[str], SeenEmail]


@pytest.fixture
def backends(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], Backend]]:
    """``backends(kind)`` starts (or, for ses, resets) the server behind ``kind``."""
    with ExitStack() as stack:

        def start(kind: str) -> Backend:
            if kind == "ses":
                moto: MotoServer = request.getfixturevalue("moto")
                monkeypatch.setenv("AWS_ENDPOINT_URL_SES", moto.url)
                moto.client("ses").verify_email_identity(EmailAddress=SENDER["address"])
                keys = {"access": "testing", "secret": "testing"}
                return Backend({"aws": {"keys": keys, "timeout": 5}}, ses_seen(moto))
            if kind == "smtp":
                server = stack.enter_context(smtp_server())
                smtp = {"host": "127.0.0.1", "port": server.port, "timeout": 5}
                return Backend({"smtp": smtp}, server.seen)
            if kind == "sendgrid":
                double = stack.enter_context(SendgridDouble(SENDGRID_KEY))
                settings = {"key": SENDGRID_KEY, "baseuri": double.url, "timeout": 5}
                return Backend({"sendgrid": settings}, double.seen)
            injection = stack.enter_context(SocketlabsDouble(SOCKETLABS_ID, SOCKETLABS_KEY))
            socketlabs = {
                "serverid": SOCKETLABS_ID,
                "key": SOCKETLABS_KEY,
                "baseuri": injection.url + SOCKETLABS_PATH,
                "timeout": 5,
            }
            return Backend({"socketlabs": socketlabs}, injection.seen)

        yield start


@asynccontextmanager
async def service(**settings: Any) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    container = make_container(sender=SENDER, **settings)
    try:
        async with client_for(container) as client:
            yield container, client
    finally:
        await shutdown(container)


async def post(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post(
        "/send", content=json.dumps(body), headers={"Content-Type": "application/json"}
    )


def assert_matches_request(seen: SeenEmail, body: dict[str, Any]) -> None:
    assert (seen.sender, seen.sender_name) == (SENDER["address"], SENDER["name"])
    assert seen.to == [body["to"]]
    assert seen.cc == body.get("cc", [])
    assert seen.subject == body["subject"]
    assert normalise_text(seen.text) == body["body"]["text"]
    html = body["body"].get("html")
    assert (seen.html and normalise_text(seen.html)) == html
    assert seen.headers == body.get("headers", {})


@pytest.mark.parametrize("kind", REAL)
async def test_send_delivers_the_request_and_answers_the_providers_id(
    kind: str, backends: Callable[[str], Backend]
) -> None:
    backend = backends(kind)
    async with service(**backend.settings) as (container, client):
        response = await post(client, {**REQUEST, "provider": kind})
        assert response.status_code == 200, response.text
        prefix, _, provider_id = response.json()["messageId"].partition(":")
        assert prefix == kind and provider_id
        assert_matches_request(backend.seen(provider_id), REQUEST)
        # Metadata is stored under the provider's own id, where a notification will look.
        assert await container.message_data().get(provider_id) == MessageData(REQUEST["metadata"])


@pytest.mark.parametrize("kind", REAL)
async def test_provider_down_answers_errno_104_naming_it(kind: str) -> None:
    url = f"http://127.0.0.1:{refused_port()}"
    by_kind: dict[str, dict[str, Any]] = {
        "ses": {"aws": {"keys": {"access": "testing", "secret": "testing"}, "maxattempts": 1}},
        "smtp": {"smtp": {"host": "127.0.0.1", "port": refused_port()}},
        "sendgrid": {"sendgrid": {"key": SENDGRID_KEY, "baseuri": url}},
        "socketlabs": {
            "socketlabs": {"serverid": 1, "key": SOCKETLABS_KEY, "baseuri": url + SOCKETLABS_PATH}
        },
    }
    settings = by_kind[kind]
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SES", url)
        async with service(**settings) as (container, client):
            response = await post(client, {**REQUEST, "provider": kind})
    assert response.status_code == 500, response.text
    body = response.json()
    assert (body["errno"], body["name"]) == (104, kind)
    assert SENDGRID_KEY not in response.text and SOCKETLABS_KEY not in response.text


async def test_refusal_by_the_provider_answers_errno_104(
    backends: Callable[[str], Backend],
) -> None:
    backend = backends("sendgrid")
    backend.settings["sendgrid"]["key"] = "SG.revoked"
    async with service(**backend.settings) as (_, client):
        response = await post(client, {**REQUEST, "provider": "sendgrid"})
    assert response.status_code == 500
    assert (response.json()["errno"], response.json()["name"]) == (104, "sendgrid")


async def test_default_provider_is_used_when_the_request_names_none(
    backends: Callable[[str], Backend],
) -> None:
    backend = backends("smtp")
    async with service(provider={"default": "smtp"}, **backend.settings) as (_, client):
        response = await post(client, REQUEST)
    assert response.status_code == 200, response.text
    prefix, _, provider_id = response.json()["messageId"].partition(":")
    assert prefix == "smtp"
    assert_matches_request(backend.seen(provider_id), REQUEST)


async def test_forced_default_overrides_the_requested_provider(
    backends: Callable[[str], Backend],
) -> None:
    sendgrid, smtp = backends("sendgrid"), backends("smtp")
    settings = {**sendgrid.settings, **smtp.settings}
    forced = {"default": "sendgrid", "forcedefault": True}
    async with service(provider=forced, **settings) as (_, client):
        response = await post(client, {**REQUEST, "provider": "smtp"})
    assert response.status_code == 200, response.text
    prefix, _, provider_id = response.json()["messageId"].partition(":")
    assert prefix == "sendgrid"
    assert_matches_request(sendgrid.seen(provider_id), REQUEST)


@pytest.mark.parametrize(
    ("kind", "settings"),
    [
        ("sendgrid", {}),
        ("smtp", {}),
        ("socketlabs", {"socketlabs": {"key": "k"}}),  # a key without a server id
    ],
)
async def test_provider_without_settings_is_not_configured(
    kind: str, settings: dict[str, Any]
) -> None:
    async with service(**settings) as (_, client):
        response = await post(client, {**REQUEST, "provider": kind})
    assert response.status_code == 400
    assert (response.json()["errno"], response.json()["name"]) == (103, kind)
