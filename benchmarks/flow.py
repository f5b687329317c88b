"""The SMTP flow, timed: a 4-day S3 outage against real senders' schedules, every attempt a real SMTP session.

Run on demand from the repository root (not part of pytest)::

    .venv/bin/python benchmarks/flow.py            # 3 timed runs per scenario, medians reported
    .venv/bin/python benchmarks/flow.py --runs 5

Scenario: ``refused@0-4d`` (S3 unreachable for 4 days) on a Stalwart 0.16.18 receiver.

* Postfix sender: retries on its 300 s queue runs with a backoff clamped to [300 s, 4000 s]; about
  86 sessions, delivered just after the 4 days (its 5-day lifetime is not reached).
* Stalwart 0.16 sender: 2m, 5m, 10m, 15m, 30m, 1h, 2h, 1d; 9 sessions, bounced at its 3-day expiry.

Figures: sessions, simulated time, wall time of the virtual-time run (``trace.wall_seconds``: the
looptime loop with its SMTP sessions and moto requests), wall time of the whole ``deliver()`` call
(including starting moto's in-process mock), and simulated seconds per wall second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from blobedu.delivery import DeliveryConfig, deliver  # noqa: E402

OUTAGE = ["refused@0-4d"]
SENDERS = ("postfix", "stalwart")


def measure(sender: str, runs: int) -> dict:
    """Run the scenario ``runs`` times after one warm-up; medians of the wall times."""
    config = DeliveryConfig(sender=sender)
    deliver(OUTAGE, config)  # warm-up: imports, boto3 models, moto's first start
    inner, outer, trace = [], [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        trace = deliver(OUTAGE, config)
        outer.append(time.perf_counter() - t0)
        inner.append(trace.wall_seconds)
    assert trace is not None
    wall = statistics.median(inner)
    return {
        "sender": sender,
        "sessions": len(trace.sessions),
        "fate": trace.fate,
        "when": (trace.delivered_at if trace.fate == "delivered"
                 else next(d["t"] for d in trace.dsns if d["kind"] == "failed")),
        "simulated_s": trace.ended,
        "wall_s": wall,
        "wall_total_s": statistics.median(outer),
        "ratio": trace.ended / wall,
        "ms_per_session": 1000.0 * wall / len(trace.sessions),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per scenario (median reported)")
    args = parser.parse_args(argv)
    print(f"S3 outage {OUTAGE[0]} on a Stalwart 0.16.18 receiver; median of {args.runs} runs after a warm-up\n")
    for sender in SENDERS:
        r = measure(sender, args.runs)
        print(f"{sender} sender")
        print(f"  {'real SMTP sessions':<34} {r['sessions']:>14d}")
        print(f"  {'outcome':<34} {r['fate']} at {r['when']:.0f} s ({r['when'] / 86400:.3f} d)")
        print(f"  {'simulated time':<34} {r['simulated_s']:>14.0f} s  ({r['simulated_s'] / 86400:.3f} d)")
        print(f"  {'wall time, virtual-time run':<34} {r['wall_s']:>14.3f} s")
        print(f"  {'wall time, whole deliver()':<34} {r['wall_total_s']:>14.3f} s")
        print(f"  {'wall time per session':<34} {r['ms_per_session']:>14.1f} ms")
        print(f"  {'simulated s / wall s':<34} {r['ratio']:>14,.0f} x\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
