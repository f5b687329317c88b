"""The hazard atlas, timed: every release row and receiver design, every outcome (issue #22's bound).

Run on demand from the repository root (not part of pytest)::

    .venv/bin/python benchmarks/atlas.py              # the whole atlas, 2 worker processes
    .venv/bin/python benchmarks/atlas.py --jobs 1 --budget 10

Goal: the whole atlas (7 release rows x 2 designs x 6 outcomes, the default budget of random schedules
per cell after the sweep of small ones, every minimal schedule confirmed by a real ``deliver()`` run)
in **under 2 minutes** of wall time on the project's 2-core machine.  Prints the wall time, the CPU
time of this process and its workers (what the machine's load does not inflate), how many schedules
were run on each engine, and the table.  The machine is shared: run it when it is quiet.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from blobedu.atlas import DEFAULT_BUDGET, atlas  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=int, default=DEFAULT_BUDGET)
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    t0, c0 = time.perf_counter(), os.times()
    result = atlas(budget=args.budget, jobs=args.jobs)
    wall, c1 = time.perf_counter() - t0, os.times()
    cpu = (c1.user - c0.user) + (c1.system - c0.system) + (c1.children_user - c0.children_user) + (
        c1.children_system - c0.children_system)
    tried = sum(c.tried for c in result.cells)
    print(result.table())
    print(f"\n{len(result.cells)} cells, {len(result.findings)} findings, {tried:,} schedules drawn "
          f"(budget {args.budget} random per cell after the sweep), jobs {args.jobs}")
    print(f"wall {wall:.1f} s, CPU {cpu:.1f} s (goal: wall under 120 s); load average now "
          f"{os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
