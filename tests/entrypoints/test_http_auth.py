"""`POST /send` with relier keys and rate limits (docs/reliers.md), in process over HTTP."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from dependency_injector import providers

from domain.reliers import hash_key
from tests.fakes import FakeClock, RecordingProvider
from tests.http_app import client_for, make_container

KEY, OLD_KEY, ADMIN_KEY = "relier-key-1", "relier-key-0", "admin-key"
RELIERS = [
    {"id": "fxa-auth", "keyhash": hash_key(KEY)},
    {"id": "fxa-auth", "keyhash": hash_key(OLD_KEY), "revoked": True},
]
ADMINS = [{"id": "support-1", "keyhash": hash_key(ADMIN_KEY)}]
NO_RATE_LIMITS = {"enabled": False}


def body(to: str = "to@example.com", **extra: Any) -> dict[str, Any]:
    return {"to": to, "subject": "s", "body": {"text": "t"}, **extra}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def container_for(required: bool = True, ratelimits: Any = None, **overrides: Any) -> Any:
    container = make_container(
        auth={"required": required, "reliers": RELIERS, "admins": ADMINS},
        ratelimits=NO_RATE_LIMITS if ratelimits is None else ratelimits,
        **overrides,
    )
    container.mock_provider.override(providers.Singleton(RecordingProvider, "mock"))
    return container


async def test_the_right_key_sends() -> None:
    async with client_for(container_for()) as client:
        response = await client.post("/send", json=body(), headers=bearer(KEY))

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("not-a-key"),
        bearer(OLD_KEY),  # revoked
        bearer(ADMIN_KEY),  # an admin key does not send
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": "Bearer "},
    ],
    ids=["missing", "wrong", "revoked", "admin", "not-bearer", "empty"],
)
async def test_missing_wrong_and_revoked_keys_answer_401_errno_124(
    headers: dict[str, str],
) -> None:
    container = container_for()
    async with client_for(container) as client:
        response = await client.post("/send", json=body(), headers=headers)

    assert response.status_code == 401, response.text
    error = response.json()
    assert (error["code"], error["errno"], error["error"]) == (401, 124, "Unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert container.mock_provider().sent == []


async def test_a_revoked_key_is_logged_with_its_relier_never_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with client_for(container_for()) as client:
        await client.post("/send", json=body(), headers=bearer(OLD_KEY))

    assert "revoked key of relier fxa-auth" in caplog.text
    assert OLD_KEY not in caplog.text and hash_key(OLD_KEY) not in caplog.text


async def test_without_required_keys_anyone_sends_but_a_wrong_key_is_still_refused() -> None:
    async with client_for(container_for(required=False)) as client:
        anonymous = await client.post("/send", json=body())
        known = await client.post("/send", json=body(), headers=bearer(KEY))
        wrong = await client.post("/send", json=body(), headers=bearer("typo"))

    assert (anonymous.status_code, known.status_code, wrong.status_code) == (200, 200, 401)


def test_keys_are_required_by_default_in_stage_and_prod_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from config.settings import load_settings

    required = {}
    for env in ("dev", "test", "stage", "prod"):
        monkeypatch.setenv("FXA_EMAIL_ENV", env)
        required[env] = load_settings(hmackey="not the default").auth.required
    assert required == {"dev": False, "test": False, "stage": True, "prod": True}


def limited(relier: Any = None, recipient: Any = None) -> dict[str, Any]:
    return {"enabled": True, "relier": relier, "recipient": recipient}


async def test_a_relier_over_its_rate_answers_429_errno_125_with_retry_after() -> None:
    container = container_for(ratelimits=limited(relier={"rate": 1, "per": "minute", "burst": 2}))
    clock = FakeClock()
    container.clock.override(providers.Object(clock))
    async with client_for(container) as client:
        first = [
            (await client.post("/send", json=body(), headers=bearer(KEY))).status_code
            for _ in range(2)
        ]
        refused = await client.post("/send", json=body(), headers=bearer(KEY))
        clock.advance(60)
        later = await client.post("/send", json=body(), headers=bearer(KEY))

    assert first == [200, 200]
    assert refused.status_code == 429
    error = refused.json()
    assert (error["errno"], error["retryAfter"]) == (125, 60)
    assert refused.headers["retry-after"] == "60"
    assert later.status_code == 200
    assert len(container.mock_provider().sent) == 3


async def test_a_recipient_over_its_rate_refuses_as_to_and_is_skipped_as_cc() -> None:
    container = container_for(ratelimits=limited(recipient={"rate": 1, "per": "hour", "burst": 1}))
    container.clock.override(providers.Object(FakeClock()))
    async with client_for(container) as client:
        first = await client.post("/send", json=body("flooded@example.com"), headers=bearer(KEY))
        as_to = await client.post("/send", json=body("FLOODED@example.com"), headers=bearer(KEY))
        as_cc = await client.post(
            "/send",
            json=body("fresh@example.com", cc=["flooded@example.com", "other@example.com"]),
            headers=bearer(KEY),
        )

    assert first.status_code == 200
    assert as_to.status_code == 429 and as_to.json()["errno"] == 125
    assert as_to.json()["retryAfter"] == 3600
    assert as_cc.status_code == 200, as_cc.text
    assert as_cc.json()["skipped"] == [{"address": "flooded@example.com", "errno": 125}]
    sent = [email for _, email in container.mock_provider().sent]
    assert [(e.to, e.cc) for e in sent] == [
        ("flooded@example.com", ()),
        ("fresh@example.com", ("other@example.com",)),
    ]


async def test_the_relier_id_is_in_the_request_summary_and_the_metrics(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="request.summary")
    async with client_for(container_for()) as client:
        await client.post("/send", json=body(), headers=bearer(KEY))
        await client.post("/send", json=body(), headers=bearer("wrong"))
        metrics = (await client.get("/__metrics__")).text

    summaries = [r for r in caplog.records if r.name == "request.summary"]
    assert [(r.path, r.code, getattr(r, "relier", None)) for r in summaries[:2]] == [  # type: ignore[attr-defined]
        ("/send", 200, "fxa-auth"),
        ("/send", 401, None),
    ]
    assert 'fxa_email_relier_requests_total{relier="fxa-auth",status="200"}' in metrics
