"""`serve --workers 2` (docs/operations.md, processes): two processes answer one port, share
the SQLite file and the metrics (their graceful stop: test_serve_stop_e2e.py)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.service import RunningService, clean_env, serve
from tests.waiting import eventually

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
                # a recipient each: the recipient rate limit allows 20 an hour per address
                bodies = [
                    {**SEND, "to": f"two{sent + i}@example.com", "metadata": f"m{sent + i}"}
                    for i in range(20)
                ]
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
