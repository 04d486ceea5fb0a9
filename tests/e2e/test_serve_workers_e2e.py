"""`serve --workers 2` (docs/operations.md, processes): two processes answer one port, share
the SQLite file and the metrics, and SIGTERM stops them all gracefully."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import threading
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.service import RunningService, clean_env, serve
from tests.e2e.test_serve_stop_e2e import HeldHandler, refused
from tests.servers import free_port
from tests.waiting import eventually, wait_for

SEND: dict[str, Any] = {"to": "two@example.com", "subject": "s", "body": {"text": "t"}}


def summary_pids(service: RunningService) -> set[int]:
    lines = [json.loads(line) for line in service.output().splitlines() if line.startswith("{")]
    return {line["Pid"] for line in lines if line["Type"] == "request.summary"}


def sent_total(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "fxa_email_sends_total" and sample.labels["outcome"] == "sent"
    )


async def test_two_processes_answer_share_sqlite_and_sum_their_metrics(tmp_path: Path) -> None:
    env = clean_env(FXA_EMAIL_ENV="test", FXA_EMAIL_LOG_LEVEL="info")
    sent = 0
    with serve(tmp_path, env, "--workers", "2") as service:
        limits = httpx.Limits(max_keepalive_connections=0)  # a new connection each time
        async with httpx.AsyncClient(base_url=service.url, limits=limits, timeout=30) as client:

            async def burst() -> set[int] | None:
                nonlocal sent
                bodies = [{**SEND, "metadata": f"m{sent + i}"} for i in range(20)]
                answers = await asyncio.gather(*(client.post("/send", json=b) for b in bodies))
                assert [a.status_code for a in answers] == [200] * 20, answers[0].text
                sent += 20
                pids = summary_pids(service)
                return pids if len(pids) == 2 else None

            pids = await eventually(burst, timeout=30, what="both processes answering")
            metrics = (await client.get("/__metrics__")).text
        assert service.process.pid not in pids  # the supervisor only supervises
        assert sent_total(metrics) == sent  # whichever process answered, the sum of both

        exit_code = service.stop()
    assert exit_code == 0
    with sqlite3.connect(tmp_path / "var" / "fxa-email.sqlite3") as db:
        [(stored,)] = db.execute("SELECT count(*) FROM message_data").fetchall()
    assert stored == sent  # every metadata write of both processes landed
    assert "Traceback" not in service.output()


def test_sigterm_lets_every_process_finish_its_send_then_exits_zero(tmp_path: Path) -> None:
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
        with serve(tmp_path, env, "--workers", "2") as service:
            body = {**SEND, "provider": "smtp"}
            request = threading.Thread(
                target=lambda: answers.append(
                    httpx.post(f"{service.url}/send", json=body, timeout=60)
                )
            )
            request.start()
            assert handler.entered.wait(30), "the send never reached the SMTP server"

            service.process.send_signal(signal.SIGTERM)
            wait_for(lambda: refused(service.port), 30, "the port to refuse connections")
            handler.release.set()
            request.join(60)
            exit_code = service.process.wait(timeout=60)
    finally:
        controller.stop()

    assert exit_code == 0
    assert [answer.status_code for answer in answers] == [200]
    assert len(handler.delivered) == 1
