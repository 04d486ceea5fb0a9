"""The tables bench/reputation.py prints: one column per configuration."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

from bench.replay.figures import GOAL_BOUNCE, GOAL_COMPLAINT, GOAL_REFUSED, Figures

_LABEL = 40
_COLUMN = 18


def percent(value: float, digits: int = 3) -> str:
    return f"{value * 100:.{digits}f} %"


def _count(value: int) -> str:
    return f"{value:,}"


Row = tuple[str, Callable[[Figures], str]]
ROWS: Sequence[Row] = (
    ("sends attempted", lambda f: _count(f.total("attempted"))),
    ("accepted by the provider", lambda f: _count(f.total("accepted"))),
    (
        "refused by limit: 106 / 107 / 108",
        lambda f: " / ".join(_count(f.refused_by_errno.get(n, 0)) for n in (106, 107, 108)),
    ),
    ("hard-bounce rate, month", lambda f: percent(f.rate("hard"))),
    ("hard-bounce rate, worst day", lambda f: percent(f.worst("hard"))),
    ("  floor: first bounces, worst day", lambda f: percent(f.worst("first_hard"))),
    ("soft-bounce rate, month", lambda f: percent(f.rate("soft"))),
    ("soft-bounce rate, worst day", lambda f: percent(f.worst("soft"))),
    ("complaint rate, month", lambda f: percent(f.rate("complaints"), 4)),
    ("complaint rate, worst day", lambda f: percent(f.worst("complaints"), 4)),
    ("  floor: first complaints, worst day", lambda f: percent(f.worst("first_complaint"), 4)),
    ("deliverable mail refused", lambda f: percent(f.deliverable_refused)),
    (
        "  of which 106 / 107 / 108",
        lambda f: " / ".join(
            _count(f.deliverable_refused_by_errno.get(n, 0)) for n in (106, 107, 108)
        ),
    ),
    ("death -> block, median", lambda f: _death_to_block(f, statistics.median)),
    ("death -> block, longest", lambda f: _death_to_block(f, max)),
    ("sends to a mailbox after its death", lambda f: _mean(f.sent_after_death)),
    ("notifications handled (with copies)", lambda f: _count(f.handled)),
    ("goal met", lambda f: "yes" if f.meets_goal else "no"),
)


def _death_to_block(figures: Figures, pick: Callable[[list[float]], float]) -> str:
    if not figures.death_to_block_h:
        return "never" if figures.never_blocked else "-"
    return f"{pick(figures.death_to_block_h):.0f} h"


def _mean(values: list[int]) -> str:
    return f"{statistics.fmean(values):.2f}" if values else "-"


def table(runs: Sequence[Figures]) -> str:
    """The figures of each run side by side, then the goal they are measured against."""
    lines = [_line("", [run.name for run in runs]), _line("", ["-" * (_COLUMN - 2)] * len(runs))]
    lines += [_line(label, [cell(run) for run in runs]) for label, cell in ROWS]
    lines.append(
        f"goal: worst-day hard-bounce rate < {percent(GOAL_BOUNCE, 0)}, complaint rate < "
        f"{percent(GOAL_COMPLAINT, 2)}, deliverable mail refused < {percent(GOAL_REFUSED, 1)}"
    )
    return "\n".join(lines)


def daily(runs: Sequence[Figures]) -> str:
    """Each day's hard-bounce and complaint rates, per run."""
    lines = [_line("day: hard bounces / complaints", [run.name for run in runs])]
    for index in range(len(runs[0].days) if runs else 0):
        cells = [
            f"{percent(run.daily('hard')[index], 2)} / {percent(run.daily('complaints')[index], 3)}"
            for run in runs
        ]
        lines.append(_line(f"{index + 1:>3}", cells))
    return "\n".join(lines)


def _line(label: str, cells: Sequence[str]) -> str:
    return label.ljust(_LABEL) + "".join(cell.rjust(_COLUMN + 2) for cell in cells)
