"""`fxa-email-service serve` taking signed delivery events, configured by environment only.

Sendgrid is the local double, SNS's certificate is served over local HTTPS by the tests' own
CA, the outgoing queue is moto's SQS, the stores are the embedded SQLite.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tests.doubles.sendgrid import SendgridDouble, SendgridEventSigner
from tests.doubles.sns import TOPIC, SnsDouble
from tests.doubles.tls import Certificates
from tests.e2e.service import clean_env, serve
from tests.fixtures import auth_server, ses
from tests.servers import TEST_AWS_ENV, MotoServer

SENDGRID_KEY = "SG.e2e"


def test_signed_events_from_sendgrid_and_sns_block_addresses_and_reach_the_relier(
    moto: MotoServer, tmp_path: Path, sns: SnsDouble, certificates: Certificates
) -> None:
    queue = moto.client("sqs").create_queue(QueueName="notifications")["QueueUrl"]
    signer = SendgridEventSigner()
    with SendgridDouble(SENDGRID_KEY) as sendgrid:
        env = clean_env(
            **TEST_AWS_ENV,
            FXA_EMAIL_ENV="test",
            FXA_EMAIL_HMACKEY="e2e hmac key",
            FXA_EMAIL_SQLITE_PATH=str(tmp_path / "events.sqlite3"),
            FXA_EMAIL_AWS_SQSURLS_NOTIFICATION=queue,
            FXA_EMAIL_SENDGRID_KEY=SENDGRID_KEY,
            FXA_EMAIL_SENDGRID_BASEURI=sendgrid.url,
            FXA_EMAIL_SENDGRID_WEBHOOKKEY=signer.public_key,
            FXA_EMAIL_SNS_TOPICS=json.dumps([TOPIC]),
            FXA_EMAIL_SNS_CERTHOST="127.0.0.1",
            FXA_EMAIL_SNS_CAFILE=certificates.cafile,
            FXA_EMAIL_SOCKETLABS_SECRETKEY="s3cret",
            FXA_EMAIL_SOCKETLABS_VALIDATIONKEY="v4lidation",
        )
        with serve(tmp_path, env) as service:
            request = {
                "to": "gone@example.com",
                "subject": "Hi",
                "body": {"text": "hello"},
                "provider": "sendgrid",
                "metadata": "relier metadata",
            }
            response = httpx.post(f"{service.url}/send", json=request, timeout=10)
            assert response.status_code == 200, response.text
            message_id = response.json()["messageId"].split(":", 1)[1]

            bounce = [
                {
                    "email": "gone@example.com",
                    "timestamp": int(time.time()),
                    "event": "bounce",
                    "type": "bounce",
                    "sg_event_id": "e2e-1",
                    "sg_message_id": f"{message_id}.filterdrecv-1.0",
                }
            ]
            body = json.dumps(bounce).encode()
            url = f"{service.url}/events/sendgrid"
            forged = {**signer.headers(body), "X-Twilio-Email-Event-Webhook-Timestamp": "1"}
            response = httpx.post(url, content=body, headers=forged, timeout=10)
            assert (response.status_code, response.json()["errno"]) == (403, 128)
            response = httpx.post(url, content=body, headers=signer.headers(body), timeout=10)
            assert response.status_code == 200, response.text

            ses_bounce = ses.bounce("Permanent", "General", "ses-gone@example.com")
            ses_bounce["bounce"]["timestamp"] = datetime.now(UTC).isoformat()
            message = sns.notification(json.dumps(ses_bounce), version="2")
            response = httpx.post(f"{service.url}/events/sns", content=json.dumps(message))
            assert response.status_code == 200, response.text

            response = httpx.post(
                f"{service.url}/events/socketlabs",
                json={"Type": "Validation", "SecretKey": "s3cret"},
                timeout=10,
            )
            assert (response.status_code, response.text) == (200, "v4lidation")

            for address in ("gone@example.com", "ses-gone@example.com"):
                response = httpx.post(
                    f"{service.url}/send", json={**request, "to": address}, timeout=10
                )
                assert (response.status_code, response.json().get("errno")) == (429, 108), address
            log = service.output()
            assert service.stop() == 0

    reads = [auth_server.read(body) for body in moto.drain(queue)]
    assert sorted((r.notification_type, r.addresses, r.metadata) for r in reads) == [
        ("Bounce", ("gone@example.com",), "relier metadata"),
        ("Bounce", ("ses-gone@example.com",), None),
    ]
    assert "s3cret" not in log and "v4lidation" not in log
    assert "gone@example.com" not in log
