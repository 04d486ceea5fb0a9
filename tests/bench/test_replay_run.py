"""The reputation replay end to end on a small population: only its invariants."""

from __future__ import annotations

import os
from dataclasses import replace

from bench.replay.configurations import PROPOSED, limits_from_json, standard
from bench.replay.engine import Replay, Scenario
from bench.replay.figures import Figures
from bench.replay.population import PopulationSpec
from bench.replay.report import daily, table
from bench.replay.stores import StoreFactory, redis_stores, sqlite_stores

SMALL = Scenario(population=PopulationSpec(accounts=1500), days=30)
REDIS_TEST_DB = int(os.environ.get("FXA_TEST_REDIS_DB", "15"))


async def run(scenario: Scenario, stores: StoreFactory = sqlite_stores) -> list[Figures]:
    configurations = standard(limits_from_json(PROPOSED))
    return [await Replay(scenario, c, stores).run() for c in configurations]


async def test_every_send_and_notification_is_accounted_for_and_rates_are_rates() -> None:
    runs = await run(SMALL)
    for figures in runs:
        assert figures.unaccounted() == [], figures.name
        assert figures.total("attempted") > 1000
        assert figures.handled > 0 and figures.posted == figures.handled == figures.forwarded
        for name in ("hard", "soft", "complaints", "first_hard", "first_complaint"):
            assert 0 <= figures.rate(name) <= 1
            assert all(0 <= rate <= 1 for rate in figures.daily(name))
        assert 0 <= figures.deliverable_refused <= 1
    disabled = next(f for f in runs if f.name == "limits disabled")
    assert disabled.total("refused") == 0


async def test_the_same_seed_prints_the_same_table_and_another_seed_another() -> None:
    first = await run(SMALL)
    again = await run(SMALL)
    assert table(first) == table(again) and daily(first) == daily(again)
    other = await run(replace(SMALL, seed=2))
    assert table(other) != table(first)


async def test_the_redis_store_replays_the_month_as_sqlite_does() -> None:
    scenario = replace(SMALL, population=PopulationSpec(accounts=500))
    on_sqlite = await run(scenario)
    on_redis = await run(scenario, redis_stores(REDIS_TEST_DB))
    assert table(on_redis) == table(on_sqlite)


async def test_the_clock_ends_at_the_last_event_handled() -> None:
    replay = Replay(replace(SMALL, days=3), standard()[0])
    figures = await replay.run()
    assert figures.unaccounted() == []
    last_session = replay.sessions[-1].start_ms
    assert replay.clock.now_ms() > last_session  # its emails' notifications came after it
