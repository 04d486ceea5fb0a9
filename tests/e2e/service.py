"""Runs the installed `fxa-email-service` command as a subprocess, as a user would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.servers import free_port, wait_until_listening


def command_path() -> str:
    script = Path(sys.executable).with_name("fxa-email-service")
    if not script.exists():
        raise RuntimeError(f"{script} is missing: install the project with `pip install -e .`")
    return str(script)


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without FXA_EMAIL_*/NODE_ENV, plus ``extra``."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("FXA_EMAIL_") and k != "NODE_ENV"
    }
    env.update(extra)
    return env


def run_command(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [command_path(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


class RunningService:
    def __init__(self, process: subprocess.Popen[str], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait: the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")


@contextmanager
def serve(cwd: Path, env: dict[str, str], *args: str) -> Iterator[RunningService]:
    port = free_port()
    log = cwd / f"serve-{port}.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [command_path(), "serve", *args],
            cwd=cwd,
            env={**env, "FXA_EMAIL_PORT": str(port)},
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    service = RunningService(process, port, log)
    try:
        wait_until_listening(port, process, timeout=30)  # type: ignore[arg-type]
        yield service
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
