"""Drive `POST /send` with wrk, beside a bare Starlette JSON endpoint in the same run.

Both servers run as one uvicorn worker each (uvloop + httptools, access log off); wrk drives
each with the same connections for the same time, alternating, and the script prints
throughput, p50/p99 latency and the ratio service/bare. A benchmark: it prints, never asserts.

    python bench/send.py [--duration 10] [--connections 16] [--runs 3] [--provider mock]

The service reads its configuration as usual, so FXA_EMAIL_* variables in the environment
choose stores and providers (e.g. FXA_EMAIL_DELIVERYPROBLEMS_BACKEND=redis). By default it
runs in env `test` (no .eml files) with SQLite stores in a temporary folder. Needs `wrk`
(Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import free_port, wait_until_listening  # noqa: E402

BODY = {
    "to": "bench.recipient@example.com",
    "cc": ["bench.cc@example.com"],
    "subject": "Verify your account, please",
    "body": {"text": "Hello! Click the link to verify: https://example.com/v?code=12345"},
    "headers": {"X-Template-Name": "verifyEmail"},
    "metadata": '{"flowId":"0123456789abcdef","deviceId":"fedcba9876543210"}',
}
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[%s]]
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def wrk(url: str, script: Path, connections: int, duration: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    requests, duration_us, p50, p99, bad_status, socket_errors = map(int, line.split()[1:])
    return {
        "rps": requests / (duration_us / 1e6),
        "p50_ms": p50 / 1000,
        "p99_ms": p99 / 1000,
        "non2xx": bad_status,
        "socket_errors": socket_errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3, help="alternating runs per target")
    parser.add_argument("--provider", default="mock", help="provider named in each request")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    work = Path(tempfile.mkdtemp(prefix="fxa-bench-"))
    script = work / "post.lua"
    script.write_text(LUA % json.dumps({**BODY, "provider": args.provider}))
    bin_dir = Path(sys.executable).parent
    env = {
        "FXA_EMAIL_ENV": "test",
        "FXA_EMAIL_HMACKEY": "bench key",
        "FXA_EMAIL_SQLITE_PATH": str(work / "bench.sqlite3"),
        **{k: v for k, v in os.environ.items()},
    }
    service_port, bare_port = free_port(), free_port()
    servers = {
        "service": subprocess.Popen(
            [str(bin_dir / "fxa-email-service"), "serve", "--port", str(service_port)],
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(work / "service.log").open("w"),
        ),
        "bare": subprocess.Popen(
            [str(bin_dir / "uvicorn"), "bench.bare_app:app", "--port", str(bare_port)]
            + ["--no-access-log", "--log-level", "warning"],
            cwd=ROOT,
            env=env,
        ),
    }
    ports = {"service": service_port, "bare": bare_port}
    try:
        for name, process in servers.items():
            wait_until_listening(ports[name], process, timeout=30)
        results: dict[str, list[dict[str, float]]] = {"bare": [], "service": []}
        for name in results:  # warm-up, not counted
            wrk(f"http://127.0.0.1:{ports[name]}/send", script, args.connections, 2)
        for _ in range(args.runs):
            for name in results:
                url = f"http://127.0.0.1:{ports[name]}/send"
                results[name].append(wrk(url, script, args.connections, args.duration))
    finally:
        for process in servers.values():
            process.terminate()
            process.wait(timeout=30)

    print(
        f"POST /send, {args.connections} connections, {args.runs} x {args.duration}s per target, "
        f"provider={args.provider}, stores: deliveryproblems="
        f"{env.get('FXA_EMAIL_DELIVERYPROBLEMS_BACKEND', 'sqlite')} messagedata="
        f"{env.get('FXA_EMAIL_MESSAGEDATA_BACKEND', 'sqlite')} (medians)"
    )
    medians = {}
    for name, runs in results.items():
        medians[name] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        m = medians[name]
        print(
            f"  {name:8} {m['rps']:9.0f} req/s   p50 {m['p50_ms']:6.2f} ms   "
            f"p99 {m['p99_ms']:6.2f} ms   non-2xx {m['non2xx']:.0f}   "
            f"socket errors {m['socket_errors']:.0f}"
        )
    ratio = medians["service"]["rps"] / medians["bare"]["rps"]
    print(f"  ratio service/bare throughput: {ratio:.2f}x")


if __name__ == "__main__":
    main()
