"""Kill and restart a private Redis under load: 117 during the gap, 200 after, no restart.

Starts its own redis-server on a free port (never the shared one) and one
`fxa-email-service serve` with both stores on it, drives `POST /send` from concurrent
clients for three phases (before, gap with Redis killed, after Redis restarted on the same
port) and prints the answers per phase. A manual check: it prints, and exits non-zero only
when the service process itself died.

    python bench/redis_outage.py [--phase 3] [--connections 8]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import free_port, wait_until_listening  # noqa: E402

BODY = {"to": "outage@example.com", "subject": "s", "body": {"text": "t"}, "metadata": "m"}


def start_redis(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
        + ["--save", "", "--appendonly", "no", "--logfile", ""],
        stdout=subprocess.DEVNULL,
    )
    wait_until_listening(port, process, timeout=30)
    return process


async def drive(url: str, connections: int, phase_seconds: float, redis_port: int) -> None:
    counts: dict[str, collections.Counter[str]] = {}
    phase = "before"
    first_200_after: float | None = None
    restarted_at = 0.0
    stop = False

    async def client() -> None:
        nonlocal first_200_after
        async with httpx.AsyncClient(timeout=10) as http:
            while not stop:
                current = phase
                response = await http.post(url, json=BODY)
                if phase != current:  # in flight while Redis went away or came back
                    current = f"{current}->{phase}"
                if response.status_code == 200:
                    answer = "200"
                else:
                    answer = f"{response.status_code} errno {response.json().get('errno')}"
                counts.setdefault(current, collections.Counter())[answer] += 1
                if current == "after" and answer == "200" and first_200_after is None:
                    first_200_after = time.monotonic() - restarted_at

    redis = start_redis(redis_port)
    tasks = [asyncio.create_task(client()) for _ in range(connections)]
    try:
        await asyncio.sleep(phase_seconds)
        redis.kill()
        redis.wait()
        phase = "gap"
        await asyncio.sleep(phase_seconds)
        restarted_at = time.monotonic()
        phase = "after"  # from the moment redis-server is started again
        redis = await asyncio.to_thread(start_redis, redis_port)
        await asyncio.sleep(phase_seconds)
    finally:
        stop = True
        await asyncio.gather(*tasks)
        redis.kill()
        redis.wait()
    for name in ("before", "before->gap", "gap", "gap->after", "after"):
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(counts.get(name, {}).items()))
        if answers:
            print(f"  {name:11} {answers}")
    if first_200_after is not None:
        print(f"  first 200 after the restart: {first_200_after * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", type=float, default=3, help="seconds per phase")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fxa-outage-"))
    redis_port, service_port = free_port(), free_port()
    env = {
        **os.environ,
        "FXA_EMAIL_ENV": "test",
        "FXA_EMAIL_HMACKEY": "bench key",
        "FXA_EMAIL_DELIVERYPROBLEMS_BACKEND": "redis",
        "FXA_EMAIL_MESSAGEDATA_BACKEND": "redis",
        "FXA_EMAIL_REDIS_PORT": str(redis_port),
        "FXA_EMAIL_REDIS_TIMEOUT": "1",
    }
    service = subprocess.Popen(
        [str(Path(sys.executable).parent / "fxa-email-service"), "serve"]
        + ["--port", str(service_port)],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(work / "service.log").open("w"),
    )
    try:
        wait_until_listening(service_port, service, timeout=30)
        print(
            f"POST /send, {args.connections} clients, {args.phase:g}s per phase, "
            f"private Redis on port {redis_port}, service pid {service.pid}"
        )
        asyncio.run(
            drive(f"http://127.0.0.1:{service_port}/send", args.connections, args.phase, redis_port)
        )
        alive = service.poll() is None
        print(f"  service pid {service.pid} still running: {alive} (log: {work / 'service.log'})")
    finally:
        service.terminate()
        service.wait(timeout=30)
    if not alive:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
