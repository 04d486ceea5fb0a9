"""Each error carries its errno, its message and the extra JSON fields docs/api.md lists."""

from __future__ import annotations

import pytest

from domain import errors


@pytest.mark.parametrize(
    ("error", "errno", "extra"),
    [
        (errors.InternalError("m"), 100, {}),
        (errors.InvalidPayload("m"), 101, {}),
        (errors.InvalidPayload("m", field="to"), 101, {"field": "to"}),
        (errors.UnknownProvider("m", name="x"), 103, {"name": "x"}),
        (errors.ProviderError("m", name="ses"), 104, {"name": "ses"}),
        (errors.ComplaintLimitViolation("m", address="a"), 106, {"address": "a"}),
        (errors.SoftBounceLimitViolation("m"), 107, {}),
        (errors.HardBounceLimitViolation("m"), 108, {}),
        (errors.AccountsDbError("m"), 109, {}),
        (errors.StoreError("m"), 117, {}),
        (errors.BodyTooLarge("m"), 121, {}),
        (errors.UnsupportedMediaType("m"), 122, {}),
        (errors.RouteNotFound("m"), 123, {}),
        (errors.MethodNotAllowed("m"), 123, {}),
        (errors.Unauthorized("m"), 124, {}),
        (errors.RateLimited("m", retry_after=7), 125, {"retryAfter": 7}),
        (errors.UnverifiedEvent("m"), 128, {}),
    ],
)
def test_each_error_carries_its_errno_message_and_extra_fields(
    error: errors.ServiceError, errno: int, extra: dict[str, object]
) -> None:
    assert (error.errno, error.message, str(error), error.extra) == (errno, "m", "m", extra)


def test_the_fields_are_also_attributes() -> None:
    assert errors.InvalidPayload("m", field="cc.1").field == "cc.1"
    assert errors.InvalidPayload("m").field is None
    assert errors.UnknownProvider("m", name="x").name == "x"
    assert errors.ProviderError("m", name="ses").name == "ses"
    assert errors.RateLimited("m", retry_after=3).retry_after == 3
