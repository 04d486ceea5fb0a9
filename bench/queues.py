"""Time the notification worker draining N SES notifications, beside a bare boto3 loop.

Starts its own moto server, pre-loads N notifications (SNS-enveloped bounces, complaints and
deliveries; default 100: moto slows down as a queue gets deeper) and times, alternating, on
the same depth in the same run, the same SQS work per batch:
  - worker: the real container and adapters (SQLite or memory stores): receive (10), parse,
            record, read metadata, send_message_batch of the outgoing notifications,
            delete_message_batch;
  - bare:   boto3 receive_message (10), send_message_batch of the bodies to the outgoing
            queue, delete_message_batch, until all are gone; no parsing, no stores.
Prints the median rates and the ratio worker / bare (the goal is at least 0.9x).
A benchmark: it prints, never asserts.

    python bench/queues.py [--messages 100] [--runs 5] [--store sqlite|memory] [--concurrency 10]
                           [--warmup 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.container import build_container  # noqa: E402
from config.settings import load_settings  # noqa: E402
from entrypoints.worker import Worker  # noqa: E402
from tests.fixtures import ses  # noqa: E402
from tests.servers import MotoServer, moto_server  # noqa: E402

KINDS = ("bounce-permanent", "complaint", "delivery")


def notification(i: int) -> str:
    doc = ses.load(KINDS[i % len(KINDS)])
    doc["mail"]["messageId"] = f"bench-{uuid.uuid4()}"
    for part in ("bounce", "complaint"):
        if part in doc:
            doc[part]["feedbackId"] = f"bench-feedback-{uuid.uuid4()}"
            key = "bouncedRecipients" if part == "bounce" else "complainedRecipients"
            doc[part][key] = [{"emailAddress": f"bench.{i}@example.com"}]
    return json.dumps(ses.sns_envelope(doc))


def queues(moto: MotoServer) -> tuple[str, str]:
    """Fresh, empty incoming and outgoing queues."""
    sqs = moto.client("sqs")
    suffix = uuid.uuid4().hex[:8]
    incoming = sqs.create_queue(QueueName=f"in-{suffix}")["QueueUrl"]
    outgoing = sqs.create_queue(QueueName=f"out-{suffix}")["QueueUrl"]
    return incoming, outgoing


def fill(moto: MotoServer, incoming: str, count: int) -> None:
    """Put ``count`` notifications on ``incoming``, ten per batch call."""
    sqs = moto.client("sqs")
    for start in range(0, count, 10):
        entries = [
            {"Id": str(i), "MessageBody": notification(i)}
            for i in range(start, min(count, start + 10))
        ]
        sqs.send_message_batch(QueueUrl=incoming, Entries=entries)


def time_worker(
    moto: MotoServer, count: int, store: str, concurrency: int, tmp: Path, warmup: int
) -> float:
    """Seconds the worker takes to drain ``count`` messages, once warm.

    The same container first drains ``warmup`` messages, untimed: a running worker has made
    its clients, loaded botocore's models and opened its stores long before.
    """
    incoming, outgoing = queues(moto)
    settings = load_settings(
        env="test",
        hmackey="bench key",
        deliveryproblems={"backend": store},
        messagedata={"backend": store},
        sqlite={"path": str(tmp / f"{uuid.uuid4().hex}.sqlite3")},
        aws={
            "region": "us-east-1",
            "keys": {"access": "testing", "secret": "testing"},
            "sqsurls": {"bounce": incoming, "notification": outgoing},
        },
        worker={"waitseconds": 1, "concurrency": concurrency},
    )
    container = build_container(settings)

    async def drain(n: int) -> float:
        work = Worker(
            container.notification_sources(), container.handle_delivery_event(), concurrency
        )
        stop = anyio.Event()
        async with anyio.create_task_group() as group:
            started = time.perf_counter()
            group.start_soon(work.run, stop)
            while work.counts.processed < n:
                await anyio.sleep(0.002)
            elapsed = time.perf_counter() - started
            stop.set()
        if work.counts.failed or work.counts.unparseable:
            print(f"  warning: {work.counts}", file=sys.stderr)
        return elapsed

    async def run() -> float:
        fill(moto, incoming, warmup)
        await drain(warmup)
        # The stopped worker abandoned a long poll (waitseconds 1): let it end empty, or it
        # would hide some of the timed messages for the visibility timeout.
        await anyio.sleep(1.5)
        moto.drain(outgoing)
        fill(moto, incoming, count)
        return await drain(count)

    return anyio.run(run)


def time_bare(moto: MotoServer, count: int, warmup: int) -> float:
    """Seconds a bare boto3 loop takes for the same SQS work, after the same warm-up."""
    incoming, outgoing = queues(moto)
    sqs = moto.client("sqs")

    def drain(n: int) -> float:
        deleted = 0
        started = time.perf_counter()
        while deleted < n:
            response: dict[str, Any] = sqs.receive_message(
                QueueUrl=incoming, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            messages = response.get("Messages", [])
            if messages:
                out = [{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(messages)]
                sqs.send_message_batch(QueueUrl=outgoing, Entries=out)
                entries = [
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ]
                result = sqs.delete_message_batch(QueueUrl=incoming, Entries=entries)
                deleted += len(result.get("Successful", []))
        return time.perf_counter() - started

    fill(moto, incoming, warmup)
    drain(warmup)
    moto.drain(outgoing)
    fill(moto, incoming, count)
    return drain(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100, help="queue depth (keep <= 100)")
    parser.add_argument("--runs", type=int, default=5, help="alternating runs per target")
    parser.add_argument("--store", choices=["sqlite", "memory"], default="sqlite")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=20, help="untimed messages first, each")
    args = parser.parse_args()

    rates: dict[str, list[float]] = {"worker": [], "bare": []}
    with moto_server() as moto, tempfile.TemporaryDirectory(prefix="fxa-bench-") as tmp:
        time_bare(moto, 10, 10)  # warm moto up
        for run in range(args.runs):
            for name in rates:
                moto.reset()
                if name == "bare":
                    elapsed = time_bare(moto, args.messages, args.warmup)
                else:
                    elapsed = time_worker(
                        moto, args.messages, args.store, args.concurrency, Path(tmp), args.warmup
                    )
                rates[name].append(args.messages / elapsed)
                print(f"run {run + 1} {name:6} {args.messages / elapsed:8.1f} messages/s")

    worker, bare = statistics.median(rates["worker"]), statistics.median(rates["bare"])
    print(
        f"\n{args.messages} messages, {args.store} stores, concurrency {args.concurrency}, "
        f"median of {args.runs}:"
    )
    print(f"  worker {worker:8.1f} messages/s")
    print(f"  bare   {bare:8.1f} messages/s")
    print(f"  ratio  {worker / bare:8.2f}x (worker / bare; goal >= 0.9x)")
    paired = statistics.median(w / b for w, b in zip(rates["worker"], rates["bare"], strict=True))
    print(f"  paired {paired:8.2f}x (median of each run's ratio: steadier on a noisy machine)")


if __name__ == "__main__":
    main()
