"""The DeliveryProblemStore contract, held by the fake and every real adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.stores.keys import KeyHasher
from domain.errors import RecordsNotClearable
from domain.model import DeliveryProblem, ProblemSubtype, ProblemType
from ports.stores import DeliveryProblemStore
from tests.adapters.stores.backends import OWN_PROBLEM_STORES, PROBLEM_STORES, SERVER_TIMESTAMPED
from tests.fakes import FakeClock

YEAR = 365 * 86400


@pytest.fixture(params=sorted(PROBLEM_STORES))
def store_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(
    store_backend: str, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[DeliveryProblemStore]:
    async with PROBLEM_STORES[store_backend](KeyHasher("test key"), clock, YEAR, tmp_path) as store:
        yield store


def problem(
    address: str,
    clock: FakeClock,
    kind: ProblemType = ProblemType.HARD_BOUNCE,
    subtype: ProblemSubtype = ProblemSubtype.GENERAL,
    ago_seconds: int = 0,
    feedback_id: str | None = None,
) -> DeliveryProblem:
    return DeliveryProblem(address, kind, subtype, clock.now_ms() - ago_seconds * 1000, feedback_id)


async def test_unknown_address_has_no_problems(store: DeliveryProblemStore) -> None:
    assert list(await store.fetch("nobody@example.com")) == []


async def test_recorded_problems_come_back_newest_first(
    store_backend: str, store: DeliveryProblemStore, clock: FakeClock
) -> None:
    older = problem(
        "a@example.com", clock, ProblemType.SOFT_BOUNCE, ProblemSubtype.MAILBOX_FULL, 60
    )
    newer = problem("a@example.com", clock, ProblemType.COMPLAINT, ProblemSubtype.ABUSE, 10)
    assert await store.record(older) is True
    assert await store.record(newer) is True
    await store.record(problem("other@example.com", clock))

    fetched = list(await store.fetch("a@example.com"))

    assert [(p.type, p.subtype) for p in fetched] == [
        (newer.type, newer.subtype),
        (older.type, older.subtype),
    ]
    if store_backend in SERVER_TIMESTAMPED:
        # the server stamps each record when it receives it: in recording order, never
        # before the problem itself happened
        assert fetched[0].created_at > fetched[1].created_at >= older.created_at
    else:
        assert [p.created_at for p in fetched] == [newer.created_at, older.created_at]


async def test_addresses_compare_case_insensitively(
    store: DeliveryProblemStore, clock: FakeClock
) -> None:
    await store.record(problem("Mixed.Case@Example.COM", clock))

    fetched = list(await store.fetch("mixed.case@example.com"))

    assert len(fetched) == 1
    assert fetched[0].type is ProblemType.HARD_BOUNCE


async def test_same_feedback_for_same_address_is_recorded_once(
    store: DeliveryProblemStore, clock: FakeClock
) -> None:
    first = problem("dup@example.com", clock, feedback_id="feedback-1")
    assert await store.record(first) is True
    assert await store.record(first) is False
    assert await store.record(problem("DUP@example.com", clock, feedback_id="feedback-1")) is False
    assert await store.record(problem("other@example.com", clock, feedback_id="feedback-1"))

    assert len(list(await store.fetch("dup@example.com"))) == 1
    assert len(list(await store.fetch("other@example.com"))) == 1


async def test_problems_without_feedback_id_all_count(
    store: DeliveryProblemStore, clock: FakeClock
) -> None:
    await store.record(problem("many@example.com", clock, ago_seconds=2))
    await store.record(problem("many@example.com", clock, ago_seconds=1))

    assert len(list(await store.fetch("many@example.com"))) == 2


# The accounts database keeps its records itself: only the service's own stores expire them.
@pytest.mark.parametrize("store_backend", sorted(OWN_PROBLEM_STORES))
async def test_own_store_forgets_records_older_than_retention(
    store_backend: str, store: DeliveryProblemStore, clock: FakeClock
) -> None:
    await store.record(problem("old@example.com", clock, ago_seconds=YEAR + 1))
    await store.record(problem("old@example.com", clock, ago_seconds=YEAR - 60))

    assert len(list(await store.fetch("old@example.com"))) == 1
    clock.advance(120)
    assert list(await store.fetch("old@example.com")) == []


async def test_fetch_many_answers_what_fetch_answers_for_each_address_in_order(
    store: DeliveryProblemStore, clock: FakeClock
) -> None:
    await store.record(problem("a@example.com", clock, ProblemType.SOFT_BOUNCE, ago_seconds=30))
    await store.record(problem("a@example.com", clock, ProblemType.COMPLAINT, ago_seconds=10))
    await store.record(problem("b@example.com", clock, ago_seconds=20))
    addresses = ["nobody@example.com", "B@Example.com", "a@example.com", "b@example.com"]

    many = [list(history) for history in await store.fetch_many(addresses)]

    assert many == [list(await store.fetch(address)) for address in addresses]
    assert [len(history) for history in many] == [0, 1, 2, 1]
    assert [p.type for p in many[2]] == [ProblemType.COMPLAINT, ProblemType.SOFT_BOUNCE]


async def test_fetch_many_of_one_address_is_fetch(
    store: DeliveryProblemStore, clock: FakeClock
) -> None:
    await store.record(problem("one@example.com", clock))

    assert [list(h) for h in await store.fetch_many(["one@example.com"])] == [
        list(await store.fetch("one@example.com"))
    ]


# One rule for both of the accounts database's stores (docs/stores.md): a record's createdAt
# is the time it is recorded, a notification is recorded once per feedback id and address,
# and a different problem is never taken for one already recorded.
@pytest.mark.parametrize("store_backend", sorted(SERVER_TIMESTAMPED))
async def test_accounts_db_stores_stamp_recording_time_and_keep_every_distinct_problem(
    store_backend: str, store: DeliveryProblemStore, clock: FakeClock
) -> None:
    soft, full = ProblemType.SOFT_BOUNCE, ProblemSubtype.MAILBOX_FULL
    first = problem("same@example.com", clock, soft, full, ago_seconds=3600, feedback_id="f-1")
    assert await store.record(first) is True
    assert await store.record(first) is False  # the same notification delivered again
    # A different bounce of the same kind, older than the record already on file.
    older = problem("same@example.com", clock, soft, full, ago_seconds=7200, feedback_id="f-2")
    assert await store.record(older) is True
    same_ms = problem("same@example.com", clock, ProblemType.COMPLAINT, ProblemSubtype.ABUSE)
    assert await store.record(same_ms) is True

    fetched = list(await store.fetch("same@example.com"))

    assert sorted((p.type, p.subtype) for p in fetched) == sorted(
        [(soft, full), (soft, full), (ProblemType.COMPLAINT, ProblemSubtype.ABUSE)]
    )
    assert len({p.created_at for p in fetched}) == 3
    assert all(p.created_at >= clock.now_ms() for p in fetched)  # not the notification's time


@pytest.mark.parametrize("store_backend", sorted(OWN_PROBLEM_STORES))
async def test_own_store_clears_one_address_and_counts_what_it_cleared(
    store_backend: str, store: DeliveryProblemStore, clock: FakeClock
) -> None:
    await store.record(problem("Fixed@example.com", clock, feedback_id="feedback-1"))
    await store.record(problem("fixed@example.com", clock, ProblemType.COMPLAINT, ago_seconds=5))
    await store.record(problem("other@example.com", clock))

    assert await store.clear("FIXED@example.com") == 2
    assert list(await store.fetch("fixed@example.com")) == []
    assert len(list(await store.fetch("other@example.com"))) == 1
    assert await store.clear("fixed@example.com") == 0
    # a problem recorded again after the clear counts anew, feedback id and all
    assert await store.record(problem("fixed@example.com", clock, feedback_id="feedback-1"))
    assert len(list(await store.fetch("fixed@example.com"))) == 1


@pytest.mark.parametrize("store_backend", sorted(set(PROBLEM_STORES) - OWN_PROBLEM_STORES))
async def test_accounts_database_refuses_to_clear_naming_itself_and_keeps_its_records(
    store_backend: str, store: DeliveryProblemStore, clock: FakeClock
) -> None:
    await store.record(problem("kept@example.com", clock))

    with pytest.raises(RecordsNotClearable) as refused:
        await store.clear("kept@example.com")

    assert (refused.value.errno, refused.value.backend) == (129, store_backend)
    assert len(list(await store.fetch("kept@example.com"))) == 1
