"""Bounded cost: a run is refused up front, with one line saying why, when its work cannot be bounded.

The engine's cost is its steps (a process woken: an attempt, a request, a wait).  Two kinds of run
grow without bound in proportion to anything a reader would call their size:

* **a write-ahead spool against a long outage**: every spooled message retries its upload every
  :data:`~blobedu.fleet.config.UPLOAD_RETRY_SECONDS` until S3 comes back or its queue expires, so
  its cost is messages x outage / 60 s x the requests of one upload.  That is known before the
  run: :func:`refuse_unbounded` estimates it and refuses a run over :data:`MAX_WORK`.
* anything else whose steps outrun :func:`step_budget` (a backlog that S3's capacity drains more
  slowly than the senders retry, say): the kernel counts its steps and stops the run there with
  :class:`~blobedu.errors.BlobeduError`, so a run never goes on for long; the CLI turns that
  into exit 2 with one line.  Every run that finishes therefore cost at most the budget.

The budget is per message plus a constant, capped: :data:`STEPS_PER_MESSAGE` is several times
what the costliest scenario in the test suite takes per message (a 6 h refusal with real senders:
about 25 steps a message), so no ordinary run meets it.
"""

from __future__ import annotations

from ..errors import BlobeduError
from ..faults import plan
from ..schedules import stalwart
from .config import UPLOAD_RETRY_SECONDS, FleetConfig

#: the most S3 requests a run may be estimated to make before it is refused up front
MAX_WORK = 20_000_000
STEPS_PER_MESSAGE = 400
BASE_STEPS = 1_000_000
MAX_STEPS = 40_000_000


def step_budget(messages: int) -> int:
    """How many kernel steps a run of ``messages`` may take."""
    return min(MAX_STEPS, BASE_STEPS + STEPS_PER_MESSAGE * messages)


def spool_work(faults, config: FleetConfig) -> float:
    """An upper estimate of the S3 requests a write-ahead spool's uploads make during the S3 faults."""
    if config.receiver != "wal":
        return 0.0
    fp = plan(faults)
    expire = stalwart(config.store.version).expire or 0.0
    per_try = 2 * (1 + (config.store.resolved()["max_retries"] or 0)) + 1  # PUT retries (and rust-s3's), HEAD/GET
    n, over = config.messages, config.over
    total = 0.0
    for f in fp.s3:
        end = f.start + 30 * 86400.0 if f.end is None else f.end
        # messages arrive evenly over `over`; each spooled one retries from max(arrival, start) to min(end, arrival + expire)
        samples = min(n, 200)
        for k in range(samples):
            arrival = over * (k + 0.5) / samples
            span = min(end, arrival + expire) - max(f.start, arrival)
            if span > 0:
                total += (n / samples) * (span / UPLOAD_RETRY_SECONDS) * per_try
    return total


def refuse_unbounded(faults, config: FleetConfig) -> None:
    """Raise :class:`BlobeduError` (one line) for a run whose cost is known up front to be out of bounds."""
    work = spool_work(faults, config)
    if work > MAX_WORK:
        raise BlobeduError(
            f"refused: a write-ahead spool retries each upload every {UPLOAD_RETRY_SECONDS:g} s, so these "
            f"{config.messages:,} messages would make about {work:,.0f} S3 requests during the outage (the bound is "
            f"{MAX_WORK:,}); use fewer messages or an outage with an end")
