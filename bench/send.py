"""Drive `POST /send` with wrk, beside a bare Starlette JSON endpoint in the same run.

Both servers run as one uvicorn worker each (uvloop + httptools, access log off); wrk drives
each with the same connections for the same time, alternating, and the script prints
throughput, p50/p99 latency, each server's resident memory after the load, the CPU time
each server spent per request (user and kernel, all its threads and processes) and the ratio
service/bare. A benchmark: it prints, never asserts.

    python bench/send.py [--duration 10] [--connections 16] [--runs 3] [--provider mock]
    python bench/send.py --against ../base   # a second service from another checkout
    python bench/send.py --workers 2          # the service also as `serve --workers 2`
    python bench/send.py --profile send.prof [--requests 3000]
    python bench/send.py --auth               # the cost of relier keys and rate limits

``--against DIR`` also runs the service from another checkout of the project (e.g.
``git worktree add ../base main``), interleaved with the others in the same run, so a
change is measured against its baseline under the same machine load: its ratio is printed
beside the service's.

``--workers N`` also runs the service as ``serve --workers N``, interleaved with the others,
and prints its scaling factor: its throughput over the one-process service's in the same
run (the load generator shares the machine's cores; RSS is that of all its processes).

``--auth`` runs the service twice, interleaved: once with neither relier keys nor rate
limits, once with ``auth.required`` (each request carries ``Authorization: Bearer``) and
rate limits on, their buckets too large to refuse, so every request still takes its tokens
(the relier's and each recipient's, in the delivery-problem store's backend). It prints
that cost as the ratio auth/noauth (docs/reliers.md).

``--profile`` runs no server: it drives the service's ASGI app in this process (same
settings, same stores) under cProfile, writes the profile to the given file (read it with
``python -m pstats`` or snakeviz) and prints the functions that cost the most.

The service reads its configuration as usual, so FXA_EMAIL_* variables in the environment
choose stores and providers (e.g. FXA_EMAIL_DELIVERYPROBLEMS_BACKEND=redis). By default it
runs in env `test` (no .eml files) with SQLite stores in a temporary folder. Needs `wrk`
(Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, MutableMapping
from pathlib import Path
from typing import Any

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
UNLIMITED = ("relier", "recipient")
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[%s]]
%s
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


def interleave(
    urls: dict[str, str],
    scripts: dict[str, Path],
    default: Path,
    connections: int,
    runs: int,
    duration: int,
    pids: dict[str, int] | None = None,
) -> dict[str, list[dict[str, float]]]:
    """A 2 s warm-up of each target, then ``runs`` rounds of ``duration`` s, one target after
    the other in each round, so every target meets the same machine load. With the targets'
    ``pids``, each run also gives the CPU time its server spent per request (``cpu_us``,
    of which ``sys_us`` in the kernel)."""
    for name, url in urls.items():  # warm-up, not counted
        wrk(url, scripts.get(name, default), connections, 2)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
    for _ in range(runs):
        for name, url in urls.items():
            before = cpu_seconds(pids[name]) if pids else (0.0, 0.0)
            result = wrk(url, scripts.get(name, default), connections, duration)
            if pids:
                after = cpu_seconds(pids[name])
                requests = max(1.0, result["rps"] * duration)
                result["cpu_us"] = (sum(after) - sum(before)) / requests * 1e6
                result["sys_us"] = (after[1] - before[1]) / requests * 1e6
            results[name].append(result)
    return results


def medians(results: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {
        name: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        for name, runs in results.items()
    }


def serve(
    bin_dir: Path, port: int, work: Path, env: dict[str, str], workers: int = 1
) -> subprocess.Popen[bytes]:
    """``fxa-email-service serve`` with a store file of its own under ``work``."""
    work.mkdir()
    return subprocess.Popen(
        [str(bin_dir / "fxa-email-service"), "serve", "--port", str(port)]
        + ["--workers", str(workers)],
        cwd=work,
        env={**env, "FXA_EMAIL_SQLITE_PATH": str(work / "bench.sqlite3")},
        stdout=subprocess.DEVNULL,
        stderr=(work / "service.log").open("wb"),
    )


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, from /proc (Linux)."""
    total = float("nan")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total = int(line.split()[1]) / 1024
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else ():
        total += rss_mb(int(child))
    return total


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process (all its threads) and its children, from
    /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    user, system = int(fields[11]) / tick, int(fields[12]) / tick
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else ():
        more = cpu_seconds(int(child))
        user, system = user + more[0], system + more[1]
    return user, system


def in_process(
    app: Any, body: bytes, statuses: dict[int, int]
) -> Callable[[], Coroutine[Any, Any, None]]:
    """One ``POST /send`` of ``body`` to the ASGI ``app``, in process, without a server;
    each answer's status is counted in ``statuses``."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/send",
        "raw_path": b"/send",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"service"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8001),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses[message["status"]] = statuses.get(message["status"], 0) + 1

    async def one() -> None:
        await app(dict(scope), receive, send)

    return one


def profile(env: dict[str, str], body: bytes, requests: int, out: Path) -> None:
    """Drive the app's ASGI callable in process, without a server, under cProfile."""
    import pstats

    import uvloop

    os.environ.update(env)
    from config.container import build_container
    from config.settings import load_settings
    from entrypoints.http import create_app

    app = create_app(build_container(load_settings()))
    statuses: dict[int, int] = {}
    one = in_process(app, body, statuses)

    async def run() -> float:
        for _ in range(200):  # warm-up: connections, caches, first-use imports
            await one()
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for _ in range(requests):
            await one()
        profiler.disable()
        elapsed = time.perf_counter() - started
        profiler.dump_stats(out)
        return elapsed

    elapsed = uvloop.run(run())
    print(
        f"profiled {requests} requests in process: {elapsed / requests * 1e6:.0f} us each "
        f"under the profiler; statuses {statuses}; profile written to {out}"
    )
    pstats.Stats(str(out)).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3, help="alternating runs per target")
    parser.add_argument("--provider", default="mock", help="provider named in each request")
    parser.add_argument(
        "--profile", type=Path, metavar="FILE", help="profile the handler in process into FILE"
    )
    parser.add_argument("--requests", type=int, default=3000, help="requests under --profile")
    parser.add_argument(
        "--against", type=Path, metavar="DIR", help="also run the service from checkout DIR"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="also run the service with N processes"
    )
    parser.add_argument(
        "--auth",
        action="store_true",
        help="also run the service with relier keys and rate limits, against one without",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fxa-bench-"))
    body = json.dumps({**BODY, "provider": args.provider})
    env = {
        "FXA_EMAIL_ENV": "test",
        "FXA_EMAIL_HMACKEY": "bench key",
        # Rate limits per relier and recipient would refuse most of a benchmark's sends to
        # one address: buckets this large keep their cost but never refuse.
        "FXA_EMAIL_RATELIMITS": json.dumps(
            {kind: {"rate": 10**9, "per": "second", "burst": 10**9} for kind in UNLIMITED}
        ),
        "FXA_EMAIL_SQLITE_PATH": str(work / "bench.sqlite3"),
        **{k: v for k, v in os.environ.items()},
    }
    if args.profile is not None:
        profile(env, body.encode(), args.requests, args.profile.resolve())
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    script = work / "post.lua"
    script.write_text(LUA % (body, ""))
    scripts = {}
    bin_dir = Path(sys.executable).parent
    ports = {"bare": free_port(), "service": free_port()}
    servers = {
        "bare": subprocess.Popen(
            [str(bin_dir / "uvicorn"), "bench.bare_app:app", "--port", str(ports["bare"])]
            + ["--no-access-log", "--log-level", "warning"],
            cwd=ROOT,
            env=env,
        ),
        "service": serve(bin_dir, ports["service"], work / "service", env),
    }
    if args.against is not None:
        ports["against"] = free_port()
        code = str(args.against.resolve())
        against_env = {**env, "PYTHONPATH": os.pathsep.join([code, env.get("PYTHONPATH", "")])}
        servers["against"] = serve(bin_dir, ports["against"], work / "against", against_env)
    if args.workers > 1:
        name = f"workers{args.workers}"
        ports[name] = free_port()
        servers[name] = serve(bin_dir, ports[name], work / name, env, args.workers)
    if args.auth:
        key = "bench-relier-key"
        keyhash = hashlib.sha256(key.encode()).hexdigest()
        ports["noauth"], ports["auth"] = free_port(), free_port()
        servers["noauth"] = serve(
            bin_dir,
            ports["noauth"],
            work / "noauth",
            {**env, "FXA_EMAIL_RATELIMITS_ENABLED": "false"},
        )
        auth_env = {
            **env,
            "FXA_EMAIL_AUTH_REQUIRED": "true",
            "FXA_EMAIL_AUTH_RELIERS": json.dumps([{"id": "bench", "keyhash": keyhash}]),
            "FXA_EMAIL_RATELIMITS_ENABLED": "true",
        }
        servers["auth"] = serve(bin_dir, ports["auth"], work / "auth", auth_env)
        scripts["auth"] = work / "post-auth.lua"
        scripts["auth"].write_text(LUA % (body, f'wrk.headers["Authorization"] = "Bearer {key}"'))
    try:
        for name, process in servers.items():
            wait_until_listening(ports[name], process, timeout=30)
        urls = {name: f"http://127.0.0.1:{ports[name]}/send" for name in servers}
        pids = {name: process.pid for name, process in servers.items()}
        results = interleave(
            urls, scripts, script, args.connections, args.runs, args.duration, pids
        )
        rss = {name: rss_mb(process.pid) for name, process in servers.items()}
    finally:
        for process in servers.values():
            process.terminate()
            process.wait(timeout=30)

    print(
        f"POST /send, {args.connections} connections, {args.runs} x {args.duration}s per target, "
        f"provider={args.provider}, RSS after {args.runs * args.duration + 2}s of load, "
        f"stores: deliveryproblems={env.get('FXA_EMAIL_DELIVERYPROBLEMS_BACKEND', 'sqlite')} "
        f"messagedata="
        f"{env.get('FXA_EMAIL_MESSAGEDATA_BACKEND', 'sqlite')} (medians)"
    )
    figures = medians(results)
    for name, m in figures.items():
        print(
            f"  {name:8} {m['rps']:9.0f} req/s   p50 {m['p50_ms']:6.2f} ms   "
            f"p99 {m['p99_ms']:6.2f} ms   non-2xx {m['non2xx']:.0f}   "
            f"socket errors {m['socket_errors']:.0f}   RSS {rss[name]:5.1f} MB   "
            f"CPU {m['cpu_us']:4.0f} us/request (kernel {m['sys_us']:3.0f})"
        )
    for name in figures:
        if name != "bare":
            ratio = figures[name]["rps"] / figures["bare"]["rps"]
            cpu = figures["bare"]["cpu_us"] / figures[name]["cpu_us"]
            print(
                f"  ratio {name}/bare throughput: {ratio:.2f}x "
                f"(bare/{name} CPU per request: {cpu:.2f}x)"
            )
    if args.auth:
        cost = figures["auth"]["rps"] / figures["noauth"]["rps"]
        print(
            f"  ratio auth/noauth throughput (relier keys and rate limits): {cost:.2f}x "
            f"({(1 - cost) * 100:+.1f} % slower)"
        )
    if args.workers > 1:
        scaling = figures[f"workers{args.workers}"]["rps"] / figures["service"]["rps"]
        print(f"  scaling factor, {args.workers} processes over 1: {scaling:.2f}x")


if __name__ == "__main__":
    main()
