"""What the connection bounds cost: the bare endpoint under uvicorn's own httptools protocol
and under the bounded one (entrypoints/connections.py), alternating in the same run.

    python bench/connections.py [--duration 10] [--connections 16] [--runs 3]

A benchmark: it prints throughput, p50/p99 and the ratio bounded/stock; it never asserts.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.send import BODY, LUA, interleave, medians  # noqa: E402
from tests.servers import free_port, wait_until_listening  # noqa: E402

SERVER = """
import sys, uvicorn
from bench.bare_app import app
from entrypoints.connections import ConnectionLimits, server_options
options = server_options(ConnectionLimits()) if sys.argv[2] == "bounded" else {}
uvicorn.run(app, port=int(sys.argv[1]), access_log=False, log_level="warning",
            http=options.pop("http", "httptools"), **options)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(LUA % (json.dumps(BODY), ""))
        ports = {"stock": free_port(), "bounded": free_port()}
        servers = {
            name: subprocess.Popen([sys.executable, "-c", SERVER, str(port), name], cwd=ROOT)
            for name, port in ports.items()
        }
        try:
            for name, process in servers.items():
                wait_until_listening(ports[name], process, timeout=30)
            urls = {name: f"http://127.0.0.1:{port}/send" for name, port in ports.items()}
            results = interleave(urls, {}, script, args.connections, args.runs, args.duration)
        finally:
            for process in servers.values():
                process.terminate()
                process.wait(timeout=30)

    print(
        f"bare POST /send, {args.connections} connections, {args.runs} x {args.duration}s "
        "per protocol (medians)"
    )
    figures = medians(results)
    for name, m in figures.items():
        print(
            f"  {name:8} {m['rps']:9.0f} req/s   p50 {m['p50_ms']:6.2f} ms   "
            f"p99 {m['p99_ms']:6.2f} ms   non-2xx {m['non2xx']:.0f}"
        )
    ratio = figures["bounded"]["rps"] / figures["stock"]["rps"]
    print(f"  ratio bounded/stock throughput: {ratio:.3f}x")


if __name__ == "__main__":
    main()
