"""The EmailProvider contract: the mock and every real provider, each against a real server,
send the same email and return the id their server knows it by; every failure is a
ProviderError naming the provider."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from adapters.providers.mock import MockEmailProvider
from adapters.providers.sendgrid import SendgridEmailProvider
from adapters.providers.ses import SesEmailProvider
from adapters.providers.smtp import SmtpEmailProvider
from adapters.providers.socketlabs import SocketlabsEmailProvider
from domain.errors import ProviderError
from domain.model import Email, Sender
from ports.health import Closable
from ports.providers import EmailProvider
from tests.doubles.http import Reply, ScriptedServer
from tests.doubles.net import refused_port, silent_server
from tests.doubles.seen import SeenEmail, from_mime, normalise_text
from tests.doubles.sendgrid import SendgridDouble
from tests.doubles.ses import ses_error, ses_seen
from tests.doubles.smtp import smtp_server
from tests.doubles.socketlabs import PATH as SOCKETLABS_PATH
from tests.doubles.socketlabs import SocketlabsDouble, post_response
from tests.doubles.tls import Certificates
from tests.servers import MotoServer

SENDER = Sender("accounts@example.com", "Fïrefox Accounts")
SENDGRID_KEY = "SG.test-key-that-must-not-leak"
SOCKETLABS_ID, SOCKETLABS_KEY = 12345, "socketlabs-key-that-must-not-leak"
SMTP_USER, SMTP_PASSWORD = "relay-user", "smtp-password-that-must-not-leak"
EMAIL = Email(
    to="to@example.com",
    cc=("cc.one@example.org", "cc-two@example.net"),
    subject="Vérifiez votre compte — ✓ " + "un sujet assez long pour être plié " * 3,
    text="Héllo,\n\nthis is the text part: ünïcødé and a long line " + "x" * 120,
    html='<p>Héllo, <a href="https://example.com/?a=1&amp;b=2">ünïcødé</a></p>',
    headers=(
        ("X-Template-Name", "verifyEmail"),
        ("X-Device-Id", "dévice-1"),
        ("Content-Language", "fr"),
        ("Reply-To", "support@example.com"),
    ),
)
KINDS = ["mock", "ses", "smtp", "sendgrid", "socketlabs"]
REAL = KINDS[1:]


@dataclass
class Harness:
    provider: EmailProvider
    seen: Callable[[str], SeenEmail]


def ses_provider(**overrides: Any) -> SesEmailProvider:
    """Reaches the endpoint in AWS_ENDPOINT_URL_SES, as a deployment would."""
    settings: dict[str, Any] = {
        "region": "us-east-1",
        "timeout": 5.0,
        "access_key": "testing",
        "secret_key": "testing",
        **overrides,
    }
    return SesEmailProvider(SENDER, **settings)


@pytest.fixture(params=KINDS)
async def harness(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    kind = request.param
    with ExitStack() as stack:
        provider: Any
        if kind == "mock":
            # What the mock sent is what it wrote to its outbox, read back like moto's list.
            outbox: Path = request.getfixturevalue("tmp_path") / "outbox"
            provider = MockEmailProvider(SENDER, outbox=str(outbox))

            def seen(message_id: str) -> SeenEmail:
                return from_mime((outbox / f"{message_id}.eml").read_bytes(), message_id)

            harness = Harness(provider, seen)
        elif kind == "ses":
            moto: MotoServer = request.getfixturevalue("moto")
            monkeypatch.setenv("AWS_ENDPOINT_URL_SES", moto.url)
            moto.client("ses").verify_email_identity(EmailAddress=SENDER.address)
            harness = Harness(ses_provider(), ses_seen(moto))
        elif kind == "smtp":
            server = stack.enter_context(smtp_server())
            provider = SmtpEmailProvider(SENDER, "127.0.0.1", server.port, timeout=5)
            harness = Harness(provider, server.seen)
        elif kind == "sendgrid":
            double = stack.enter_context(SendgridDouble(SENDGRID_KEY))
            provider = SendgridEmailProvider(SENDER, SENDGRID_KEY, double.url, timeout=5)
            harness = Harness(provider, double.seen)
        else:
            injection = stack.enter_context(SocketlabsDouble(SOCKETLABS_ID, SOCKETLABS_KEY))
            url = injection.url + SOCKETLABS_PATH
            provider = SocketlabsEmailProvider(SENDER, SOCKETLABS_ID, SOCKETLABS_KEY, url, 5)
            harness = Harness(provider, injection.seen)
        try:
            yield harness
        finally:
            if isinstance(harness.provider, Closable):
                await harness.provider.aclose()


def assert_delivered(seen: SeenEmail, email: Email, message_id: str) -> None:
    assert seen.message_id == message_id
    assert (seen.sender, seen.sender_name) == (SENDER.address, SENDER.name)
    assert seen.to == [email.to]
    assert seen.cc == list(email.cc)
    assert seen.subject == email.subject
    assert normalise_text(seen.text) == normalise_text(email.text)
    if email.html is None:
        assert seen.html is None
    else:
        assert seen.html is not None and normalise_text(seen.html) == normalise_text(email.html)
    assert seen.headers == dict(email.headers)
    if seen.envelope is not None:
        assert set(seen.envelope) == set(email.recipients)


async def test_sends_the_whole_email_and_returns_the_servers_id(harness: Harness) -> None:
    message_id = await harness.provider.send(EMAIL)
    assert isinstance(message_id, str) and message_id
    assert_delivered(harness.seen(message_id), EMAIL, message_id)


async def test_text_only_email_has_no_html_part(harness: Harness) -> None:
    email = Email(to="solo@example.com", subject="Plain ascii", text="just text")
    message_id = await harness.provider.send(email)
    assert_delivered(harness.seen(message_id), email, message_id)


async def test_every_send_gets_its_own_id(harness: Harness) -> None:
    first = await harness.provider.send(EMAIL)
    second = await harness.provider.send(replace(EMAIL, subject="second"))
    assert first != second
    assert harness.seen(second).subject == "second"


# Failures: each real provider against a server that is down, silent, failing or refusing.

TIMEOUT = 0.5


@contextmanager
def failing(
    kind: str, failure: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[tuple[Any, Callable[[], int]]]:
    """A provider whose server fails as ``failure`` says, and how many requests it saw."""
    with ExitStack() as stack:
        port = 0
        server: Any = None
        attempts: Callable[[], int] = lambda: -1  # noqa: E731
        if failure == "down":
            port = refused_port()
        elif failure == "timeout":
            port = stack.enter_context(silent_server())
        url = f"http://127.0.0.1:{port}"
        if kind == "ses":
            options: dict[str, Any] = {"timeout": TIMEOUT, "max_attempts": 1}
            if failure == "5xx":
                server = stack.enter_context(ScriptedServer(ses_error(503, "ServiceUnavailable")))
                options["max_attempts"] = 2
            elif failure == "4xx":  # moto itself: the sender identity was never verified
                server = request.getfixturevalue("moto")
            if server is not None:
                url = server.url
            monkeypatch.setenv("AWS_ENDPOINT_URL_SES", url)
            provider: Any = ses_provider(**options)
        elif kind == "smtp":
            if failure in ("5xx", "4xx"):
                server = stack.enter_context(smtp_server())
                code = "554 5.7.1 Message rejected" if failure == "5xx" else "451 4.3.0 Try later"
                server.handler.reply = code
                port = server.port
            provider = SmtpEmailProvider(SENDER, "127.0.0.1", port, timeout=TIMEOUT)
        elif kind == "sendgrid":
            if failure in ("5xx", "4xx"):
                server = stack.enter_context(SendgridDouble(SENDGRID_KEY))
                url = server.url
            if failure == "5xx":
                server.scripted = Reply(500, {"errors": [{"message": "Internal error"}]})
            key = "SG.wrong-key-that-must-not-leak" if failure == "4xx" else SENDGRID_KEY
            provider = SendgridEmailProvider(SENDER, key, url, timeout=TIMEOUT)
        else:
            if failure in ("5xx", "4xx"):
                server = stack.enter_context(SocketlabsDouble(SOCKETLABS_ID, SOCKETLABS_KEY))
                url = server.url
            if failure == "5xx":
                server.scripted = Reply(500, post_response("InternalError"))
            key = "wrong-key-that-must-not-leak" if failure == "4xx" else SOCKETLABS_KEY
            provider = SocketlabsEmailProvider(
                SENDER, SOCKETLABS_ID, key, url + SOCKETLABS_PATH, TIMEOUT
            )
        if server is not None and hasattr(server, "received"):
            attempts = lambda: len(server.received)  # noqa: E731
        yield provider, attempts


def assert_no_secret(error: ProviderError) -> None:
    text = f"{error} {error.extra}"
    assert "must-not-leak" not in text and "testing" not in text


@pytest.mark.parametrize("failure", ["down", "timeout", "5xx", "4xx"])
@pytest.mark.parametrize("kind", REAL)
async def test_failures_are_provider_errors_naming_the_provider(
    kind: str, failure: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    with failing(kind, failure, monkeypatch, request) as (provider, attempts):
        started = time.monotonic()
        try:
            with pytest.raises(ProviderError) as raised:
                await provider.send(EMAIL)
        finally:
            if isinstance(provider, Closable):
                await provider.aclose()
        elapsed = time.monotonic() - started
    assert raised.value.name == kind
    assert raised.value.extra == {"name": kind}
    assert_no_secret(raised.value)
    if failure == "timeout":
        assert elapsed < 10 * TIMEOUT  # a safety net against a missing timeout, not a benchmark
    if kind == "ses" and failure == "5xx":
        assert attempts() == 2  # botocore's standard retry mode retried the 503 once


async def test_ses_throttling_is_retried_by_botocore_then_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with ScriptedServer(ses_error(400, "Throttling", "Sender")) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SES", server.url)
        provider = ses_provider(max_attempts=2)
        with pytest.raises(ProviderError, match="Throttling") as raised:
            await provider.send(EMAIL)
        await provider.aclose()
    assert raised.value.name == "ses"
    assert len(server.received) == 2


async def test_ses_honours_aws_endpoint_url_and_the_default_credential_chain(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_SES", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "chain-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "chain-secret")
    moto.client("ses").verify_email_identity(EmailAddress=SENDER.address)
    provider = ses_provider(access_key=None, secret_key=None)
    message_id = await provider.send(EMAIL)
    await provider.aclose()
    assert_delivered(ses_seen(moto)(message_id), EMAIL, message_id)


async def test_sendgrid_rate_limit_is_a_provider_error() -> None:
    with SendgridDouble(SENDGRID_KEY) as double:
        double.scripted = Reply(429, {"errors": [{"message": "too many requests"}]})
        provider = SendgridEmailProvider(SENDER, SENDGRID_KEY, double.url, timeout=TIMEOUT)
        with pytest.raises(ProviderError, match="HTTP 429") as raised:
            await provider.send(EMAIL)
    assert raised.value.name == "sendgrid"


async def test_socketlabs_refusal_inside_a_200_answer_is_a_provider_error() -> None:
    with SocketlabsDouble(SOCKETLABS_ID, SOCKETLABS_KEY) as double:
        url = double.url + SOCKETLABS_PATH
        provider = SocketlabsEmailProvider(SENDER, SOCKETLABS_ID, SOCKETLABS_KEY, url, TIMEOUT)
        with pytest.raises(ProviderError, match="EmptySubject") as raised:
            await provider.send(replace(EMAIL, subject=""))
        await provider.aclose()
    assert raised.value.name == "socketlabs"
    assert double.accepted == {}


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_smtp_over_tls_with_credentials(security: str, certificates: Certificates) -> None:
    with smtp_server(security, certificates, (SMTP_USER, SMTP_PASSWORD)) as server:
        provider = SmtpEmailProvider(
            SENDER,
            "127.0.0.1",
            server.port,
            timeout=5,
            security=security,  # type: ignore[arg-type]
            user=SMTP_USER,
            password=SMTP_PASSWORD,
            cafile=certificates.cafile,
        )
        message_id = await provider.send(EMAIL)
        assert_delivered(server.seen(message_id), EMAIL, message_id)


async def test_smtp_wrong_password_or_untrusted_certificate_fails(
    certificates: Certificates,
) -> None:
    with smtp_server("starttls", certificates, (SMTP_USER, SMTP_PASSWORD)) as server:
        wrong_password = SmtpEmailProvider(
            SENDER, "127.0.0.1", server.port, 5, "starttls", SMTP_USER,
            "wrong-password-that-must-not-leak", certificates.cafile,
        )  # fmt: skip
        untrusted = SmtpEmailProvider(
            SENDER, "127.0.0.1", server.port, 5, "starttls", SMTP_USER, SMTP_PASSWORD
        )
        for provider in (wrong_password, untrusted):
            with pytest.raises(ProviderError) as raised:
                await provider.send(EMAIL)
            assert raised.value.name == "smtp"
            assert_no_secret(raised.value)
        assert server.deliveries == []


async def test_mock_writes_its_outbox_and_reports_a_failing_one(tmp_path: Path) -> None:
    provider = MockEmailProvider(SENDER, outbox=str(tmp_path / "outbox"))
    message_id = await provider.send(EMAIL)
    eml = (tmp_path / "outbox" / f"{message_id}.eml").read_bytes()
    assert_delivered(from_mime(eml, message_id), EMAIL, message_id)

    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    with pytest.raises(ProviderError, match="mock could not write its outbox") as raised:
        await MockEmailProvider(SENDER, outbox=str(blocked / "outbox")).send(EMAIL)
    assert raised.value.name == "mock"
