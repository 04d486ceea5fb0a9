"""SIGTERM: `serve` stops taking new work, finishes the send in flight and exits 0."""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.e2e.service import clean_env, serve
from tests.servers import free_port
from tests.waiting import wait_for


def refused(port: int) -> bool:
    """Whether nothing accepts connections on ``port`` any more."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return True
    return False


class HeldHandler:
    """Accepts DATA only once the test releases it, so a send stays in flight."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.delivered: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.entered.set()
        released = await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 30)
        if not released:
            return "451 4.3.0 test never released the message"
        self.delivered.append(bytes(envelope.content))
        return "250 2.0.0 OK"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_finishes_the_send_in_flight_then_exits_zero(tmp_path: Path, workers: str) -> None:
    """With ``--workers 2`` the supervisor stops both processes; the busy one finishes."""
    handler = HeldHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    env = clean_env(
        FXA_EMAIL_ENV="test",
        FXA_EMAIL_SMTP_HOST="127.0.0.1",
        FXA_EMAIL_SMTP_PORT=str(controller.port),
        FXA_EMAIL_SMTP_TIMEOUT="30",
    )
    answers: list[httpx.Response] = []
    try:
        with serve(tmp_path, env, "--workers", workers) as service:
            request = threading.Thread(
                target=lambda: answers.append(
                    httpx.post(
                        f"{service.url}/send",
                        json={
                            "to": "inflight@example.com",
                            "subject": "in flight",
                            "body": {"text": "finish me"},
                            "provider": "smtp",
                        },
                        timeout=60,
                    )
                )
            )
            request.start()
            assert handler.entered.wait(30), "the send never reached the SMTP server"

            service.process.send_signal(signal.SIGTERM)
            wait_for(lambda: refused(service.port), 30, "the service to stop accepting connections")
            handler.release.set()
            request.join(60)
            exit_code = service.process.wait(timeout=60)
    finally:
        handler.release.set()
        controller.stop()

    assert [a.status_code for a in answers] == [200], [a.text for a in answers]
    assert answers[0].json()["messageId"].startswith("smtp:")
    assert len(handler.delivered) == 1 and b"finish me" in handler.delivered[0]
    assert exit_code == 0


def test_sigterm_does_not_wait_for_a_stalled_body(tmp_path: Path) -> None:
    # Before, a body that never arrived held the stop for uvicorn's whole 30 s grace period.
    with serve(tmp_path, clean_env(FXA_EMAIL_ENV="test")) as service:
        stalled = socket.create_connection(("127.0.0.1", service.port), timeout=30)
        stalled.sendall(
            b"POST /send HTTP/1.1\r\nHost: service\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"to": '
        )
        # Once another request is answered, the service has read the stalled one's headers.
        assert httpx.get(f"{service.url}/__lbheartbeat__", timeout=10).status_code == 200

        service.process.send_signal(signal.SIGTERM)
        exit_code = service.process.wait(timeout=15)
        answer = stalled.recv(65536)
        stalled.close()

    assert exit_code == 0
    assert answer.startswith(b"HTTP/1.1 503 ")
    assert b'"errno": 127' in answer


def test_every_serve_process_bounds_its_connections(tmp_path: Path) -> None:
    env = clean_env(
        FXA_EMAIL_ENV="test", FXA_EMAIL_WORKERS="2", FXA_EMAIL_LIMITS_HEADERTIMEOUT="0.5"
    )
    with serve(tmp_path, env) as service:
        answers = []
        for _ in range(4):  # the kernel spreads them over both processes
            with socket.create_connection(("127.0.0.1", service.port), timeout=30) as trickle:
                trickle.sendall(b"POST /send HTTP/1.1\r\nHost: service\r\n")
                answers.append(trickle.recv(65536))
        assert service.stop() == 0

    assert all(a.startswith(b"HTTP/1.1 408 ") and b'"errno": 126' in a for a in answers)
