"""How long a sending server waits between delivery attempts, and when it gives up: pure functions.

Each schedule answers three questions from the attempt history alone, without a clock or I/O:

* :meth:`Schedule.next_attempt` — after a temporary failure at ``now``, when is the next attempt
  (or ``None``: the message bounces now)?
* :meth:`Schedule.expires_at` — when a message queued at ``queued`` bounces without another try
  (``None`` when the schedule bounces only on a failed attempt, as Postfix and Exim do);
* :meth:`Schedule.warnings` — when delay notifications (DSN "delayed") go out.

Sources (``shared/stalwart-facts.md`` §3):

* Stalwart: the queue's retry intervals, the last repeating; notify and expire, by version
  (``crates/common/src/config/smtp/queue.rs``; v0.16 registry defaults).
* Postfix: ``queue_run_delay`` 300 s, ``minimal_backoff_time`` 300 s, ``maximal_backoff_time``
  4000 s, ``maximal_queue_lifetime`` 5d.  The next delay is the time the message has spent in the
  queue, clamped to [300 s, 4000 s]; the queue manager picks it up at its next queue run.
  ``delay_warning_time`` is 0 (off) by default.
* Exim: ``F,2h,15m; G,16h,1h,1.5; F,4d,6h`` (``src/src/configure.default``), timed from the first
  failure; a failure after the last cutoff bounces.  ``delay_warning`` defaults to 24h.
* RFC 5321 §4.5.4.1: retry at least 30 minutes apart; give up after at least 4-5 days (4 here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

from .durations import format_duration
from .errors import BlobeduError
from .versions import LATEST, parse_version

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
SENDERS = ("stalwart", "postfix", "exim", "rfc5321")


@dataclass(frozen=True)
class Schedule:
    """A sender's retry rule: ``kind`` names the rule, the fields hold its numbers."""

    name: str
    kind: str
    intervals: tuple[float, ...] = ()
    notify: tuple[float, ...] = ()
    expire: Optional[float] = None
    source: str = ""
    params: dict = field(default_factory=dict)

    def next_attempt(self, queued: float, failures: Sequence[float]) -> Optional[float]:
        """Given the times of every temporary failure so far (the last one is now), the next attempt or None."""
        now, count = failures[-1], len(failures)
        if self.kind == "intervals":
            due = now + self.intervals[min(count - 1, len(self.intervals) - 1)]
            return due if self.expire is None or due < queued + self.expire else None
        if self.kind == "postfix":
            p = self.params
            if now - queued >= p["lifetime"]:
                return None
            delay = min(max(now - queued, p["min_backoff"]), p["max_backoff"])
            # the queue manager picks deferred mail up at its next run, every queue_run_delay
            run = p["queue_run_delay"]
            return queued + math.ceil((now + delay - queued) / run - 1e-9) * run
        if self.kind == "exim":
            first = failures[0]
            # Exim picks the first rule with failing_interval <= rule->timeout (src/src/retry.c)
            for kind, cutoff, interval, *growth in self.params["rules"]:
                if now - first <= cutoff:
                    if kind == "G":
                        # each retry under a G rule waits the previous interval times the factor
                        earlier = sum(1 for t in failures[:-1] if self._rule_of(t - first) == kind)
                        interval = interval * growth[0] ** earlier
                    return now + interval
            return None
        raise BlobeduError(f"unknown schedule kind {self.kind!r}")

    def _rule_of(self, elapsed: float) -> Optional[str]:
        for kind, cutoff, *_ in self.params["rules"]:
            if elapsed <= cutoff:
                return kind
        return None

    def expires_at(self, queued: float) -> Optional[float]:
        """When a queued message bounces without another attempt (None: only on a failed attempt)."""
        return None if self.expire is None else queued + self.expire

    def warnings(self, queued: float) -> list[float]:
        """When "delivery delayed" notifications go out."""
        end = self.expires_at(queued)
        return [queued + n for n in self.notify if end is None or queued + n < end]

    def describe(self) -> str:
        """One line for tables and verdicts."""
        if self.kind == "intervals":
            steps = ", ".join(format_duration(i) for i in self.intervals)
            return (f"{self.name}: retry after {steps} (last repeats); notify "
                    f"{', '.join(format_duration(n) for n in self.notify)}; expire {format_duration(self.expire or 0)}")
        if self.kind == "postfix":
            p = self.params
            return (f"{self.name}: next delay = time in queue clamped to [{p['min_backoff']:g}s, {p['max_backoff']:g}s], "
                    f"queue run every {p['queue_run_delay']:g}s; bounce after {format_duration(p['lifetime'])}")
        return f"{self.name}: {self.params.get('text', '')}; bounce after {format_duration(self.params['rules'][-1][1])}"


_STALWART_ROWS: tuple[tuple[tuple[int, int, int], tuple[int, int, int], tuple[float, ...], float, str], ...] = (
    ((0, 5, 0), (0, 12, 5), (2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR), 5 * DAY,
     "crates/common/src/config/smtp/queue.rs@v0.12.5"),
    ((0, 13, 0), (0, 15, 999), (2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR),
     3 * DAY, "crates/common/src/config/smtp/queue.rs@v0.15.5 (expire became a 3d ttl in v0.13.0)"),
    ((0, 16, 0), parse_version(LATEST), (2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, DAY,
                               3 * DAY), 3 * DAY, "registry queue strategy defaults@v0.16.18"),
)


def stalwart(version: str = LATEST) -> Schedule:
    """A sending Stalwart's queue schedule for ``version`` (facts §3)."""
    v = parse_version(version)
    for first, last, intervals, expire, source in _STALWART_ROWS:
        if first <= v <= last:
            return Schedule(f"Stalwart {version}", "intervals", intervals, (DAY, 3 * DAY), expire, source)
    raise BlobeduError(f"no queue schedule for Stalwart {version}: the facts cover 0.5.0 to {LATEST}")


def postfix() -> Schedule:
    """Postfix's defaults (facts §3)."""
    return Schedule("Postfix", "postfix", source="postconf(5) defaults",
                    params={"queue_run_delay": 300.0, "min_backoff": 300.0, "max_backoff": 4000.0,
                            "lifetime": 5 * DAY})


def exim() -> Schedule:
    """Exim's default retry rule ``F,2h,15m; G,16h,1h,1.5; F,4d,6h``, with 24h delay warnings."""
    return Schedule("Exim", "exim", notify=(DAY, 2 * DAY, 3 * DAY), source="Exim src/src/configure.default",
                    params={"rules": (("F", 2 * HOUR, 15 * MINUTE), ("G", 16 * HOUR, HOUR, 1.5),
                                      ("F", 4 * DAY, 6 * HOUR)),
                            "text": "F,2h,15m; G,16h,1h,1.5; F,4d,6h"})


def rfc5321() -> Schedule:
    """The RFC 5321 §4.5.4.1 minimum: every 30 minutes, give up after 4 days."""
    return Schedule("RFC 5321 minimum", "intervals", (30 * MINUTE,), (), 4 * DAY, "RFC 5321 §4.5.4.1")


def sender_schedule(sender: str = "stalwart", version: Optional[str] = None) -> Schedule:
    """The schedule for ``--sender`` (and ``--sender-version`` for Stalwart)."""
    if sender == "stalwart":
        return stalwart(version or LATEST)
    if version is not None:
        raise BlobeduError(f"--sender-version applies to --sender stalwart only, not {sender}")
    if sender == "postfix":
        return postfix()
    if sender == "exim":
        return exim()
    if sender == "rfc5321":
        return rfc5321()
    raise BlobeduError(f"unknown sender {sender!r}: {', '.join(SENDERS)}")


def attempt_times(schedule: Schedule, horizon: float, queued: float = 0.0) -> list[float]:
    """Attempt times if every attempt fails instantly, until the schedule gives up or ``horizon``."""
    times: list[float] = [queued]
    while True:
        nxt = schedule.next_attempt(queued, times)
        if nxt is None or nxt > horizon:
            return times
        times.append(nxt)


def warn_lines(schedules: Sequence[Schedule]) -> list[str]:
    """Every schedule's one-line description."""
    return [s.describe() for s in schedules]
