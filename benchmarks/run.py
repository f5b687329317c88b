"""blobedu benchmarks: how fast the model simulates, and what the virtual clock saves.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/run.py            # every benchmark
    .venv/bin/python benchmarks/run.py outage     # only those whose name contains "outage"

Each benchmark is a function that returns a list of ``(label, value, unit)`` figures; ``BENCHMARKS``
at the bottom lists them in the order ``main`` runs them.  To add one (e.g. an SMTP-flow benchmark
with ``blobedu.delivery.deliver``), write ``def bench_smtp_flow() -> list[Figure]`` in its own
section below and append it to ``BENCHMARKS``.  Goal: the 10-retry outage simulates in well under
100 ms of wall time (see benchmarks/README.md).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from blobedu.clock import RealClock, VirtualClock  # noqa: E402
from blobedu.faults import Fault  # noqa: E402
from blobedu.store import S3BlobStore, StoreConfig  # noqa: E402

Figure = tuple[str, float, str]

RUNS = 7  # timed repetitions; the median is reported


def _median_ms(fn: Callable[[], object], runs: int = RUNS, warm_up: bool = True) -> tuple[float, object]:
    """Run ``fn`` ``runs`` times (after one warm-up); the median wall time in ms and the last result."""
    if warm_up:
        fn()  # imports, boto3 model loading, moto's first request
    result = None
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times), result


def _blob(n: int) -> bytes:
    return f"Subject: benchmark {n}\r\n\r\nbody\r\n".encode()


# ================================================================ S3 store: the maxRetries=10 outage
def bench_outage_max_retries_10() -> list[Figure]:
    """A PUT against a permanent 503 with maxRetries=10 (0.16.18): 11 requests, 319 s of backoff, virtual clock."""
    from blobedu.endpoint import InProcessEndpoint

    counter = iter(range(10**9))
    with InProcessEndpoint() as endpoint:  # created once, outside the timing
        config = StoreConfig(version="0.16.18", max_retries=10)

        def one_put():
            store = S3BlobStore(config, endpoint, VirtualClock(), [Fault("503", 0.0, None)])
            store.origin = store.clock.now()
            return store.put(_blob(next(counter)))

        wall_ms, trace = _median_ms(one_put)
    simulated = trace.elapsed
    return [
        ("simulated time", simulated, "s"),
        ("backoff slept (facts: 319 s)", sum(s.seconds for s in trace.sleeps), "s"),
        ("requests (facts: 11)", len(trace.requests), ""),
        ("wall time (median of %d)" % RUNS, wall_ms, "ms"),
        ("simulated s / wall s", simulated / (wall_ms / 1000.0), "x"),
        ("goal: wall time < 100 ms", 1.0 if wall_ms < 100 else 0.0, "(1 = met)"),
    ]


# ================================================================ S3 store: real clock vs virtual clock
# The same short scenario as tests/test_loopback.py, on a loopback moto server with real sockets:
# timeout (0.3 s), rust-s3's 1 s transport retry, 503, 1 s backoff, refused, 1 s transport retry, 200.
SCENARIO = [Fault("timeout", 0.0, 0.8), Fault("503", 0.8, 1.8), Fault("refused", 1.8, 2.8)]


def bench_real_vs_virtual_clock() -> list[Figure]:
    """The loopback scenario on RealClock (really waits) and on VirtualClock (does not)."""
    from blobedu.endpoint import LoopbackEndpoint

    counter = iter(range(10**9))
    config = StoreConfig(version="0.16.18", max_retries=2, timeout=0.3)
    with LoopbackEndpoint() as endpoint:
        endpoint.prepare(0.3, real_time=True)
        endpoint.prepare(0.3, real_time=False)

        def run(clock_type):
            store = S3BlobStore(config, endpoint, clock_type(), SCENARIO)
            store.origin = store.clock.now()
            return store.put(_blob(next(counter)))

        virtual_ms, virtual = _median_ms(lambda: run(VirtualClock), runs=5)
        real_ms, real = _median_ms(lambda: run(RealClock), runs=1, warm_up=False)  # the virtual runs warmed up
    same = [(r.method, r.result) for r in real.requests] == [(r.method, r.result) for r in virtual.requests]
    return [
        ("simulated time", virtual.elapsed, "s"),
        ("real clock wall time", real_ms, "ms"),
        ("virtual clock wall time (median of 5)", virtual_ms, "ms"),
        ("real / virtual", real_ms / virtual_ms, "x"),
        ("same requests on both clocks", 1.0 if same else 0.0, "(1 = yes)"),
    ]


# ================================================================ SMTP flow
def _flow(sender: str) -> list[Figure]:
    from blobedu.delivery import DeliveryConfig, deliver

    trace = deliver(["refused@0-4d"], DeliveryConfig(sender=sender))
    return [
        ("real SMTP sessions", float(len(trace.sessions)), ""),
        ("simulated time", trace.ended / 86400, "d"),
        ("wall time", trace.wall_seconds, "s"),
        ("simulated s / wall s", trace.ended / trace.wall_seconds, "x"),
    ]


def bench_flow_postfix_4d_outage() -> list[Figure]:
    """A 4-day refused S3 against Postfix's schedule: every attempt a real SMTP session (goal: a few s)."""
    return _flow("postfix")


def bench_flow_stalwart_4d_outage() -> list[Figure]:
    """The same outage against a Stalwart 0.16 sender (bounces at its 3-day expiry)."""
    return _flow("stalwart")


# ================================================================ fleet (issue #13; more rows in benchmarks/fleet.py)
def _fleet(messages: int, goal: float) -> list[Figure]:
    from blobedu.fleet import FleetConfig, run

    config = FleetConfig(messages=messages)
    run(["refused@6h-12h"], config)  # warm-up
    walls = []
    for _ in range(5):
        result = run(["refused@6h-12h"], config)
        walls.append(result.wall_seconds)
    wall = statistics.median(walls)
    return [
        ("SMTP sessions", float(result.smtp_sessions), ""),
        ("S3 requests", float(result.s3_requests), ""),
        ("simulated time", result.ended / 86400, "d"),
        ("engine wall time (median of 5)", wall, "s"),
        (f"goal: wall time < {goal:g} s", 1.0 if wall < goal else 0.0, "(1 = met)"),
    ]


def bench_fleet_10k_day_6h_refused() -> list[Figure]:
    """10,000 messages over a day through refused@6h-12h, senders stalwart:40,postfix:40,exim:20 (goal < 5 s)."""
    return _fleet(10_000, 5.0)


def bench_fleet_1k_day_6h_refused() -> list[Figure]:
    """1,000 messages over a day through refused@6h-12h, so a panel stays interactive (goal < 1 s)."""
    return _fleet(1_000, 1.0)


# ================================================================ runner
BENCHMARKS: list[Callable[[], list[Figure]]] = [
    bench_outage_max_retries_10,
    bench_real_vs_virtual_clock,
    bench_flow_postfix_4d_outage,
    bench_flow_stalwart_4d_outage,
    bench_fleet_10k_day_6h_refused,
    bench_fleet_1k_day_6h_refused,
]


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark (or those whose name contains one of ``argv``) and print its figures."""
    wanted = argv if argv is not None else sys.argv[1:]
    for bench in BENCHMARKS:
        if wanted and not any(w in bench.__name__ for w in wanted):
            continue
        print(f"{bench.__name__}: {(bench.__doc__ or '').strip().splitlines()[0]}")
        t0 = time.perf_counter()
        for label, value, unit in bench():
            print(f"  {label:<40} {value:>12.3f} {unit}")
        print(f"  {'(benchmark total)':<40} {time.perf_counter() - t0:>12.3f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
