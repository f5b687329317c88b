"""The fleet engine, timed: thousands of messages through an outage (issue #13's two speed goals).

Run on demand from the repository root (not part of pytest)::

    .venv/bin/python benchmarks/fleet.py            # 5 timed runs per scenario, medians reported
    .venv/bin/python benchmarks/fleet.py --runs 9 --profile

Goals (the default sender mix stalwart:40,postfix:40,exim:20, Stalwart 0.16.18 receiver):

* ``10k/day, 6 h refused``: 10,000 messages over one day through ``refused@6h-12h`` in **under 5 s**
  of wall time, measured two ways: the engine's run (``FleetResult.wall_seconds``) and the whole
  ``blobedu fleet ... --json`` command in a fresh process (Python start, imports, JSON out).
* ``1k/day, 6 h refused``: 1,000 messages in **under 1 s**, so a panel stays interactive; measured
  as the engine's run and as a whole panel refresh (run, draw the four curves, encode the PNG).

* ``1M/day, 6 h refused, 100 real senders`` (issue #21 item 7): 1,000,000 messages over a day through
  ``refused@6h-12h`` with the real senders; goal **under 20 s and under 1 GB** of peak RSS.  Run on its
  own in a fresh process (``--million``, or ``--scale`` for the 10k/200k/1M rows with CPU time and peak
  RSS each), past the API's cap of 200,000 (``MAX_MESSAGES``, raised for that process only).

Other rows show what costs more: the write-ahead spool (every spooled message retries its upload
every minute), a hung S3 on 0.15 (sessions pile up), a 503 storm with maxRetries 10, a 20 req/s S3.
``--profile`` prints cProfile's top functions for the 10k scenario.  These are benchmarks, not tests:
nothing asserts; the machine is shared, so run them when it is quiet and read medians.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from blobedu.fleet import FleetConfig, run  # noqa: E402
from blobedu.store import StoreConfig  # noqa: E402

OUTAGE = ["refused@6h-12h"]
SCENARIOS = [
    ("10k/day, 6 h refused (goal < 5 s)", OUTAGE, FleetConfig(messages=10_000)),
    ("1k/day, 6 h refused (goal < 1 s)", OUTAGE, FleetConfig(messages=1_000)),
    ("10k, 6 h refused, WAL receiver", OUTAGE, FleetConfig(messages=10_000, receiver="wal")),
    ("10k, 6 h silent S3 on 0.15.5 (hangs)", ["timeout@6h-12h"], FleetConfig(messages=10_000, store=StoreConfig(version="0.15.5"))),
    ("10k, 6 h 503 storm, maxRetries 10", ["503@6h-12h"], FleetConfig(messages=10_000, store=StoreConfig(max_retries=10))),
    ("10k, 6 h refused, S3 capacity 20 req/s", OUTAGE, FleetConfig(messages=10_000, s3_capacity=20.0)),
    # real senders (issue #21): 100 sending servers with their MTAs' concurrency limits, sessions that take time
    ("10k/day, 6 h refused, 100 real senders (goal < 1 s)", OUTAGE, FleetConfig.real(messages=10_000)),
    ("10k, 6 h silent S3 on 0.15.5, real senders (8,192 cap)", ["timeout@6h-12h"],
     FleetConfig.real(messages=10_000, store=StoreConfig(version="0.15.5"))),
    ("200k/day, 6 h refused, 100 real senders", OUTAGE, FleetConfig.real(messages=200_000)),
    # issue #21's capacity backlog: 12 min and 2.1 GB before; bounded now (measured: see benchmarks/README.md)
    ("100k over 6h, postfix, refused 0-6h, 10 req/s, real senders", ["refused@0-6h"],
     FleetConfig.real(messages=100_000, over=6 * 3600.0, senders=(("postfix", 1.0),), s3_capacity=10.0)),
]


def engine(faults, config, runs: int) -> tuple[float, float, object]:
    """Median and max of the engine's own wall time over ``runs`` runs (after a warm-up)."""
    run(faults, config)
    times, result = [], None
    for _ in range(runs):
        result = run(faults, config)
        times.append(result.wall_seconds)
    return statistics.median(times), max(times), result


def whole_command(runs: int) -> float:
    """Median wall time of ``blobedu fleet --messages 10000 --fault refused@6h-12h --json`` in a fresh process."""
    cmd = [sys.executable, "-m", "blobedu", "fleet", "--messages", "10000", "--fault", OUTAGE[0], "--json"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
        times.append(time.perf_counter() - t0)
        assert json.loads(out)["messages"] == 10_000
    return statistics.median(times)


def panel_refresh(runs: int) -> float:
    """Median wall time of a fleet panel's refresh (run 1,000 messages, draw, encode the PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    from blobedu.fleet_plots import fleet_panel

    panel = fleet_panel()
    times = []
    for k in range(runs):
        t0 = time.perf_counter()
        panel.update(outage="6h" if k % 2 else "3h")  # a real change each time
        times.append(time.perf_counter() - t0)
    assert panel.result is not None, panel.error
    return statistics.median(times)


_SCALE_RUN = """
import resource, sys, time
import blobedu.fleet.config as config
config.MAX_MESSAGES = max(config.MAX_MESSAGES, {n})  # past the API's cap, for this benchmark's process only
from blobedu.fleet import FleetConfig, run
t0, c0 = time.perf_counter(), time.process_time()
r = run({faults!r}, FleetConfig.real(messages={n}))
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(wall, cpu, rss, r.smtp_sessions, r.s3_requests, r.fates["delivered"])
"""


def at_scale(n: int) -> tuple[float, float, float, int, int, int]:
    """One run of ``n`` messages with the real senders through the 6 h refusal, in a fresh process.

    Returns (wall s, CPU s, peak RSS MB, SMTP sessions, S3 requests, delivered): the run's own wall
    and CPU time (imports excluded), and the process's peak resident memory (imports included).
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", _SCALE_RUN.format(n=n, faults=OUTAGE)], capture_output=True,
                         text=True, check=True, env=env).stdout.split()
    wall, cpu, rss = map(float, out[:3])
    sessions, requests, delivered = map(int, out[3:])
    return wall, cpu, rss, sessions, requests, delivered


def scale(sizes) -> None:
    print(f"{'real senders, 6 h refused, fresh process':<44} {'wall':>8} {'CPU':>8} {'peak RSS':>9}  sessions  requests")
    for n in sizes:
        wall, cpu, rss, sessions, requests, _ = at_scale(n)
        print(f"{f'{n:,} messages':<44} {wall:>7.2f}s {cpu:>7.2f}s {rss:>6.0f} MB  {sessions:>8,} {requests:>9,}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--million", action="store_true", help="only the 1,000,000-message row (goal < 20 s, < 1 GB)")
    parser.add_argument("--scale", action="store_true", help="only 10k, 200k and 1M with the real senders")
    args = parser.parse_args(argv)
    if args.million or args.scale:
        scale([1_000_000] if args.million else [10_000, 200_000, 1_000_000])
        return 0
    print(f"{'scenario':<44} {'median':>8} {'max':>8}  sessions  requests  simulated")
    for label, faults, config in SCENARIOS:
        median, worst, result = engine(faults, config, args.runs)
        print(f"{label:<44} {median:>7.3f}s {worst:>7.3f}s  {result.smtp_sessions:>8,} {result.s3_requests:>9,}"
              f"  {result.ended / 86400:.2f} d")
    scale([1_000_000])  # issue #21 item 7's goal: under 20 s and 1 GB
    print(f"{'whole command, 10k (fresh process)':<44} {whole_command(max(1, args.runs // 2)):>7.3f}s")
    print(f"{'panel refresh, 1k (run + draw + PNG)':<44} {panel_refresh(args.runs):>7.3f}s")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run(OUTAGE, FleetConfig(messages=10_000))
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
