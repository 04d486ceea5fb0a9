"""The installed command over HTTP, as a user runs it on the embedded default."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import httpx

from tests.e2e.service import clean_env, run_command, serve


def test_embedded_default_serves_and_writes_the_outbox(tmp_path: Path) -> None:
    with serve(tmp_path, clean_env()) as service:
        response = httpx.post(
            f"{service.url}/send",
            json={
                "to": "foo@example.com",
                "subject": "bar \u2713",
                "body": {"text": "baz", "html": "<p>baz</p>"},
                "metadata": "relier data",
            },
            timeout=10,
        )
        heartbeat = httpx.get(f"{service.url}/__heartbeat__", timeout=10)
        lbheartbeat = httpx.get(f"{service.url}/__lbheartbeat__", timeout=10)
        version = httpx.get(f"{service.url}/__version__", timeout=10)
        exit_code = service.stop()

    assert response.status_code == 200, response.text
    message_id = response.json()["messageId"]
    assert message_id.startswith("mock:")
    eml = tmp_path / "var" / "outbox" / f"{message_id.removeprefix('mock:')}.eml"
    parsed = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert parsed["To"] == "foo@example.com"
    assert parsed["Subject"] == "bar \u2713"
    assert parsed["From"] == "Firefox Accounts <accounts@example.com>"
    assert parsed.get_body(("plain",)).get_content().strip() == "baz"  # type: ignore[union-attr]
    assert parsed.get_body(("html",)).get_content().strip() == "<p>baz</p>"  # type: ignore[union-attr]
    assert (tmp_path / "var" / "fxa-email.sqlite3").exists()

    assert heartbeat.status_code == 200 and heartbeat.json()["status"] == "ok"
    assert (lbheartbeat.status_code, lbheartbeat.json()) == (200, {})
    assert set(version.json()) == {"source", "version", "commit", "build"}
    assert exit_code == 0
    log = service.output()
    assert str(eml.relative_to(tmp_path)) in log
    assert "relier data" not in log


def test_effective_configuration_is_logged_with_secrets_hidden(tmp_path: Path) -> None:
    env = clean_env(
        FXA_EMAIL_SENDGRID_KEY="sg-very-secret",
        FXA_EMAIL_HMACKEY="hmac-very-secret",
        FXA_EMAIL_LOG_FORMAT="mozlog",
    )
    with serve(tmp_path, env) as service:
        assert service.stop() == 0

    log = service.output()
    assert "sg-very-secret" not in log and "hmac-very-secret" not in log
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    config_lines = [line for line in lines if "effective configuration" in str(line["Fields"])]
    assert len(config_lines) == 1
    assert '"key": "[hidden]"' in config_lines[0]["Fields"]["msg"]


def test_bad_configuration_exits_with_one_line_naming_the_key(tmp_path: Path) -> None:
    result = run_command("serve", cwd=tmp_path, env=clean_env(FXA_EMAIL_SENDER_ADDRESS="nope"))

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "fxa-email-service: configuration error: sender.address: not an email address"
    ]


def test_bad_limit_period_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "local.json").write_text(
        json.dumps({"bouncelimits": {"soft": [{"period": "fortnight", "limit": 0}]}})
    )
    result = run_command("serve", cwd=tmp_path, env=clean_env())

    assert result.returncode != 0
    assert "bouncelimits.soft.0.period: invalid period 'fortnight'" in result.stderr


def test_prod_refuses_the_default_hmackey(tmp_path: Path) -> None:
    for env in (clean_env(FXA_EMAIL_ENV="prod"), clean_env(NODE_ENV="production")):
        result = run_command("serve", cwd=tmp_path, env=env)
        assert result.returncode != 0
        assert "hmackey: the default (or an empty) key is not allowed in env prod" in result.stderr


def test_help_describes_the_commands(tmp_path: Path) -> None:
    top = run_command("--help", cwd=tmp_path, env=clean_env())
    sub = run_command("serve", "--help", cwd=tmp_path, env=clean_env())

    assert top.returncode == 0 and "serve" in top.stdout
    assert sub.returncode == 0 and "--port" in sub.stdout
