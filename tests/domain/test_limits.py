"""The delivery-problem limit policy of docs/api.md (delivery-problem limits)."""

from __future__ import annotations

import pytest

from domain.limits import BounceLimits, LimitRule, parse_period, violation_error
from domain.model import DeliveryProblem, ProblemSubtype, ProblemType
from entrypoints.http import http_status

NOW = 1_700_000_000_000
DAY = 86400
HARD, SOFT, COMPLAINT = ProblemType.HARD_BOUNCE, ProblemType.SOFT_BOUNCE, ProblemType.COMPLAINT
DEFAULT = BounceLimits(
    rules={
        COMPLAINT: (LimitRule(DAY, 0), LimitRule(365 * DAY, 1)),
        HARD: (LimitRule(DAY, 0), LimitRule(365 * DAY, 1)),
        SOFT: (LimitRule(300, 0),),
    }
)


def seen(kind: ProblemType, seconds_ago: float) -> DeliveryProblem:
    return DeliveryProblem(
        "a@example.com", kind, ProblemSubtype.GENERAL, NOW - int(seconds_ago * 1000)
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("second", 1),
        ("5 minutes", 300),
        ("1 minute", 60),
        ("hour", 3600),
        ("2 hours", 7200),
        ("day", DAY),
        ("3 days", 3 * DAY),
        ("week", 7 * DAY),
        ("month", 30 * DAY),
        ("2 months", 60 * DAY),
        ("year", 365 * DAY),
        ("10 Years", 3650 * DAY),
    ],
)
def test_periods_parse(text: str, seconds: int) -> None:
    assert parse_period(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "fortnight", "-1 day", "0 days", "5minutes", "1.5 day"])
def test_bad_periods_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid period"):
        parse_period(text)


def test_no_problems_no_violation() -> None:
    assert DEFAULT.violation([], NOW) is None


def test_a_limit_of_zero_refuses_one_problem_within_the_period() -> None:
    problem = seen(HARD, 60)
    assert DEFAULT.violation([problem], NOW) == problem


def test_problems_outside_the_period_do_not_count() -> None:
    assert DEFAULT.violation([seen(SOFT, 301)], NOW) is None
    assert DEFAULT.violation([seen(SOFT, 299)], NOW) is not None


def test_more_than_limit_is_needed_to_violate() -> None:
    limits = BounceLimits(rules={HARD: (LimitRule(365 * DAY, 1),)})
    assert limits.violation([seen(HARD, 2 * DAY)], NOW) is None
    assert limits.violation([seen(HARD, 2 * DAY), seen(HARD, 3 * DAY)], NOW) is not None


def test_only_problems_of_the_rules_type_count() -> None:
    limits = BounceLimits(rules={COMPLAINT: (LimitRule(DAY, 0),)})
    assert limits.violation([seen(HARD, 60), seen(SOFT, 60)], NOW) is None


def test_the_newest_violating_problem_is_reported() -> None:
    old_hard, new_complaint = seen(HARD, 3600), seen(COMPLAINT, 60)
    assert DEFAULT.violation([old_hard, new_complaint], NOW) == new_complaint
    assert DEFAULT.violation([new_complaint, old_hard], NOW) == new_complaint


def test_disabled_limits_ignore_all_records() -> None:
    limits = BounceLimits(enabled=False, rules=DEFAULT.rules)
    assert limits.violation([seen(HARD, 1), seen(COMPLAINT, 1)], NOW) is None


def test_longest_period() -> None:
    assert DEFAULT.longest_period_seconds == 365 * DAY
    assert BounceLimits().longest_period_seconds == 0


@pytest.mark.parametrize(
    ("kind", "errno", "name"),
    [(COMPLAINT, 106, "complaint"), (SOFT, 107, "softBounce"), (HARD, 108, "hardBounce")],
)
def test_violation_errors_carry_errno_and_problem(kind: ProblemType, errno: int, name: str) -> None:
    problem = seen(kind, 10)
    error = violation_error("a@example.com", problem)
    assert (error.errno, http_status(error)) == (errno, 429)
    assert error.extra == {
        "address": "a@example.com",
        "time": problem.created_at,
        "bouncedAt": problem.created_at,
        "problem": {"type": name, "subtype": "General", "createdAt": problem.created_at},
    }


def test_database_numbering() -> None:
    assert ProblemType.from_db(0) is SOFT
    assert [ProblemType.from_db(n) for n in (1, 2, 3)] == [HARD, SOFT, COMPLAINT]
    assert ProblemSubtype.from_db(14).wire_name == "virus"
    assert ProblemSubtype.from_db(99) is ProblemSubtype.UNMAPPED
