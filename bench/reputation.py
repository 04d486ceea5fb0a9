"""A month of transactional mail replayed through the limits: what the provider sees.

A deterministic simulation (same seed, same table) of 30 days of an accounts system's mail
(sign-up confirmations, sign-in codes, password resets) to a population of mailboxes, some
dead, some full for a while, some that complain. Every send goes through the SendEmail
service and every bounce, complaint and delivery the simulated provider reports goes
through the notification handler, on a real store adapter and a simulated clock. It prints,
per configuration, the bounce and complaint rates the provider sees and the deliverable
mail the limits refused. See docs/reputation.md.

    python bench/reputation.py [--seed 1] [--accounts 50000] [--days 30] [--store sqlite|redis]

With ``--store redis`` it uses the local Redis (FXA_EMAIL_REDIS_HOST, _PORT) and empties the
service's keys in logical DB FXA_EMAIL_REDIS_DB (default 15) before and after each run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.replay.configurations import (  # noqa: E402
    PROPOSED,
    Configuration,
    limits_from_json,
    standard,
)
from bench.replay.engine import Replay, Scenario  # noqa: E402
from bench.replay.figures import Figures  # noqa: E402
from bench.replay.report import daily, table  # noqa: E402
from bench.replay.stores import StoreFactory, redis_stores, sqlite_stores  # noqa: E402


async def run_all(
    scenario: Scenario, configurations: list[Configuration], stores: StoreFactory
) -> list[Figures]:
    runs = []
    for configuration in configurations:
        figures = await Replay(scenario, configuration, stores).run()
        wrong = figures.unaccounted()
        if wrong:
            raise SystemExit(f"{configuration.name}: " + "; ".join(wrong))
        runs.append(figures)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--accounts", type=int, default=50_000, help="existing accounts")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--store", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument(
        "--no-proposal", action="store_true", help="only the three reference configurations"
    )
    parser.add_argument("--daily", action="store_true", help="also print every day's rates")
    args = parser.parse_args()

    base = Scenario()
    scenario = replace(
        base,
        seed=args.seed,
        days=args.days,
        population=replace(base.population, accounts=args.accounts),
    )
    proposal = None if args.no_proposal else limits_from_json(PROPOSED)
    stores = redis_stores() if args.store == "redis" else sqlite_stores
    started = time.perf_counter()
    runs = asyncio.run(run_all(scenario, standard(proposal), stores))
    elapsed = time.perf_counter() - started
    print(
        f"{scenario.days} days, seed {scenario.seed}, {args.accounts:,} accounts, "
        f"{args.store} store: {elapsed:.0f} s for {len(runs)} configurations"
    )
    print(table(runs))
    if args.daily:
        print()
        print(daily(runs))


if __name__ == "__main__":
    main()
