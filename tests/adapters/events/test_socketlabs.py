"""SocketLabs posts: the secret key, the server id and the two body encodings."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from adapters.events.socketlabs import SocketlabsNotificationVerifier, read_post
from domain.errors import UnverifiedEvent
from tests.fixtures.socketlabs import load

SECRET = "ABC123"


def verifier(server_id: int | None = 12345) -> SocketlabsNotificationVerifier:
    return SocketlabsNotificationVerifier(SECRET, "validation-key-1", server_id)


@pytest.mark.parametrize("name", ["validation", "failed", "complaint", "delivered"])
def test_posts_with_the_secret_key_verify(name: str) -> None:
    verifier().verify(load(name))


@pytest.mark.parametrize("secret", [None, "", "ABC12", "ABC1234", "abc123", 123, ["ABC123"]])
def test_a_missing_or_wrong_secret_key_is_refused(secret: object) -> None:
    fields = load("failed")
    fields["SecretKey"] = secret
    with pytest.raises(UnverifiedEvent, match="SecretKey"):
        verifier().verify(fields)


def test_another_server_is_refused_when_the_server_id_is_configured() -> None:
    fields = {**load("failed"), "ServerId": 99999}
    with pytest.raises(UnverifiedEvent, match="ServerId"):
        verifier().verify(fields)
    verifier(server_id=None).verify(fields)
    verifier().verify({**fields, "ServerId": "12345"})


def test_json_and_form_posts_read_alike() -> None:
    fields = load("validation")
    as_json = read_post(json.dumps(fields).encode(), "application/json; charset=utf-8")
    as_form = read_post(urlencode(fields).encode(), "application/x-www-form-urlencoded")
    assert as_json["SecretKey"] == as_form["SecretKey"] == SECRET
    assert as_json["Type"] == as_form["Type"] == "Validation"


@pytest.mark.parametrize("raw", [b"", b"[1, 2]", b"{", b"\xff", b"[" * 100_000])
def test_a_body_that_is_no_object_is_refused(raw: bytes) -> None:
    with pytest.raises(UnverifiedEvent):
        read_post(raw, "application/json")
