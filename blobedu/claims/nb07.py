"""notebooks/07_fleet.ipynb's numbers: the fleet runs the notebook makes, re-run (cached), and the sources."""

from functools import lru_cache

from ..clock import HORIZON_SECONDS
from ..schedules import DAY, attempt_times, sender_schedule
from . import Input, Model, Source
from .helpers import dur


@lru_cache(maxsize=None)
def _run(faults: tuple, **kw):
    from ..fleet import FleetConfig, run

    real = kw.pop("real", True)
    return run(list(faults), (FleetConfig.real if real else FleetConfig)(messages=10_000, **kw))


def _day(**kw):
    return _run(("refused@6h-12h",), **kw)


def _silent_015():
    from ..store import StoreConfig

    return _run(("timeout@6h-12h",), store=StoreConfig(version="0.15.5"))


def _jitter(jitter: str):
    """The jitter section's runs: the day with queue runs in step and S3 serving 5 writes a second."""
    return _run(("refused@6h-12h",), s3_capacity=5, phases="aligned", jitter=jitter)


def _tries() -> list[str]:
    """A Stalwart 0.16 sender's tries, on the schedule's own clock (each attempt taking no time)."""
    return [dur(t) for t in attempt_times(sender_schedule("stalwart"), 3 * DAY, attempt_cost=0.0)[1:8]]


CLAIMS = [
    Input("10,000 messages 100 6h 12h 40 % 20 %", "the day every section runs: FleetConfig.real(messages=10_000), refused@6h-12h, "
          "DEFAULT_SENDERS, DEFAULT_SENDING_SERVERS"),
    Input("6 3 2,000 messages 102h 11h 1,000 messages 60 s 0", "the four-day run (refused@6h-102h), the disk lost at 11h, "
          "the panel's default, the 60 s burst of the capacity table, the 6-hour outage, 3-day expiry, the first try at 0"),
    Model("2,501 messages", lambda: f"{_day().peaks['sender_backlog']:,} messages"),
    Model("42", lambda: f"{_day().peaks['s3_requests_per_s']:,}"),
    Model("933", lambda: f"{_day(phases='aligned').peaks['s3_requests_per_s']:,}"),
    Model("512 MiB", lambda: f"{_silent_015().peaks['receiver_memory_bytes'] / 2**20:,.0f} MiB"),
    Model("2m 7m 17m 32m 1h02m 2h02m 4h02m", lambda: " ".join(_tries())),
    Model("23h59m", lambda: dur(_day().drain["sender_backlog_seconds"])),
    Model("12,762", lambda: f"{_jitter('full').s3_slowdowns:,}", note="a counterfactual run (jitter='full'), seed 0"),
    Model("17,292", lambda: f"{_jitter('none').s3_slowdowns:,}"),
    Model("26,907 sessions", lambda: f"{_jitter('full').smtp_sessions:,} sessions", note="counterfactual, seed 0"),
    Model("28,438", lambda: f"{_jitter('none').smtp_sessions:,}"),
    Source("2015", "Marc Brooker, 'Exponential Backoff And Jitter', AWS Architecture Blog, 2015 (the comparison's date)"),
    Source("300s", "Postfix queue_run_delay default 300s (postconf(5))"),
    Model("30 days", lambda: f"{HORIZON_SECONDS / DAY:g} days"),
    Source("8,192", "common/src/config/server/listener.rs:197-203@v0.15.5 (server.max-connections default 8192)"),
    Source("5 20", "Postfix initial_destination_concurrency 5, default_destination_concurrency_limit 20 "
           "(src/global/mail_params.h:867,872@v3.7.11)"),
    Source("25", "Stalwart MtaVirtualQueue threadsPerNode 25 (registry/src/schema/structs_impl.rs:29486@v0.16.18)"),
    Source("5 min 30 min", "Postfix queue_run_delay 300s (postconf(5)); Debian's exim4 -q30m (/etc/init.d/exim4:38)"),
    Source("3,500 5,500", "Amazon S3 User Guide, 'Best practices design patterns: optimizing Amazon S3 performance'"),
    Source("300 ms 10 Mbit/s 10", "assumptions stated in blobedu/fleet/config.py (DEFAULT_SESSION_SETUP, DEFAULT_BANDWIDTH)"),
    Source("64 KiB", "blobedu/fleet/config.py DEFAULT_SIZE (spool.DEFAULT_MESSAGE_BYTES)"),
    Source("1, 2, 4 s 1 s", "crates/store/src/backend/s3/mod.rs@v0.16.18: 1 << (max_retries - retries_left).min(6); "
           "rust-s3's hidden retry after 1 s (s3/src/utils/mod.rs:402@0.37.1)"),
    Source("503s 451s", "503 SlowDown (S3 'Troubleshooting: 503 Slow Down'); 451 4.3.5 (data.rs:829@v0.16.18)"),
]
