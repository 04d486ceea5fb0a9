"""Instructions per `POST /send`, counted by valgrind's callgrind: a figure that does not move
with the machine's load, for comparing two versions of the handler.

The service's ASGI app is driven in process (as ``bench/send.py --profile`` does: same
settings, same stores, 16 requests at a time on one event loop, no server). Callgrind counts
only the measured requests: it starts with instrumentation off, and this script turns it on
after the warm-up (``callgrind_control -i on``) and off once the requests are done. It prints
the instructions per request; the interpreter's start-up, imports and warm-up are not in it.
A benchmark: it prints, never asserts. Needs valgrind (Debian: apt-get install valgrind).

    python bench/instructions.py                    # this checkout
    python bench/instructions.py --against ../base  # also another checkout, its own .venv
    python bench/instructions.py --requests 800 --bare

Instructions are not time: a system call counts as the few instructions that make it, and
the kernel's work is not counted. Use it for the Python work of a change, ``bench/send.py``
for its throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 16
WARM_UP = 300


def child(checkout: Path, requests: int, signals: Path, bare: bool) -> None:
    """Runs under callgrind: warm up, say ready, wait for go, send, say done."""
    # The request and its driver are this checkout's; the app is ``checkout``'s.
    sys.path.insert(0, str(ROOT))
    from bench.send import BODY, in_process

    sys.path.insert(0, str(checkout))
    body = json.dumps({**BODY, "provider": "mock"}).encode()
    if bare:
        from bench.bare_app import app
    else:
        from config.container import build_container
        from config.settings import load_settings
        from entrypoints.http import create_app

        app = create_app(build_container(load_settings()))
    statuses: dict[int, int] = {}
    one = in_process(app, body, statuses)

    async def some(count: int) -> None:
        for _ in range(count):
            await one()

    async def run() -> None:
        await some(WARM_UP)
        (signals / "ready").touch()
        while not (signals / "go").exists():
            await asyncio.sleep(0.05)
        await asyncio.gather(*(some(requests // CONCURRENCY) for _ in range(CONCURRENCY)))
        (signals / "done").touch()
        while (signals / "go").exists():
            await asyncio.sleep(0.05)

    import uvloop

    uvloop.run(run())
    (signals / "statuses.json").write_text(json.dumps(statuses))


def count(python: Path, checkout: Path, requests: int, bare: bool, env: dict[str, str]) -> int:
    """Instructions per request of ``checkout``'s handler, run by ``python``."""
    with tempfile.TemporaryDirectory(prefix="fxa-instructions-") as folder:
        signals = Path(folder)
        out = signals / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
            str(python),
            str(Path(__file__).resolve()),
            "--child",
            str(checkout),
            "--requests",
            str(requests),
            "--signals",
            str(signals),
        ] + (["--bare"] if bare else [])
        child_env = {**env, "FXA_EMAIL_SQLITE_PATH": str(signals / "bench.sqlite3")}
        log = (signals / "valgrind.log").open("wb")
        process = subprocess.Popen(command, env=child_env, stdout=log, stderr=log)
        try:
            wait_for(signals / "ready", process)
            instrument(process.pid, "on")
            (signals / "go").touch()
            wait_for(signals / "done", process)
            instrument(process.pid, "off")
            (signals / "go").unlink()
            process.wait(timeout=600)
        finally:
            if process.poll() is None:
                process.kill()
        found = re.search(r"^totals:\s+(\d+)", out.read_text(), re.MULTILINE)
        if process.returncode != 0 or found is None:
            raise SystemExit(f"callgrind run failed:\n{(signals / 'valgrind.log').read_text()}")
        statuses = (signals / "statuses.json").read_text()
        if set(json.loads(statuses)) != {"200"}:
            raise SystemExit(f"not every request answered 200: {statuses}")
        measured = requests // CONCURRENCY * CONCURRENCY
        return int(found.group(1)) // measured


def instrument(pid: int, state: str) -> None:
    """Turn callgrind's counting ``on`` or ``off`` in the process ``pid``."""
    subprocess.run(
        ["callgrind_control", "-i", state, str(pid)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(path: Path, process: subprocess.Popen[bytes]) -> None:
    while not path.exists():
        if process.poll() is not None:
            raise SystemExit(f"the counted process ended early ({process.returncode})")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--against", type=Path, metavar="DIR", help="also checkout DIR")
    parser.add_argument("--bare", action="store_true", help="also the bare endpoint")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--signals", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.requests, args.signals, args.bare)
        return
    env = {
        "FXA_EMAIL_ENV": "test",
        "FXA_EMAIL_HMACKEY": "bench key",
        "FXA_EMAIL_RATELIMITS": json.dumps(
            {k: {"rate": 10**9, "per": "second", "burst": 10**9} for k in ("relier", "recipient")}
        ),
        **os.environ,
    }
    targets = [("service", Path(sys.executable), ROOT, False)]
    if args.against is not None:
        against = args.against.resolve()
        targets.append(("against", against / ".venv" / "bin" / "python", against, False))
    if args.bare:
        targets.append(("bare", Path(sys.executable), ROOT, True))
    counts = {name: count(py, where, args.requests, bare, env) for name, py, where, bare in targets}
    for name, instructions in counts.items():
        print(f"  {name:8s} {instructions:9d} instructions per request")
    if "against" in counts:
        print(f"  ratio service/against: {counts['service'] / counts['against']:.2f}")


if __name__ == "__main__":
    main()
