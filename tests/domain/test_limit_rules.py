"""The limit policy's boundaries (docs/api.md, delivery-problem limits), pinned one by one."""

from __future__ import annotations

import pytest

from domain.limits import BounceLimits, LimitRule, parse_period, violation_error
from domain.model import DeliveryProblem, ProblemSubtype, ProblemType

NOW = 1_700_000_000_000
DAY = 86400
HARD, SOFT, COMPLAINT = ProblemType.HARD_BOUNCE, ProblemType.SOFT_BOUNCE, ProblemType.COMPLAINT


def problem(kind: ProblemType, created_at: int) -> DeliveryProblem:
    return DeliveryProblem("a@example.com", kind, ProblemSubtype.GENERAL, created_at)


def limits(**rules: tuple[LimitRule, ...]) -> BounceLimits:
    names = {"hard": HARD, "soft": SOFT, "complaint": COMPLAINT}
    return BounceLimits(rules={names[name]: value for name, value in rules.items()})


ONE_A_DAY = limits(hard=(LimitRule(DAY, 0),))


@pytest.mark.parametrize(
    ("age_ms", "refused"),
    [
        (DAY * 1000 - 1, True),  # one millisecond inside the period
        (DAY * 1000, False),  # exactly one period old: no longer within it
        (DAY * 1000 + 1, False),  # one millisecond outside
    ],
)
def test_the_window_edge(age_ms: int, refused: bool) -> None:
    verdict = ONE_A_DAY.violation([problem(HARD, NOW - age_ms)], NOW)
    assert (verdict is not None) is refused


def test_the_verdict_at_the_edge_follows_the_now_it_is_given() -> None:
    created = NOW - DAY * 1000
    assert ONE_A_DAY.violation([problem(HARD, created)], NOW - 1000) is not None
    assert ONE_A_DAY.violation([problem(HARD, created)], NOW) is None
    assert ONE_A_DAY.violation([problem(HARD, created)], NOW + 1000) is None


def test_a_limit_is_how_many_are_tolerated_within_the_period() -> None:
    two = limits(soft=(LimitRule(300, 2),))
    recent = [problem(SOFT, NOW - i * 1000) for i in (1, 2)]
    assert two.violation(recent, NOW) is None
    assert two.violation([*recent, problem(SOFT, NOW - 3000)], NOW) is not None
    assert two.violation([*recent, problem(SOFT, NOW - 300_000)], NOW) is None


def test_several_problems_under_one_rule_report_the_newest_whatever_their_order() -> None:
    rule = limits(hard=(LimitRule(DAY, 1),))
    older, newest, middle = (problem(HARD, NOW - h * 3_600_000) for h in (3, 1, 2))
    for order in ([older, newest, middle], [newest, middle, older], [middle, older, newest]):
        assert rule.violation(order, NOW) is newest


def test_only_the_second_longer_rule_broken_refuses() -> None:
    rules = limits(hard=(LimitRule(DAY, 0), LimitRule(365 * DAY, 1)))
    old = [problem(HARD, NOW - d * DAY * 1000) for d in (20, 10)]
    assert rules.violation(old[:1], NOW) is None
    assert rules.violation(old, NOW) is old[1]


def test_the_newest_violating_problem_of_any_type_is_reported() -> None:
    rules = limits(hard=(LimitRule(DAY, 0),), complaint=(LimitRule(DAY, 0),))
    hard, complaint = problem(HARD, NOW - 5000), problem(COMPLAINT, NOW - 2000)
    assert rules.violation([hard, complaint], NOW) is complaint
    later_hard = problem(HARD, NOW - 1000)
    assert rules.violation([later_hard, complaint], NOW) is later_hard


@pytest.mark.parametrize(
    "order",
    [(SOFT, HARD, COMPLAINT), (HARD, SOFT, COMPLAINT), (COMPLAINT, SOFT, HARD), (HARD, COMPLAINT)],
)
def test_on_a_tie_in_time_a_complaint_then_a_hard_bounce_is_named(
    order: tuple[ProblemType, ...],
) -> None:
    rules = BounceLimits(rules={kind: (LimitRule(DAY, 0),) for kind in order})
    same_time = [problem(kind, NOW - 1000) for kind in order]
    winner = rules.violation(same_time, NOW)
    assert winner is not None
    assert winner.type is (COMPLAINT if COMPLAINT in order else HARD)


def test_on_a_tie_a_hard_bounce_is_named_before_a_soft_one() -> None:
    rules = BounceLimits(rules={SOFT: (LimitRule(DAY, 0),), HARD: (LimitRule(DAY, 0),)})
    winner = rules.violation([problem(k, NOW - 1000) for k in (SOFT, HARD, SOFT)], NOW)
    assert winner is not None and winner.type is HARD


def test_disabled_limits_refuse_nothing_even_over_every_rule() -> None:
    rules = BounceLimits(enabled=False, rules={HARD: (LimitRule(DAY, 0),)})
    assert rules.violation([problem(HARD, NOW - 1)], NOW) is None


def test_records_of_other_types_never_count_for_a_rule() -> None:
    rules = limits(soft=(LimitRule(DAY, 0),))
    assert rules.violation([problem(HARD, NOW - 1), problem(COMPLAINT, NOW - 1)], NOW) is None


def test_the_longest_period_covers_every_type() -> None:
    rules = limits(
        hard=(LimitRule(60, 0), LimitRule(DAY, 1)),
        soft=(LimitRule(7 * DAY, 0),),
        complaint=(LimitRule(300, 0),),
    )
    assert rules.longest_period_seconds == 7 * DAY
    assert BounceLimits().longest_period_seconds == 0


def test_the_429_names_its_address_and_problem_in_the_json_the_docs_show() -> None:
    created = NOW - 1234
    error = violation_error(
        "to@example.com",
        DeliveryProblem("to@example.com", SOFT, ProblemSubtype.MAILBOX_FULL, created),
    )
    assert error.errno == 107
    assert error.message == (
        "email address to@example.com has a recent softBounce and cannot be sent to"
    )
    assert error.extra == {
        "address": "to@example.com",
        "time": created,
        "bouncedAt": created,
        "problem": {"type": "softBounce", "subtype": "MailboxFull", "createdAt": created},
    }


def test_types_and_subtypes_keep_the_accounts_databases_numbers_and_names() -> None:
    assert {t.value: t.wire_name for t in ProblemType} == {
        1: "hardBounce",
        2: "softBounce",
        3: "complaint",
    }
    assert {s.value: s.wire_name for s in ProblemSubtype} == {
        0: "unmapped",
        1: "Undetermined",
        2: "General",
        3: "NoEmail",
        4: "Suppressed",
        5: "MailboxFull",
        6: "MessageTooLarge",
        7: "ContentRejected",
        8: "AttachmentRejected",
        9: "abuse",
        10: "auth-failure",
        11: "fraud",
        12: "not-spam",
        13: "other",
        14: "virus",
    }
    assert [ProblemType.from_db(n) for n in (0, 1, 2, 3)] == [SOFT, HARD, SOFT, COMPLAINT]
    assert [ProblemSubtype.from_db(n).value for n in range(15)] == list(range(15))
    assert ProblemSubtype.from_db(15) is ProblemSubtype.UNMAPPED
    assert ProblemSubtype.from_db(-1) is ProblemSubtype.UNMAPPED


@pytest.mark.parametrize("text", ["fortnight", "0 days", 5, None, "-1 day", "1.5 days"])
def test_a_bad_period_is_a_value_error_naming_it(text: object) -> None:
    with pytest.raises(ValueError, match="invalid period") as caught:
        parse_period(text)  # type: ignore[arg-type]
    assert repr(text) in str(caught.value)


def test_a_bad_period_lists_the_units() -> None:
    with pytest.raises(ValueError) as caught:
        parse_period("fortnight")
    assert str(caught.value) == (
        "invalid period 'fortnight': expected '<n> <unit>' or '<unit>', "
        "unit one of second, minute, hour, day, week, month, year"
    )
