"""How long a sending server waits between delivery attempts, and when it gives up: pure functions.

Each schedule answers four questions from the attempt history alone, without a clock or I/O:

* :meth:`Schedule.next_attempt` — after a temporary failure at ``now``, when is the next attempt
  (or ``None``: the message bounces now)?
* :meth:`Schedule.expires_at` — when a message queued at ``queued`` bounces without another try
  (``None`` when the schedule bounces only on a failed attempt, as Postfix and Exim do);
* :meth:`Schedule.warnings` — when delay notifications (DSN "delayed") go out;
* :meth:`Schedule.bounce_status` — the RFC 3464 ``Status`` its bounce carries after a given reply.

It also carries :attr:`Schedule.final_dot_wait`, how long that sender waits for the reply to the
final dot before it counts the attempt as failed (and may later send a duplicate).

Sources (``shared/stalwart-facts.md`` §3):

* Stalwart: the queue's retry intervals, the last repeating; notify and expire, by version
  (``crates/common/src/config/smtp/queue.rs``; v0.16 registry defaults).  It waits **5 minutes**
  for the final-dot reply: ``outbound/session.rs:164`` sets the client timeout to ``timeout_rcpt``
  before the RCPT loop and nothing resets it; ``read_smtp_data_response`` waits that long
  (``outbound/client.rs:137-148``; ``rcptToTimeout`` 300000 ms, ``common/src/network/mta.rs:357``).
  The 10-minute ``dataTimeout`` bounds only *sending* the body (``client.rs:185-228``).  Its bounce
  carries the last reply's own enhanced code (``queue/dsn.rs:580-600``): 4.3.5 after a 451 4.3.5,
  with ``Diagnostic-Code: smtp;451 Unable to accept message at this time.`` (the code, then the text
  without its enhanced code: ``dsn.rs:650-654``).  At expiry the temporary failure is made permanent
  (``outbound/delivery.rs:1528-1529``, ``into_permanent`` at ``dsn.rs:543-548``): when the last
  attempt got no SMTP reply (refused, timed out, dropped) the bounce says ``Status: 5.0.0`` and has
  no Diagnostic-Code line (``write_dsn_status``/``write_dsn_diagnostic``, ``dsn.rs:586-595,
  626-632``@v0.16.18); a delay warning after no reply says ``4.0.0``.  Facts §3, revision 3.
* Postfix: ``queue_run_delay`` 300 s, ``minimal_backoff_time`` 300 s, ``maximal_backoff_time``
  4000 s, ``maximal_queue_lifetime`` 5d, ``smtp_data_done_timeout`` 600 s.  The next delay is the
  time the message has spent in the queue, clamped to [minimal, maximal]; the queue manager picks
  it up at its next queue run.  ``delay_warning_time`` is 0 (off) by default.
* Exim: ``F,2h,15m; G,16h,1h,1.5; F,4d,6h`` (``src/src/configure.default``), timed from the first
  failure; a failure after the last cutoff bounces.  Those are the *earliest* retry times
  (``retry.c``): a retry happens only when a queue runner passes, every 30 minutes in Debian's
  package (``QUEUEINTERVAL='30m'``, ``/etc/init.d/exim4`` line 38 in exim4-base 4.96-15+deb12u11).
  ``final_timeout`` (smtp transport) is 10 min; ``delay_warning`` defaults to 24h.
* RFC 5321 §4.5.4.1: retry at least 30 minutes apart; give up after at least 4-5 days (4 here).
  §4.5.3.2.6: wait **at least** 10 minutes for the final-dot reply (a minimum, not a maximum).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Optional, Sequence

from .durations import format_duration, parse_duration
from .errors import BlobeduError
from .versions import LATEST, parse_version

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
SENDERS = ("stalwart", "postfix", "exim", "rfc5321")

#: How long each sender waits for the reply to the final dot, by default (facts §3, revision 2).
STALWART_FINAL_DOT_WAIT = 5 * MINUTE  # rcptToTimeout 300000 ms, outbound/session.rs:164 + client.rs:137-148
POSTFIX_DATA_DONE_TIMEOUT = 10 * MINUTE  # smtp_data_done_timeout = 600s, postconf(5)
EXIM_FINAL_TIMEOUT = 10 * MINUTE  # smtp transport final_timeout = 10m, Exim spec ch. "The smtp transport"
RFC5321_FINAL_DOT_MINIMUM = 10 * MINUTE  # §4.5.3.2.6: "the minimum per-command timeout values SHOULD be"
#: Debian's exim4 queue runner interval: QUEUEINTERVAL='30m' (/etc/init.d/exim4:38, exim4-base 4.96-15+deb12u11).
DEBIAN_EXIM_QUEUE_INTERVAL = 30 * MINUTE
#: Postfix's queue manager takes a deferred message up to 1 s before its time stamp: it skips
#: only files with ``st.st_mtime > time((time_t *) 0) + 1`` (src/qmgr/qmgr_active.c:202-203@v3.7.11).
POSTFIX_SCAN_AHEAD = 1.0
EXIM_DEFAULT_RULES = "F,2h,15m; G,16h,1h,1.5; F,4d,6h"


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
    final_dot_wait: float = RFC5321_FINAL_DOT_MINIMUM
    #: the bounce's Status: "last" (the last reply's own enhanced code) or a fixed code such as "5.0.0"
    bounce_rule: str = "last"
    #: the delay warning's Status, likewise ("last", or Exim's fixed "4.0.0")
    delay_rule: str = "last"
    #: what the bounce's Diagnostic-Code adds after the last reply when the queue gave up (Exim: retry.c)
    expiry_note: str = ""
    #: with rule "last", the Status when the last attempt got no SMTP reply at all (refused, timeout, dropped)
    no_reply_status: tuple = (("refused", "4.4.1"), ("timeout", "4.4.2"), ("dropped", "4.4.2"))
    #: the bounce's Status after no SMTP reply, where the sender makes the failure permanent at expiry
    #: (Stalwart: 5.0.0); None keeps ``no_reply_status``
    no_reply_bounce: Optional[str] = None
    #: how the Diagnostic-Code renders a reply: "full" (``smtp; 451 4.3.5 text``, Postfix and Exim as
    #: seen on real ones) or "stalwart" (``smtp;451 text``: the code, a space, the text without its
    #: enhanced code, and no line at all after no SMTP reply)
    diagnostic_style: str = "full"

    def next_attempt(self, queued: float, failures: Sequence[float], runs_from: Optional[float] = None) -> Optional[float]:
        """Given the times of every temporary failure so far (the last one is now), the next attempt or None.

        ``runs_from`` is when the sender's queue runner started, for schedules retried at queue runs
        (Postfix, Exim); None means with this message, as when a server handles one message alone.
        A fleet of messages on one server shares its runner, so their retries come in bursts.
        """
        now, count = failures[-1], len(failures)
        origin = queued if runs_from is None else runs_from
        if self.kind == "intervals":
            due = now + self.intervals[min(count - 1, len(self.intervals) - 1)]
            return due if self.expire is None or due < queued + self.expire else None
        if self.kind == "postfix":
            p = self.params
            if now - queued >= p["lifetime"]:
                return None
            delay = min(max(now - queued, p["min_backoff"]), p["max_backoff"])
            # the queue file's time stamp becomes now + delay (qmgr_active.c:160), and the queue
            # manager takes it at its next run, every queue_run_delay, once that stamp is at most
            # 1 s ahead: it skips only st_mtime > time(NULL) + 1 (src/qmgr/qmgr_active.c:202-203
            # @v3.7.11).  Checked against a real Postfix 3.7.11 (tests/test_realmta.py).
            run = p["queue_run_delay"]
            due = now + delay - POSTFIX_SCAN_AHEAD
            return origin + math.ceil((due - origin) / run - 1e-9) * run
        if self.kind == "exim":
            first = failures[0]
            # a message queued longer than the last cutoff times out even if its first failure came
            # later (src/src/retry.c:756-768@exim-4.96: "timeout this rule if EITHER the host ...
            # has been failing for more than the maximum time, OR if the message has been on the
            # queue for more than the maximum time").  Seen on a real Exim 4.96 with F,12s,2s:
            # queued at 0, failures at 1, 5, 9, 13: it bounced at 13 (13 - 1 = 12 would retry).
            if now - queued > self.params["rules"][-1][1]:
                return None
            # Exim picks the first rule with failing_interval <= rule->timeout (src/src/retry.c)
            for kind, cutoff, interval, *growth in self.params["rules"]:
                if now - first <= cutoff:
                    if kind == "G":
                        # each retry under a G rule waits the previous interval times the factor
                        earlier = sum(1 for t in failures[:-1] if self._rule_of(t - first) == kind)
                        interval = interval * growth[0] ** earlier
                    return self._next_queue_run(origin, now + interval)
            return None
        raise BlobeduError(f"unknown schedule kind {self.kind!r}")

    def _next_queue_run(self, origin: float, earliest: float) -> float:
        """The first queue run at or after ``earliest`` (runs every ``queue_interval`` from ``origin``)."""
        run = self.params.get("queue_interval") or 0.0
        if run <= 0:
            return earliest
        return origin + math.ceil((earliest - origin) / run - 1e-9) * run

    def bounce_status(self, last_reply: str) -> str:
        """The RFC 3464 ``Status`` of this sender's bounce, given the last reply it got."""
        if self.no_reply_bounce is not None and not _REPLY.match(last_reply):
            return self.no_reply_bounce
        return self._status(self.bounce_rule, last_reply)

    def diagnostic(self, last_reply: str, expired: bool = False) -> Optional[str]:
        """The DSN's ``Diagnostic-Code`` after ``last_reply`` (None: the DSN has no such line).

        ``expired``: the queue gave up on a temporary failure (Exim then appends its expiry note).
        """
        reply = _REPLY.match(last_reply)
        if self.diagnostic_style == "stalwart":
            # write_dsn_diagnostic is called only for Error::UnexpectedResponse: no reply, no line;
            # otherwise "Diagnostic-Code: smtp;{code} " and the reply's message (queue/dsn.rs:626-632,
            # 650-654@v0.16.18), whose enhanced code was parsed off into `esc`
            if not reply:
                return None
            return f"smtp;{reply.group(1)} {reply.group(3)}"
        return f"smtp; {last_reply}{self.expiry_note if expired else ''}"

    def delay_status(self, last_reply: str) -> str:
        """The RFC 3464 ``Status`` of this sender's delay warning, given the last reply it got."""
        return self._status(self.delay_rule, last_reply)

    def _status(self, rule: str, last_reply: str) -> str:
        if rule != "last":
            return rule
        match = _REPLY.match(last_reply)
        if match and match.group(2):
            return match.group(2)
        return dict(self.no_reply_status).get(last_reply, "4.0.0")

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
        run = self.params.get("queue_interval") or 0
        runs = f", retried at the next queue run (every {format_duration(run)})" if run else ""
        return (f"{self.name}: {self.params.get('text', '')}{runs}; "
                f"bounce after {format_duration(self.params['rules'][-1][1])}")


#: an SMTP reply: its code, its enhanced status code if any, and its text
_REPLY = re.compile(r"^([2-5]\d\d)[ -](?:([245]\.\d{1,3}\.\d{1,3}) )?(.*)$", re.S)


_STALWART_ROWS: tuple[tuple[tuple[int, int, int], tuple[int, int, int], tuple[float, ...], float, str], ...] = (
    ((0, 5, 0), (0, 12, 5), (2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR), 5 * DAY,
     "crates/common/src/config/smtp/queue.rs@v0.12.5"),
    ((0, 13, 0), (0, 15, 999), (2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR),
     3 * DAY, "crates/common/src/config/smtp/queue.rs@v0.15.5 (expire became a 3d ttl in v0.13.0)"),
    ((0, 16, 0), parse_version(LATEST), (2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, DAY,
                               3 * DAY), 3 * DAY, "registry queue strategy defaults@v0.16.18"),
)


def stalwart(version: str = LATEST, final_dot_wait: float = STALWART_FINAL_DOT_WAIT) -> Schedule:
    """A sending Stalwart's queue schedule for ``version`` (facts §3); it waits 5 minutes for the final-dot reply."""
    v = parse_version(version)
    for first, last, intervals, expire, source in _STALWART_ROWS:
        if first <= v <= last:
            return Schedule(f"Stalwart {version}", "intervals", intervals, (DAY, 3 * DAY), expire, source,
                            final_dot_wait=_positive("final-dot wait", final_dot_wait), bounce_rule="last",
                            no_reply_status=(("refused", "4.0.0"), ("timeout", "4.0.0"), ("dropped", "4.0.0")),
                            no_reply_bounce="5.0.0", diagnostic_style="stalwart")
    raise BlobeduError(f"no queue schedule for Stalwart {version}: the facts cover 0.5.0 to {LATEST}")


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not (0 < value < math.inf):
        raise BlobeduError(f"{name} must be more than 0 seconds, got {value:g}")
    return value


def postfix(minimal_backoff_time: float = 300.0, maximal_backoff_time: float = 4000.0,
            queue_run_delay: float = 300.0, maximal_queue_lifetime: float = 5 * DAY,
            smtp_data_done_timeout: float = POSTFIX_DATA_DONE_TIMEOUT) -> Schedule:
    """Postfix, with the knobs of its main.cf (defaults: postconf(5), facts §3).

    The bounce after expiry keeps the last deferral's own status (``Status: 4.3.5`` after a 451
    4.3.5): ``qmgr_active.c`` flushes the defer log, whose records keep their DSN status, as the bounce.
    """
    lo = _positive("minimal_backoff_time", minimal_backoff_time)
    hi = _positive("maximal_backoff_time", maximal_backoff_time)
    if hi < lo:
        raise BlobeduError(f"maximal_backoff_time ({hi:g}s) must be at least minimal_backoff_time ({lo:g}s)")
    return Schedule("Postfix", "postfix", source="postconf(5) defaults",
                    params={"queue_run_delay": _positive("queue_run_delay", queue_run_delay), "min_backoff": lo,
                            "max_backoff": hi, "lifetime": _positive("maximal_queue_lifetime", maximal_queue_lifetime)},
                    final_dot_wait=_positive("smtp_data_done_timeout", smtp_data_done_timeout), bounce_rule="last")


_EXIM_RULE = re.compile(r"^\s*([FG])\s*,\s*([^,]+?)\s*,\s*([^,]+?)\s*(?:,\s*([0-9]+(?:\.[0-9]+)?)\s*)?$")


def parse_exim_rules(text: str) -> tuple:
    """Parse an Exim retry rule list such as ``F,2h,15m; G,16h,1h,1.5; F,4d,6h`` (Exim spec, "Retry rules")."""
    rules = []
    for part in str(text).split(";"):
        match = _EXIM_RULE.match(part)
        if not match:
            raise BlobeduError(f"bad Exim retry rule {part.strip()!r}: write F,CUTOFF,INTERVAL or G,CUTOFF,INTERVAL,FACTOR")
        kind, cutoff, interval, factor = match.groups()
        if (kind == "G") != (factor is not None):
            raise BlobeduError(f"bad Exim retry rule {part.strip()!r}: a G rule has a factor, an F rule has none")
        rule = (kind, _positive("cutoff", parse_duration(cutoff)), _positive("interval", parse_duration(interval)))
        rules.append(rule + ((float(factor),) if factor else ()))
    cutoffs = [r[1] for r in rules]
    if cutoffs != sorted(cutoffs):
        raise BlobeduError(f"bad Exim retry rules {text!r}: cutoffs must grow from rule to rule")
    return tuple(rules)


def exim(rules: str = EXIM_DEFAULT_RULES, queue_interval: float = DEBIAN_EXIM_QUEUE_INTERVAL,
         final_timeout: float = EXIM_FINAL_TIMEOUT) -> Schedule:
    """Exim: its retry rules (default ``F,2h,15m; G,16h,1h,1.5; F,4d,6h``), retried at queue runs.

    ``queue_interval`` is the queue runner's interval (``exim -q30m`` in Debian's package); 0 means
    a retry happens exactly at the rule's time.  24h delay warnings.  Exim's DSNs carry generic
    codes, not the remote reply's: ``Status: 5.0.0`` for a failed address and ``4.0.0`` for a delayed
    one, with the reply in ``Diagnostic-Code`` (``src/src/deliver.c:7863,8386,5414``@exim-4.96), to
    which a give-up adds ``: retry timeout exceeded`` (``src/src/retry.c:893``@exim-4.96); a real
    Exim 4.96 wrote exactly that (notebooks/transcripts/exim_expiry.json).
    """
    if queue_interval < 0 or not math.isfinite(queue_interval):
        raise BlobeduError(f"Exim's queue interval must be 0 or more seconds, got {queue_interval:g}")
    return Schedule("Exim", "exim", notify=(DAY, 2 * DAY, 3 * DAY), source="Exim src/src/configure.default",
                    params={"rules": parse_exim_rules(rules), "text": str(rules).strip(),
                            "queue_interval": float(queue_interval)},
                    final_dot_wait=_positive("final_timeout", final_timeout), bounce_rule="5.0.0",
                    delay_rule="4.0.0", expiry_note=": retry timeout exceeded")


def rfc5321() -> Schedule:
    """The RFC 5321 §4.5.4.1 minimum: every 30 minutes, give up after 4 days; wait 10 min for the final dot."""
    return Schedule("RFC 5321 minimum", "intervals", (30 * MINUTE,), (), 4 * DAY, "RFC 5321 §4.5.4.1",
                    final_dot_wait=RFC5321_FINAL_DOT_MINIMUM, bounce_rule="5.4.7")


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


def attempt_times(schedule: Schedule, horizon: float, queued: float = 0.0, attempt_cost: float = 0.0) -> list[float]:
    """Attempt start times if every attempt fails after ``attempt_cost`` s, until the schedule gives up or ``horizon``.

    A 0.16 receiver answers a refused S3 after 1 s (rust-s3's hidden transport retry): with
    ``attempt_cost=1`` these are exactly the session times a ``deliver()`` run shows (tests/test_tolerance.py).
    """
    times: list[float] = [queued]
    failures: list[float] = [queued + attempt_cost]
    while True:
        nxt = schedule.next_attempt(queued, failures)
        if nxt is None or nxt > horizon:
            return times
        times.append(nxt)
        failures.append(nxt + attempt_cost)


def gives_up_at(schedule: Schedule, queued: float = 0.0, attempt_cost: float = 0.0) -> float:
    """When the sender bounces if every attempt fails: its expiry, or the end of its last failed attempt."""
    expiry = schedule.expires_at(queued)
    if expiry is not None:
        return expiry
    return attempt_times(schedule, math.inf, queued, attempt_cost)[-1] + attempt_cost


def warn_lines(schedules: Sequence[Schedule]) -> list[str]:
    """Every schedule's one-line description."""
    return [s.describe() for s in schedules]
