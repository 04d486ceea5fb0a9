"""Relier and admin keys: hashes only, constant-time comparison, revocation."""

from __future__ import annotations

import pytest

from domain.errors import Unauthorized
from domain.reliers import ANONYMOUS, Authenticator, KeyRecord, bearer_key, hash_key, new_key


def authenticator(required: bool = True) -> Authenticator:
    return Authenticator(
        [
            KeyRecord("fxa-auth", hash_key("current")),
            KeyRecord("fxa-auth", hash_key("old"), revoked=True),
            KeyRecord("other", hash_key("other key")),
        ],
        [KeyRecord("support", hash_key("admin"))],
        required=required,
    )


def test_new_keys_are_random_urlsafe_and_come_with_their_hash() -> None:
    (key, keyhash), (other, _) = new_key(), new_key()
    assert key != other and len(key) == 43 and key.replace("-", "").replace("_", "").isalnum()
    assert keyhash == hash_key(key) and len(keyhash) == 64


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("abc", None),
        (None, None),
    ],
)
def test_bearer_key(header: str | None, key: str | None) -> None:
    assert bearer_key(header) == key


def test_each_key_names_its_relier() -> None:
    assert authenticator().relier("Bearer current") == "fxa-auth"
    assert authenticator().relier("Bearer other key") == "other"


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Bearer old", "Bearer admin", "x"])
def test_missing_wrong_revoked_and_admin_keys_do_not_send(header: str | None) -> None:
    with pytest.raises(Unauthorized) as refused:
        authenticator().relier(header)
    assert refused.value.errno == 124


def test_without_required_keys_no_header_is_anonymous_but_a_bad_key_is_refused() -> None:
    assert authenticator(required=False).relier(None) == ANONYMOUS
    with pytest.raises(Unauthorized):
        authenticator(required=False).relier("Bearer wrong")
    with pytest.raises(Unauthorized):
        authenticator(required=False).relier("Basic x")


@pytest.mark.parametrize("required", [True, False])
def test_only_admin_keys_open_the_support_api(required: bool) -> None:
    assert authenticator(required).admin("Bearer admin") == "support"
    for header in (None, "Bearer current", "Bearer nope"):
        with pytest.raises(Unauthorized):
            authenticator(required).admin(header)
