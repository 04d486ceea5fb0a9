"""Each error carries its errno, its message and the extra JSON fields docs/api.md lists."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from domain import errors

# Built inside each test (not at collection), so that a change to a constructor is caught.
CASES: list[tuple[Callable[[], errors.ServiceError], int, dict[str, object]]] = [
    (lambda: errors.InternalError("m"), 100, {}),
    (lambda: errors.InvalidPayload("m"), 101, {}),
    (lambda: errors.InvalidPayload("m", field="to"), 101, {"field": "to"}),
    (lambda: errors.UnknownProvider("m", name="x"), 103, {"name": "x"}),
    (lambda: errors.ProviderError("m", name="ses"), 104, {"name": "ses"}),
    (lambda: errors.ComplaintLimitViolation("m", address="a"), 106, {"address": "a"}),
    (lambda: errors.SoftBounceLimitViolation("m"), 107, {}),
    (lambda: errors.HardBounceLimitViolation("m"), 108, {}),
    (lambda: errors.AccountsDbError("m"), 109, {}),
    (lambda: errors.StoreError("m"), 117, {}),
    (lambda: errors.BodyTooLarge("m"), 121, {}),
    (lambda: errors.UnsupportedMediaType("m"), 122, {}),
    (lambda: errors.RouteNotFound("m"), 123, {}),
    (lambda: errors.MethodNotAllowed("m"), 123, {}),
    (lambda: errors.Unauthorized("m"), 124, {}),
    (lambda: errors.RateLimited("m", retry_after=7), 125, {"retryAfter": 7}),
    (lambda: errors.UnverifiedEvent("m"), 128, {}),
]


@pytest.mark.parametrize(("make", "errno", "extra"), CASES)
def test_each_error_carries_its_errno_message_and_extra_fields(
    make: Callable[[], errors.ServiceError], errno: int, extra: dict[str, object]
) -> None:
    error = make()
    assert (error.errno, error.message, str(error), error.extra) == (errno, "m", "m", extra)


def test_the_fields_are_also_attributes() -> None:
    assert errors.InvalidPayload("m", field="cc.1").field == "cc.1"
    assert errors.InvalidPayload("m").field is None
    assert errors.UnknownProvider("m", name="x").name == "x"
    assert errors.ProviderError("m", name="ses").name == "ses"
    assert errors.RateLimited("m", retry_after=3).retry_after == 3
