"""Mutation testing of the domain and of request validation, with mutmut: killed / survived.

Not part of CI: a tool for whoever changes a rule, to see whether the tests would notice.

    .venv/bin/pip install -e '.[test,mutation]'
    .venv/bin/python bench/mutation.py [--survivors] [--keep] [--max-children 2]

It runs ``mutmut run`` with ``[tool.mutmut]`` of pyproject.toml (the mutated files are
``domain/`` and ``entrypoints/requests.py``; the tests are the fast in-process ones, no
server needed), then prints per file how many mutants the tests killed and how many
survived. mutmut mutates what runs inside functions; module-level tables, regular
expressions and enums are pinned by the tests of docs/api.md's rules instead. ``--keep``
reuses the previous run's ``mutants/`` folder (mutmut then tests only what changed);
``--survivors`` prints each survivor's diff. See docs/operations.md, benchmarks.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = Path(sys.executable).parent / "mutmut"
STATUSES = ("killed", "survived", "timeout", "no tests", "suspicious", "skipped")


def source_file(mutant: str) -> str:
    """``domain.limits.x_parse_period__mutmut_3`` -> ``domain/limits.py``."""
    parts = mutant.split(".")
    for end in range(len(parts), 0, -1):
        candidate = Path(*parts[:end]).with_suffix(".py")
        if (ROOT / candidate).is_file():
            return candidate.as_posix()
    return mutant


def results() -> dict[str, str]:
    """Every mutant's status, from ``mutmut results --all true``."""
    out = subprocess.run(
        [str(MUTMUT), "results", "--all", "true"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    statuses = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and name:
            statuses[name] = status
    return statuses


def table(statuses: dict[str, str]) -> str:
    by_file: dict[str, Counter[str]] = defaultdict(Counter)
    for mutant, status in statuses.items():
        by_file[source_file(mutant)][status] += 1
    others = sorted({s for counts in by_file.values() for s in counts} - set(STATUSES))
    columns = [*STATUSES, *others]
    lines = ["file".ljust(30) + "".join(c.rjust(11) for c in columns) + "   killed %"]
    total: Counter[str] = Counter()
    for path in sorted(by_file):
        counts = by_file[path]
        total.update(counts)
        lines.append(_row(path, counts, columns))
    lines.append(_row("all", total, columns))
    return "\n".join(lines)


def _row(label: str, counts: Counter[str], columns: list[str]) -> str:
    tested = counts["killed"] + counts["survived"] + counts["timeout"]
    share = f"{100 * (counts['killed'] + counts['timeout']) / tested:.1f}" if tested else "-"
    cells = "".join(str(counts[c]).rjust(11) for c in columns)
    return label.ljust(30) + cells + share.rjust(11)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="reuse the previous mutants/")
    parser.add_argument("--survivors", action="store_true", help="print each survivor's diff")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    if not MUTMUT.exists():
        raise SystemExit("mutmut is needed: .venv/bin/pip install -e '.[test,mutation]'")
    if not args.keep:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    started = time.perf_counter()
    run = subprocess.run(
        [str(MUTMUT), "run", "--max-children", str(args.max_children)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
        raise SystemExit(f"mutmut run failed ({run.returncode})")
    statuses = results()
    print(f"mutmut over domain/ and entrypoints/requests.py: {time.perf_counter() - started:.0f} s")
    print(table(statuses))
    if args.survivors:
        for mutant in sorted(m for m, s in statuses.items() if s == "survived"):
            shown = subprocess.run(
                [str(MUTMUT), "show", mutant], cwd=ROOT, capture_output=True, text=True
            )
            print()
            print(shown.stdout.rstrip())


if __name__ == "__main__":
    main()
