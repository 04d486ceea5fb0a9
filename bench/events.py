"""Time the event webhooks in process, beside a bare Starlette JSON endpoint in the same run.

Drives each app's ASGI interface in this process (no sockets, so the figures are the
handlers' own cost) with N pre-built requests, alternating between them, and prints the
median time per request and the ratio to the bare endpoint:
  - bare:       a Starlette endpoint that reads and parses the same JSON body;
  - sendgrid:   POST /events/sendgrid, a signed batch of one bounce (ECDSA P-256 verify,
                map, record in the memory store, read metadata);
  - sns:        POST /events/sns, a signed SES bounce (RSA 2048 SHA256 verify with the
                certificate cached after the first request, parse, record);
  - socketlabs: POST /events/socketlabs, a Failed post (secret key, map, record).
No outgoing queue is configured, so nothing is forwarded. A benchmark: it prints, never
asserts.

    python bench/events.py [--requests 2000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bare_app import app as bare_app  # noqa: E402
from config.container import build_container, shutdown  # noqa: E402
from config.settings import load_settings  # noqa: E402
from entrypoints.http import create_app  # noqa: E402
from tests.doubles.sendgrid import SendgridEventSigner  # noqa: E402
from tests.doubles.sns import TOPIC, SnsDouble  # noqa: E402
from tests.doubles.tls import make_certificates  # noqa: E402
from tests.fixtures import ses, socketlabs  # noqa: E402

Request = tuple[str, bytes, dict[str, str]]


def requests(n: int, signer: SendgridEventSigner, sns: SnsDouble) -> dict[str, list[Request]]:
    """``n`` distinct requests per kind, built (and signed) before any timing."""
    built: dict[str, list[Request]] = {k: [] for k in ("bare", "sendgrid", "sns", "socketlabs")}
    now = int(time.time())
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime(now))
    for i in range(n):
        event = {
            "email": f"user{i}@example.com",
            "timestamp": now,
            "event": "bounce",
            "type": "bounce",
            "sg_event_id": f"bench-{i}",
            "sg_message_id": f"message{i}.filterdrecv-1.0",
        }
        body = json.dumps([event]).encode()
        built["bare"].append(("/send", body, {"Content-Type": "application/json"}))
        built["sendgrid"].append(("/events/sendgrid", body, signer.headers(body, now)))
        document = ses.bounce("Permanent", "General", f"user{i}@example.com")
        message = json.dumps(sns.notification(json.dumps(document), version="2")).encode()
        built["sns"].append(("/events/sns", message, {"Content-Type": "text/plain"}))
        post = {**socketlabs.load("failed"), "Address": f"user{i}@example.com", "DateTime": stamp}
        post["MessageId"] = f"message{i}"
        headers = {"Content-Type": "application/json"}
        built["socketlabs"].append(("/events/socketlabs", json.dumps(post).encode(), headers))
    return built


async def drive(app: Any, batch: list[Request]) -> float:
    """Seconds per request over ``batch``; every answer must be a 200."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        started = time.perf_counter()
        for path, body, headers in batch:
            response = await client.post(path, content=body, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code}: {response.text}")
        return (time.perf_counter() - started) / len(batch)


async def main(n: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        certificates = make_certificates(Path(folder))
        signer = SendgridEventSigner()
        with SnsDouble(certificates) as sns:
            built = requests(n, signer, sns)
            times: dict[str, list[float]] = {kind: [] for kind in built}
            for run in range(runs):
                # a fresh service each run: the SNS certificate is downloaded once per run
                container = build_container(
                    load_settings(
                        env="test",
                        hmackey="bench key",
                        deliveryproblems={"backend": "memory"},
                        messagedata={"backend": "memory"},
                        sns={
                            "certhost": "127.0.0.1",
                            "topics": [TOPIC],
                            "cafile": certificates.cafile,
                        },
                        sendgrid={"webhookkey": signer.public_key},
                        socketlabs={"secretkey": "ABC123", "validationkey": "v", "serverid": 12345},
                    )
                )
                app = create_app(container)
                apps: dict[str, Callable[..., Any]] = {"bare": bare_app}
                for kind in built:
                    times[kind].append(await drive(apps.get(kind, app), built[kind]))
                await shutdown(container)
                print(f"run {run + 1}/{runs} done", file=sys.stderr)
    bare = statistics.median(times["bare"])
    print(f"{'kind':<12} {'us/request':>11} {'x bare':>8}")
    for kind, values in times.items():
        median = statistics.median(values)
        print(f"{kind:<12} {median * 1e6:>11.0f} {median / bare:>8.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    anyio.run(main, arguments.requests, arguments.runs)
