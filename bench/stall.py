"""How long `/__lbheartbeat__` waits while one heavy `POST /send` is in progress.

Starts `fxa-email-service serve` (env test, SQLite stores, mock provider), then for each
heavy request (a 1 MiB body, 50 headers of 998 non-ASCII characters, a subject of 998, an
invalid request of 1 MiB) sends it again and again on one connection while another polls
`/__lbheartbeat__`, and prints the heartbeat's median and worst latency beside its latency
with no /send running (the baseline, same run). A benchmark: it prints, never asserts.

    python bench/stall.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import free_port, wait_until_listening  # noqa: E402

BASE = {"to": "stall@example.com", "subject": "s", "body": {"text": "t"}}
HEAVY = {
    "1 MiB body": {**BASE, "body": {"text": "\u00fc" * 500_000}},
    "50 headers of 998": {**BASE, "headers": {f"X-H{i}": "\u00fc" * 998 for i in range(50)}},
    "subject of 998": {**BASE, "subject": "\u00fc" * 998},
    "invalid 1 MiB": {**BASE, "to": "not an address", "body": {"text": "x" * 1_000_000}},
}


def heartbeat_latencies(url: str, seconds: float) -> list[float]:
    latencies = []
    with httpx.Client(base_url=url, timeout=30) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            start = time.perf_counter()
            client.get("/__lbheartbeat__")
            latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def _load(url: str, raw: bytes, stop: threading.Event, sent: list[int]) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set():
            client.post("/send", content=raw, headers={"Content-Type": "application/json"})
            sent[0] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {**os.environ, "FXA_EMAIL_ENV": "test", "FXA_EMAIL_PORT": str(port)}
        binary = Path(sys.executable).with_name("fxa-email-service")
        server = subprocess.Popen(
            [str(binary), "serve"], cwd=tmp, env=env, stderr=subprocess.DEVNULL
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_listening(port, server, timeout=30)
            rows = [("nothing else", heartbeat_latencies(url, args.seconds), 0)]
            for name, body in HEAVY.items():
                raw = json.dumps(body, ensure_ascii=False).encode()
                stop = threading.Event()
                sent = [0]
                thread = threading.Thread(target=_load, args=(url, raw, stop, sent))
                thread.start()
                try:
                    rows.append((name, heartbeat_latencies(url, args.seconds), 0))
                finally:
                    stop.set()
                    thread.join()
                rows[-1] = (name, rows[-1][1], sent[0])
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"GET /__lbheartbeat__ while one client repeats a heavy POST /send ({args.seconds}s each)"
    )
    for name, latencies, sends in rows:
        print(
            f"  {name:20} heartbeat p50 {statistics.median(latencies):6.2f} ms   "
            f"max {max(latencies):7.2f} ms   ({len(latencies)} heartbeats, {sends} sends)"
        )


if __name__ == "__main__":
    main()
