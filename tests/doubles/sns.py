"""Amazon SNS as an HTTP(S) subscriber sees it: signed messages and an https certificate host.

``SnsDouble`` serves its signing certificate (issued by the tests' own CA) and the
``SubscribeURL`` confirmation over local HTTPS, counting each request. ``sign`` signs a
message the way AWS documents ("Verifying the signatures of Amazon SNS messages"), written
here independently of the service's own code so that a mistake there is not mirrored.
"""

from __future__ import annotations

import base64
import datetime
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.doubles.http import ServerThread
from tests.doubles.tls import Certificates

TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-notifications"
CERT_PATH = "/SimpleNotificationService-0000000000000000000000.pem"


class SnsDouble(ServerThread):
    """An https server on 127.0.0.1 holding an SNS-style RSA signing certificate."""

    def __init__(self, certificates: Certificates) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        certificate = certificates.issue("sns.amazonaws.com", self.key, datetime.timedelta(days=1))
        self.pem = certificate.public_bytes(serialization.Encoding.PEM)
        self.requests: Counter[str] = Counter()
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                double.requests[path] += 1
                if path == CERT_PATH:
                    self._answer(200, double.pem, "application/x-x509-ca-cert")
                elif path == "/" and "Action=ConfirmSubscription" in self.path:
                    double.requests["confirm"] += 1
                    self._answer(200, b"<ConfirmSubscriptionResponse/>", "text/xml")
                else:
                    self._answer(404, b"not found", "text/plain")

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(Handler, scheme="https")
        context = certificates.server_context()
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.cert_url = self.url + CERT_PATH

    @property
    def downloads(self) -> int:
        return self.requests[CERT_PATH]

    def notification(
        self,
        message: str,
        *,
        version: str = "1",
        topic: str = TOPIC,
        subject: str | None = None,
        timestamp: datetime.datetime | None = None,
        cert_url: str | None = None,
    ) -> dict[str, Any]:
        """A signed ``Notification`` carrying ``message``."""
        fields = {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": topic,
            "Message": message,
            "Timestamp": _iso(timestamp),
            "SignatureVersion": version,
            "SigningCertURL": cert_url or self.cert_url,
            "UnsubscribeURL": f"{self.url}/?Action=Unsubscribe&SubscriptionArn={topic}:1",
        }
        if subject is not None:
            fields["Subject"] = subject
        return self.sign(fields)

    def confirmation(
        self, topic: str = TOPIC, kind: str = "SubscriptionConfirmation"
    ) -> dict[str, Any]:
        """A signed ``SubscriptionConfirmation`` (or ``UnsubscribeConfirmation``)."""
        token = uuid.uuid4().hex * 2
        return self.sign(
            {
                "Type": kind,
                "MessageId": str(uuid.uuid4()),
                "Token": token,
                "TopicArn": topic,
                "Message": f"You have chosen to subscribe to the topic {topic}.\n"
                "To confirm the subscription, visit the SubscribeURL included in this message.",
                "SubscribeURL": f"{self.url}/?Action=ConfirmSubscription&TopicArn={topic}"
                f"&Token={token}",
                "Timestamp": _iso(None),
                "SignatureVersion": "2",
                "SigningCertURL": self.cert_url,
            }
        )

    def sign(self, fields: dict[str, Any], key: rsa.RSAPrivateKey | None = None) -> dict[str, Any]:
        """``fields`` plus a ``Signature`` over AWS's string to sign, by ``key`` (ours)."""
        if fields["Type"] == "Notification":
            names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
        else:
            names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn"]
            names.append("Type")
        text = "".join(f"{name}\n{fields[name]}\n" for name in names if name in fields)
        digest = hashes.SHA1() if fields["SignatureVersion"] == "1" else hashes.SHA256()
        signature = (key or self.key).sign(text.encode("utf-8"), padding.PKCS1v15(), digest)
        return {**fields, "Signature": base64.b64encode(signature).decode("ascii")}


def _iso(moment: datetime.datetime | None) -> str:
    moment = moment or datetime.datetime.now(datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
