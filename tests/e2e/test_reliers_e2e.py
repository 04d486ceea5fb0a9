"""Relier keys and rate limits through the installed command, as an operator sets them up."""

from __future__ import annotations

import json
import re
from contextlib import ExitStack
from pathlib import Path

import httpx

from tests.adapters.stores.backends import REDIS_TEST_DB, fresh_redis
from tests.e2e.service import clean_env, run_command, serve


def keygen(tmp_path: Path) -> tuple[str, str]:
    result = run_command("keygen", "--id", "fxa-auth", cwd=tmp_path, env=clean_env())
    assert result.returncode == 0, result.stderr
    key = re.search(r"^key:\s+(\S+)$", result.stdout, re.M)
    keyhash = re.search(r"^keyhash:\s+([0-9a-f]{64})$", result.stdout, re.M)
    assert key and keyhash, result.stdout
    return key.group(1), keyhash.group(1)


def test_keygen_prints_a_key_that_serve_accepts_from_the_environment(tmp_path: Path) -> None:
    key, keyhash = keygen(tmp_path)
    other_key, _ = keygen(tmp_path)
    env = clean_env(
        FXA_EMAIL_ENV="stage",
        FXA_EMAIL_PROVIDER_DEFAULT="mock",
        FXA_EMAIL_AUTH_RELIERS=json.dumps([{"id": "fxa-auth", "keyhash": keyhash}]),
    )
    body = {"to": "foo@example.com", "subject": "s", "body": {"text": "t"}}
    with serve(tmp_path, env) as service:
        sent = httpx.post(
            f"{service.url}/send", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        missing = httpx.post(f"{service.url}/send", json=body)
        other = httpx.post(
            f"{service.url}/send", json=body, headers={"Authorization": f"Bearer {other_key}"}
        )
        assert service.stop() == 0

    assert key != other_key and len(key) >= 43
    assert sent.status_code == 200, sent.text
    assert (missing.status_code, missing.json()["errno"]) == (401, 124)
    assert (other.status_code, other.json()["errno"]) == (401, 124)
    assert key not in service.output() and keyhash not in service.output()


async def test_two_serve_processes_on_one_redis_share_a_reliers_bucket(tmp_path: Path) -> None:
    conn = await fresh_redis()
    await conn.aclose()
    key, keyhash = keygen(tmp_path)
    env = clean_env(
        FXA_EMAIL_ENV="test",
        FXA_EMAIL_DELIVERYPROBLEMS_BACKEND="redis",
        FXA_EMAIL_MESSAGEDATA_BACKEND="redis",
        FXA_EMAIL_REDIS_DB=str(REDIS_TEST_DB),
        FXA_EMAIL_AUTH_REQUIRED="true",
        FXA_EMAIL_AUTH_RELIERS=json.dumps([{"id": "fxa-auth", "keyhash": keyhash}]),
        FXA_EMAIL_RATELIMITS=json.dumps(
            {"relier": {"rate": 1, "per": "hour", "burst": 4}, "recipient": None}
        ),
    )
    body = {"to": "foo@example.com", "subject": "s", "body": {"text": "t"}}
    headers = {"Authorization": f"Bearer {key}"}
    with ExitStack() as stack:
        first = stack.enter_context(serve(tmp_path, env))
        second = stack.enter_context(serve(tmp_path, env))
        async with httpx.AsyncClient(timeout=10) as client:
            answers = [
                (
                    service.port,
                    await client.post(f"{service.url}/send", json=body, headers=headers),
                )
                for service in (first, second) * 3
            ]
        assert first.stop() == 0 and second.stop() == 0

    statuses = [(port, response.status_code) for port, response in answers]
    assert [status for _, status in statuses] == [200, 200, 200, 200, 429, 429]
    assert {port for port, status in statuses if status == 200} == {first.port, second.port}
    refused = answers[-1][1]
    assert refused.json()["errno"] == 125
    assert int(refused.headers["retry-after"]) == refused.json()["retryAfter"] > 0
