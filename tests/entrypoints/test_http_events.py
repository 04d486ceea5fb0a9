"""POST /events/{sns,sendgrid,socketlabs} through the real app: signed posts, memory stores,
the outgoing queue on moto's SQS, SNS certificates over local HTTPS."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from dependency_injector import providers

from config.container import Container, shutdown
from domain.errors import StoreError
from domain.model import DeliveryProblem, ProblemSubtype, ProblemType
from domain.reliers import hash_key
from tests.doubles.sendgrid import SendgridDouble, SendgridEventSigner
from tests.doubles.sns import TOPIC, SnsDouble
from tests.doubles.tls import Certificates
from tests.fixtures import auth_server, sendgrid, socketlabs
from tests.fixtures.ses import load
from tests.http_app import client_for, make_container
from tests.servers import MotoServer

SENDGRID_KEY = "SG.test-key"
SOCKETLABS = {"secretkey": "ABC123", "validationkey": "validation-key-1", "serverid": 12345}
SG_MESSAGE = "W4L3LmwcT_usGk84Vp6b3A"  # sg_message_id of the fixtures, up to its first "."


@pytest.fixture(scope="module")
def signer() -> SendgridEventSigner:
    return SendgridEventSigner()


@pytest.fixture
def sendgrid_api() -> Iterator[SendgridDouble]:
    with SendgridDouble(SENDGRID_KEY) as double:
        yield double


@pytest.fixture
def outgoing(moto: MotoServer) -> str:
    client = moto.client("sqs")
    return str(client.create_queue(QueueName=f"notifications-{uuid.uuid4().hex}")["QueueUrl"])


class Service:
    def __init__(
        self, container: Container, client: httpx.AsyncClient, moto: MotoServer, queue: str
    ):
        self.container = container
        self.client = client
        self.moto = moto
        self.queue = queue

    async def problems(self, address: str = "example@test.com") -> Sequence[DeliveryProblem]:
        problems: Sequence[DeliveryProblem]
        problems = await self.container.delivery_problems().fetch(address)
        return problems

    def forwarded(self) -> list[auth_server.Read]:
        return [auth_server.read(body) for body in self.moto.drain(self.queue)]

    async def sendgrid(
        self, signer: SendgridEventSigner, events: list[dict[str, Any]], **overrides: Any
    ) -> httpx.Response:
        body = json.dumps(events).encode()
        headers = {**signer.headers(body), **overrides}
        return await self.client.post("/events/sendgrid", content=body, headers=headers)

    async def sns(self, message: dict[str, Any]) -> httpx.Response:
        # SNS posts JSON as text/plain.
        headers = {"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "x"}
        return await self.client.post("/events/sns", content=json.dumps(message), headers=headers)

    async def socketlabs(self, fields: dict[str, Any]) -> httpx.Response:
        return await self.client.post("/events/socketlabs", json=fields)


@asynccontextmanager
async def service(
    moto: MotoServer,
    queue: str,
    certificates: Certificates,
    signer: SendgridEventSigner,
    *,
    sendgrid_url: str = "http://127.0.0.1:9",
    problems: object | None = None,
    **overrides: dict[str, Any],
) -> AsyncIterator[Service]:
    settings: dict[str, Any] = {
        "aws": {
            "region": "us-east-1",
            "keys": {"access": "testing", "secret": "testing"},
            "sqsurls": {"notification": queue},
        },
        "sns": {"certhost": "127.0.0.1", "topics": [TOPIC], "cafile": certificates.cafile},
        "sendgrid": {"key": SENDGRID_KEY, "baseuri": sendgrid_url, "webhookkey": signer.public_key},
        "socketlabs": SOCKETLABS,
        **overrides,
    }
    container = make_container(**settings)
    if problems is not None:
        container.delivery_problems.override(providers.Object(problems))
    try:
        async with client_for(container) as client:
            yield Service(container, client, moto, queue)
    finally:
        await shutdown(container)  # the app's lifespan does it when served


@pytest.fixture
async def app(
    moto: MotoServer, outgoing: str, certificates: Certificates, signer: SendgridEventSigner
) -> AsyncIterator[Service]:
    async with service(moto, outgoing, certificates, signer) as running:
        yield running


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert (body["code"], body["errno"]) == (403, 128)
    assert body["message"] == "the event does not verify"  # the reason is for the log only


# --- SNS -----------------------------------------------------------------------------------


async def test_a_signed_sns_bounce_is_recorded_and_forwarded(app: Service, sns: SnsDouble) -> None:
    ses = load("bounce-permanent")
    await app.container.message_data().put(ses["mail"]["messageId"], "relier data")
    response = await app.sns(sns.notification(json.dumps(ses), version="2"))
    assert response.status_code == 200, response.text
    problems = await app.problems("jane@example.com")
    assert [(p.type, p.subtype) for p in problems] == [
        (ProblemType.HARD_BOUNCE, ProblemSubtype.GENERAL)
    ]
    [read] = app.forwarded()
    assert (read.notification_type, read.message_id) == ("Bounce", ses["mail"]["messageId"])
    assert read.metadata == "relier data"
    assert "jane@example.com" in read.addresses


@pytest.mark.parametrize(
    "forgery",
    ["tampered", "other key", "expired", "foreign host", "http", "unknown topic", "FORGED"],
)
async def test_an_sns_message_that_does_not_verify_changes_nothing(
    app: Service, sns: SnsDouble, forgery: str
) -> None:
    ses = json.dumps(load("bounce-permanent"))
    message = sns.notification(ses)
    if forgery == "tampered":
        message["Message"] = ses.replace("jane@example.com", "victim@example.com")
    elif forgery == "other key":
        del message["Signature"]
        message = sns.sign(message, key=rsa.generate_private_key(65537, 2048))
    elif forgery == "expired":
        old = time.time() - 3601
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(old))
        message = sns.sign(
            {**{k: v for k, v in message.items() if k != "Signature"}, "Timestamp": stamp}
        )
    elif forgery == "foreign host":
        message = sns.notification(ses, cert_url=sns.cert_url.replace("127.0.0.1", "localhost"))
    elif forgery == "http":
        message = sns.notification(ses, cert_url=sns.cert_url.replace("https:", "http:"))
    elif forgery == "unknown topic":
        message = sns.notification(ses, topic="arn:aws:sns:us-east-1:999999999999:other")
    else:
        message["Signature"] = "FORGED"
    assert_refused(await app.sns(message))
    assert await app.problems("jane@example.com") == []
    assert await app.problems("victim@example.com") == []
    assert app.forwarded() == []


async def test_a_subscription_is_confirmed_only_for_a_configured_topic(
    app: Service, sns: SnsDouble
) -> None:
    assert_refused(await app.sns(sns.confirmation(topic="arn:aws:sns:us-east-1:9:other")))
    assert sns.requests["confirm"] == 0
    response = await app.sns(sns.confirmation())
    assert response.status_code == 200, response.text
    assert sns.requests["confirm"] == 1
    response = await app.sns(sns.confirmation(kind="UnsubscribeConfirmation"))
    assert response.status_code == 200
    assert sns.requests["confirm"] == 1


async def test_a_confirmation_sns_refuses_answers_500_so_sns_sends_it_again(
    app: Service, sns: SnsDouble
) -> None:
    confirmation = sns.confirmation()
    del confirmation["Signature"]
    confirmation["SubscribeURL"] = confirmation["SubscribeURL"].replace("/?", "/gone?")
    response = await app.sns(sns.sign(confirmation))
    assert (response.status_code, response.json()["errno"]) == (500, 100)
    assert response.json()["message"] == "the subscription could not be confirmed"
    assert sns.requests["/gone"] == 1


async def test_a_verified_sns_message_that_is_no_ses_event_answers_200(
    app: Service, sns: SnsDouble
) -> None:
    for text in ("not json", json.dumps({"notificationType": "AmazonSnsSubscriptionSucceeded"})):
        response = await app.sns(sns.notification(text))
        assert response.status_code == 200, response.text
    assert app.forwarded() == []


async def test_sns_without_topics_refuses_everything(
    moto: MotoServer,
    outgoing: str,
    certificates: Certificates,
    signer: SendgridEventSigner,
    sns: SnsDouble,
) -> None:
    async with service(moto, outgoing, certificates, signer, sns={}) as app:
        assert_refused(await app.sns(sns.notification(json.dumps(load("bounce-permanent")))))
        assert sns.downloads == 0


async def test_a_body_that_is_no_json_object_is_refused(app: Service) -> None:
    for body in (b"", b"[]", b"\xff", b"{"):
        response = await app.client.post("/events/sns", content=body)
        assert_refused(response)


# --- Sendgrid ------------------------------------------------------------------------------


async def test_signed_sendgrid_events_are_recorded_and_forwarded_with_metadata(
    app: Service, signer: SendgridEventSigner
) -> None:
    await app.container.message_data().put(SG_MESSAGE, "relier data")
    events = [{**event, "timestamp": int(time.time())} for event in sendgrid.events()]
    response = await app.sendgrid(signer, events)
    assert response.status_code == 200, response.text
    recorded = {(p.type, p.subtype) for p in await app.problems()}
    assert recorded == {
        (ProblemType.HARD_BOUNCE, ProblemSubtype.NO_EMAIL),  # bounce, Invalid Address
        (ProblemType.SOFT_BOUNCE, ProblemSubtype.GENERAL),  # blocked
        (ProblemType.HARD_BOUNCE, ProblemSubtype.SUPPRESSED),  # dropped: Bounced Address
        (ProblemType.COMPLAINT, ProblemSubtype.ABUSE),  # spamreport
    }
    reads = app.forwarded()
    kinds = sorted(read.notification_type for read in reads)
    assert kinds == ["Bounce", "Bounce", "Bounce", "Complaint", "Delivery"]
    assert {read.message_id for read in reads} == {SG_MESSAGE}
    assert {read.metadata for read in reads} == {"relier data"}
    assert {read.addresses for read in reads} == {("example@test.com",)}


async def test_a_replayed_sendgrid_post_records_once(
    app: Service, signer: SendgridEventSigner
) -> None:
    events = [{**sendgrid.event("bounce", "bounce"), "timestamp": int(time.time())}]
    body = json.dumps(events).encode()
    headers = signer.headers(body)
    for _ in range(2):
        response = await app.client.post("/events/sendgrid", content=body, headers=headers)
        assert response.status_code == 200
    assert len(await app.problems()) == 1


@pytest.mark.parametrize("forgery", ["tampered", "other key", "expired", "no signature"])
async def test_a_sendgrid_post_that_does_not_verify_changes_nothing(
    app: Service, signer: SendgridEventSigner, forgery: str
) -> None:
    body = json.dumps([sendgrid.event("bounce", "bounce")]).encode()
    headers = signer.headers(body)
    if forgery == "tampered":
        body = body.replace(b"example@test.com", b"victim@test.com")
    elif forgery == "other key":
        headers = SendgridEventSigner().headers(body)
    elif forgery == "expired":
        headers = signer.headers(body, int(time.time()) - 601)
    else:
        del headers["X-Twilio-Email-Event-Webhook-Signature"]
    response = await app.client.post("/events/sendgrid", content=body, headers=headers)
    assert_refused(response)
    assert await app.problems() == []
    assert await app.problems("victim@test.com") == []
    assert app.forwarded() == []


async def test_verified_sendgrid_posts_that_map_to_nothing_answer_200(
    app: Service, signer: SendgridEventSigner
) -> None:
    for events in ([sendgrid.event("open"), sendgrid.event("processed")], [], [1, "x"]):
        response = await app.sendgrid(signer, events)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
    body = b'{"not": "an array"}'
    response = await app.client.post("/events/sendgrid", content=body, headers=signer.headers(body))
    assert response.status_code == 200
    assert await app.problems() == []
    assert app.forwarded() == []


async def test_sendgrid_without_a_webhook_key_refuses_everything(
    moto: MotoServer, outgoing: str, certificates: Certificates, signer: SendgridEventSigner
) -> None:
    sendgrid_settings = {"key": SENDGRID_KEY}
    async with service(moto, outgoing, certificates, signer, sendgrid=sendgrid_settings) as app:
        assert_refused(await app.sendgrid(signer, [sendgrid.event("bounce", "bounce")]))


async def test_event_bodies_are_bounded_as_sends_are(
    moto: MotoServer, outgoing: str, certificates: Certificates, signer: SendgridEventSigner
) -> None:
    async with service(moto, outgoing, certificates, signer, limits={"maxbody": 2000}) as app:
        events = [sendgrid.event("bounce", "bounce")] * 10
        response = await app.sendgrid(signer, events)
        assert (response.status_code, response.json()["errno"]) == (413, 121)
        for path in ("/events/sns", "/events/socketlabs"):
            response = await app.client.post(path, content=b"x" * 2001)
            assert (response.status_code, response.json()["errno"]) == (413, 121)
        assert await app.problems() == []


class BrokenStore:
    async def fetch(self, address: str) -> Sequence[DeliveryProblem]:
        raise StoreError("redis down")

    async def record(self, problem: DeliveryProblem) -> bool:
        raise StoreError("redis down")


async def test_a_store_failure_answers_500_so_the_provider_retries(
    moto: MotoServer,
    outgoing: str,
    certificates: Certificates,
    signer: SendgridEventSigner,
    sns: SnsDouble,
) -> None:
    async with service(moto, outgoing, certificates, signer, problems=BrokenStore()) as app:
        response = await app.sendgrid(signer, [sendgrid.event("bounce", "bounce")])
        assert (response.status_code, response.json()["errno"]) == (500, 117)
        response = await app.sns(sns.notification(json.dumps(load("bounce-permanent"))))
        assert (response.status_code, response.json()["errno"]) == (500, 117)
        response = await app.socketlabs(socketlabs.load("failed"))
        assert (response.status_code, response.json()["errno"]) == (500, 117)
        assert app.forwarded() == []


# --- SocketLabs ----------------------------------------------------------------------------


async def test_the_socketlabs_validation_request_is_answered_with_the_validation_key(
    app: Service,
) -> None:
    response = await app.socketlabs(socketlabs.load("validation"))
    assert response.status_code == 200
    assert "validation-key-1" in response.text
    form = urlencode(socketlabs.load("validation")).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = await app.client.post("/events/socketlabs", content=form, headers=headers)
    assert (response.status_code, response.text) == (200, "validation-key-1")


async def test_socketlabs_events_are_recorded_and_forwarded(app: Service) -> None:
    await app.container.message_data().put("1209957964", "relier data")
    now = time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime())
    for name in ("failed", "complaint", "delivered"):
        response = await app.socketlabs({**socketlabs.load(name), "DateTime": now})
        assert (response.status_code, response.text) == (200, "validation-key-1")
    recorded = {(p.type, p.subtype) for p in await app.problems("example@example.com")}
    assert recorded == {
        (ProblemType.HARD_BOUNCE, ProblemSubtype.NO_EMAIL),
        (ProblemType.COMPLAINT, ProblemSubtype.ABUSE),
    }
    reads = app.forwarded()
    assert sorted(r.notification_type for r in reads) == ["Bounce", "Complaint", "Delivery"]
    assert {(r.message_id, r.metadata) for r in reads} == {("1209957964", "relier data")}


async def test_a_repeated_socketlabs_post_records_once(app: Service) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime())
    for _ in range(2):
        response = await app.socketlabs({**socketlabs.load("failed"), "DateTime": now})
        assert response.status_code == 200
    assert len(await app.problems("example@example.com")) == 1


@pytest.mark.parametrize("secret", [None, "", "ABC12", "abc123"])
async def test_a_socketlabs_post_with_a_wrong_secret_changes_nothing(
    app: Service, secret: str | None
) -> None:
    fields = socketlabs.load("failed")
    fields["SecretKey"] = secret
    response = await app.socketlabs(fields)
    assert_refused(response)
    assert "validation-key-1" not in response.text
    assert await app.problems("example@example.com") == []
    assert app.forwarded() == []


# --- end to end ----------------------------------------------------------------------------


async def test_a_signed_sendgrid_bounce_blocks_the_address_and_reaches_the_relier(
    moto: MotoServer,
    outgoing: str,
    certificates: Certificates,
    signer: SendgridEventSigner,
    sendgrid_api: SendgridDouble,
) -> None:
    async with service(moto, outgoing, certificates, signer, sendgrid_url=sendgrid_api.url) as app:
        request = {
            "to": "bounces@example.com",
            "subject": "Verify your account",
            "body": {"text": "hello"},
            "headers": {"X-Template-Name": "verify", "X-Uid": "f00"},
            "provider": "sendgrid",
            "metadata": "relier metadata",
        }
        response = await app.client.post("/send", json=request)
        assert response.status_code == 200, response.text
        provider, message_id = response.json()["messageId"].split(":", 1)
        assert provider == "sendgrid" and message_id in sendgrid_api.accepted

        bounce = {
            "email": "bounces@example.com",
            "timestamp": int(time.time()),
            "event": "bounce",
            "type": "bounce",
            "status": "5.1.1",
            "reason": "550 5.1.1 user unknown",
            "sg_event_id": "e2e-bounce-1",
            "sg_message_id": f"{message_id}.filter0001.16648.5515E0B88.0",
        }
        response = await app.sendgrid(signer, [bounce])
        assert response.status_code == 200, response.text

        response = await app.client.post("/send", json=request)
        assert response.status_code == 429, response.text
        assert response.json()["errno"] == 108

        [body] = app.moto.drain(app.queue)
        assert json.loads(json.loads(body)["Message"])["mail"]["source"] == "accounts@example.com"
        read = auth_server.read(body)
        assert read.notification_type == "Bounce"
        assert read.message_id == message_id
        assert read.addresses == ("bounces@example.com",)
        assert read.metadata == "relier metadata"


async def test_an_authenticated_send_forwards_its_notifications_with_the_relier_id(
    moto: MotoServer,
    outgoing: str,
    certificates: Certificates,
    signer: SendgridEventSigner,
    sendgrid_api: SendgridDouble,
) -> None:
    key = "relier-key-1"
    auth = {"required": True, "reliers": [{"id": "fxa-auth", "keyhash": hash_key(key)}]}
    async with service(
        moto,
        outgoing,
        certificates,
        signer,
        sendgrid_url=sendgrid_api.url,
        auth=auth,
        ratelimits={"enabled": False},
    ) as app:
        request = {
            "to": "someone@example.com",
            "subject": "s",
            "body": {"text": "t"},
            "provider": "sendgrid",
        }  # no metadata: the relier id alone is stored
        headers = {"Authorization": f"Bearer {key}"}
        response = await app.client.post("/send", json=request, headers=headers)
        assert response.status_code == 200, response.text
        message_id = response.json()["messageId"].split(":", 1)[1]

        delivered = {
            "email": "someone@example.com",
            "timestamp": int(time.time()),
            "event": "delivered",
            "sg_event_id": "relier-delivered-1",
            "sg_message_id": f"{message_id}.filter0001.16648.5515E0B88.0",
        }
        response = await app.sendgrid(signer, [delivered])
        assert response.status_code == 200, response.text

        [body] = app.moto.drain(app.queue)
        notification = json.loads(json.loads(body)["Message"])
        assert notification["relier"] == "fxa-auth"
        assert "metadata" not in notification
        read = auth_server.read(body)
        assert (read.notification_type, read.message_id) == ("Delivery", message_id)
