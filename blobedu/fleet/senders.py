"""The sending side: sending servers with their MTA's concurrency rules, and each message's attempts.

Real senders (``FleetConfig.sending_servers`` > 0)
--------------------------------------------------
Mail comes from many independent servers, each with its own queue and its own queue-run phase
(facts §3).  Each server of a kind runs its queue every ``queue_run_delay`` (Postfix, 300 s) or
``-q30m`` (Exim), from a phase spread evenly over that interval: server ``j`` of ``n`` starts its
runs at ``interval * j / n``.  A Stalwart sender retries each message on its own due time, so it
has no phase.  Each server opens at most so many sessions to the receiver at once, by its MTA's
rules, read in the source:

* **Postfix** (``qmgr``, v3.7.11): the destination's concurrency window starts at
  ``initial_destination_concurrency`` = 5 and never exceeds ``default_destination_concurrency_limit``
  = 20 (``src/global/mail_params.h:867,872``).  Feedback (``qmgr_queue.c``): a session that got an
  SMTP reply (any reply: a 451 to the final dot goes through ``smtp_mesg_fail``, which does not
  throttle, ``smtp/smtp_proto.c:2091``, ``qmgr_deliver.c:341-368``) widens the window by 1
  (positive feedback "1", ``mail_params.h:3602``), while it is below busy + 5
  (``qmgr_queue.c:268-288``).  A session with no reply (a lost connection, as when the receiver's
  cap drops it, or a timeout) is a site failure: ``smtp_stream_except`` calls ``smtp_bulk_fail``
  with ``SMTP_THROTTLE`` (``smtp/smtp_trouble.c:429-477``).  The window shrinks by 1, never below 1
  (negative feedback "1", ``mail_params.h:3607``; ``qmgr_queue.c:330-355``), and adds 1/window to
  the failed cohorts; at ``destination_concurrency_failed_cohort_limit`` = 1 (``mail_params.h:3615``)
  the destination is declared dead: the mail waiting for it is deferred without a session
  ("delivery temporarily suspended", ``qmgr_deliver.c:339-356``) and delivery resumes after
  ``minimal_backoff_time`` = 300 s with the window back at 5 (``qmgr_queue.c:242-252, 355-362``).
* **Exim** (4.96): a queue runner delivers one message at a time, and at most ``queue_run_max`` = 5
  run at once (``globals.c:1249``): at most 5 sessions per server.
* **Stalwart** (v0.16.18): the queue manager delivers at most ``threadsPerNode`` = 25 messages of a
  virtual queue at once (``MtaVirtualQueue`` default, ``registry/src/schema/structs_impl.rs:29486``;
  enforced at ``smtp/src/queue/manager.rs:185``).
* **RFC 5321** (the generic schedule): no limit.

A message due while its server is at its limit waits in that server's queue (first come, first
served) for a free slot.  Left out, and why: Exim's host-retry hints (a connection failure makes
Exim skip the host for other messages until the host's retry time; left out, so Exim's sessions
here are an upper bound), Postfix's per-recipient and per-message limits (one recipient per
message here), and connection caching (each attempt is a new connection).

A session takes time: ``session_setup`` seconds (connect, TLS, EHLO, MAIL, RCPT, DATA) and the
body at ``bandwidth`` bytes a second before the final dot; then the store, as the receiver runs it.

The idealised fleet (``sending_servers`` = 0) is what :func:`blobedu.delivery.deliver` models:
one server per kind, no limit, instant sessions.  ``tests/test_fleet_equivalence.py`` proves it
equal to ``deliver()``, and a fleet of real senders with no coupling equal to it, message by message.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Optional

from ..schedules import Schedule
from .kernel import _Proc
from .results import Message, Session

#: Postfix's destination concurrency (src/global/mail_params.h@v3.7.11): initial 5 (:867), limit 20 (:872),
#: failed cohort limit 1 (:3615); minimal_backoff_time 300 s (:777 area, the unthrottle timer, qmgr_queue.c:358)
POSTFIX_INITIAL_CONCURRENCY, POSTFIX_CONCURRENCY_LIMIT, POSTFIX_FAILED_COHORTS, POSTFIX_SUSPEND = 5, 20, 1.0, 300.0
#: Exim's queue_run_max (src/src/globals.c:1249@exim-4.96), one message per runner
EXIM_QUEUE_RUN_MAX = 5
#: Stalwart's threadsPerNode for a virtual queue (registry/src/schema/structs_impl.rs:29486@v0.16.18)
STALWART_THREADS = 25
NO_REPLY = ("refused", "dropped", "timeout")


class SendingServer:
    """One sending server: its kind, queue-run phase, sessions open, concurrency window and waiting mail."""

    __slots__ = ("kind", "index", "runs_from", "busy", "window", "fail_cohorts", "suspended_until", "waiting",
                 "granted", "peak")

    def __init__(self, kind: str, index: int, runs_from: Optional[float]) -> None:
        self.kind, self.index, self.runs_from = kind, index, runs_from
        self.busy = 0
        self.window = (float(POSTFIX_INITIAL_CONCURRENCY) if kind == "postfix" else
                       float(EXIM_QUEUE_RUN_MAX) if kind == "exim" else
                       float(STALWART_THREADS) if kind == "stalwart" else math.inf)
        self.fail_cohorts = 0.0
        self.suspended_until = -math.inf
        self.waiting: deque = deque()
        self.granted: set = set()
        self.peak = 0

    def limit(self) -> float:
        """How many sessions it may have open now."""
        return self.window

    def feedback(self, replied: bool, now: float) -> None:
        """Postfix's concurrency feedback after a session (qmgr_queue.c@v3.7.11); the others have a fixed limit."""
        if self.kind != "postfix":
            return
        if replied:
            self.fail_cohorts = 0.0
            if self.window < self.busy + POSTFIX_INITIAL_CONCURRENCY:
                self.window = min(self.window + 1.0, float(POSTFIX_CONCURRENCY_LIMIT))
            return
        if self.suspended_until > now:
            return
        self.fail_cohorts += 1.0 / self.window
        self.window = max(1.0, self.window - 1.0)
        if self.fail_cohorts >= POSTFIX_FAILED_COHORTS:
            self.suspended_until = now + POSTFIX_SUSPEND  # dead: the window is 0 until the timer
            self.fail_cohorts = 0.0
            self.window = float(POSTFIX_INITIAL_CONCURRENCY)


def queue_run_interval(schedule: Schedule) -> float:
    """How often a server of this kind runs its queue (0: it retries each message at its own time)."""
    p = schedule.params
    return float(p.get("queue_run_delay") or p.get("queue_interval") or 0.0)


def make_servers(kinds_in_order: list[str], count: int, schedules: dict[str, Schedule],
                 aligned: bool = False) -> dict[str, list[SendingServer]]:
    """``count`` servers shared among the kinds in proportion to their messages (largest remainder, at least 1 each)."""
    total = len(kinds_in_order)
    tally: dict[str, int] = {}
    for k in kinds_in_order:
        tally[k] = tally.get(k, 0) + 1
    exact = {k: count * n / total for k, n in tally.items()}
    alloc = {k: max(1, int(v)) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - int(exact[k]), reverse=True):
        if sum(alloc.values()) >= count:
            break
        alloc[k] += 1
    servers = {}
    for k, n in alloc.items():
        run = queue_run_interval(schedules[k])
        servers[k] = [SendingServer(k, j, (0.0 if aligned else run * j / n) if run else None) for j in range(n)]
    return servers


class Senders:
    """Mixin of :class:`~blobedu.fleet.engine.Fleet`: the senders' processes."""

    def _sender(self, m: Message, proc: _Proc):
        """A message's attempts: wait for a slot on its server, one SMTP session (inline: one generator frame fewer per wake-up), then retry or bounce."""
        schedule, wait = self.schedules[m.sender], self.waits[m.sender]
        server: Optional[SendingServer] = m.server
        runs_from = self.runs_from if server is None or self.runs_from is None else server.runs_from
        queued = m.arrival
        failures: list[float] = []
        backlog = self.backlog_log
        backlog.changes.append(self.now)  # backlog_log.add(now, 1), inline
        transfer = self.transfer_seconds
        fast = self._fast_on
        sessions_log = self.sessions_log
        postfix = server is not None and server.kind == "postfix"
        rows = self.session_rows
        index = m.index
        crashes = self._crashes
        while True:
            s: Optional[Session] = None
            granted = True
            if server is not None:
                if server.suspended_until > self.now:
                    granted = False  # Postfix: the destination is dead, the message is deferred without a session
                elif server.busy < server.window and not server.waiting:
                    server.busy += 1
                else:
                    server.waiting.append(proc)
                    yield None  # woken with a slot held for it, or to be deferred (dead destination)
                    granted = proc in server.granted
                    server.granted.discard(proc)
                    if granted and server.suspended_until > self.now:
                        server.busy -= 1  # the destination died meanwhile: defer, give the slot back
                        granted = False
                if granted and server.peak < server.busy:
                    server.peak = server.busy
            if granted:
                # one SMTP session: connect, or be refused at the receiver's cap; send; the reply
                t0 = self.now
                if self.open_sessions >= self.max_connections:
                    s = Session(t0, t0)
                    s.reply, s.ended = "refused", t0  # the listener accepts and drops it (listen.rs:258-283@v0.16.18)
                    self.sessions_refused += 1
                else:
                    self.open_sessions += 1  # the receiver's session task starts (Receivers._session_closed ends it)
                    sessions_log.changes.append(t0)
                    if transfer > 0:
                        # its deadline is the reply's wait from the final dot, at t0 + transfer (the
                        # clock's time when it wakes, the same float)
                        s = m._session = Session(t0, t0 + transfer + wait)
                        if crashes:  # what a crash drops (Receivers._crash), and wakes
                            s.waiting = proc
                            self._connecting[proc] = (m, s)
                            yield t0 + transfer
                            self._connecting.pop(proc, None)
                            s.waiting = None
                        else:
                            yield t0 + transfer
                    else:
                        s = m._session = Session(t0, t0 + wait)
                    if s.reply is None:
                        handled = self._fast_dot(m, s) if fast else 0  # .fastpath: the store loop from its plan
                        if not handled:
                            self._final_dot(m, s)
                        if s.reply is None:
                            s.waiting = proc
                            # woken by the reply, or at the deadline (no wake-up there when the
                            # plan's reply is sure to come first: see FastPath._fast_dot)
                            if handled == 2:
                                if s.deadline > self.left_out:
                                    self.left_out = s.deadline
                                yield None
                            else:
                                yield s.deadline
                            s.waiting = None
                            if s.reply is None:  # a reply landing exactly on the deadline loses the tie, as in deliver()
                                s.reply, s.ended = "timeout", s.deadline
                if server is not None:  # the session ends: feedback, and free slots handed out (_hand_out)
                    server.busy -= 1
                    if postfix:
                        server.feedback(s.reply not in NO_REPLY, self.now)
                    if server.waiting:
                        self._hand_out(server)
            now = self.now
            if s is not None:  # the sender is done with it: a row of the run's SessionRows from now on
                rows.add(index, s)
                m._session = None
                if s.reply[0] == "2":
                    m.released_at = now  # Senders._release, inline
                    backlog.changes.append(-now)
                    return
            if s is None or s.reply[0] != "5":
                failures.append(now)
                nxt = schedule.next_attempt(queued, failures, runs_from)
                if nxt is not None:
                    yield nxt
                    continue
                end = schedule.expires_at(queued)
                if end is not None and end > now:
                    yield end
            m.sender_bounced = True
            self._release(m)
            return

    def _hand_out(self, server: SendingServer) -> None:
        """Hand the server's free slots to its waiting mail, first come first served (or defer it all, if the destination died)."""
        if server.suspended_until > self.now:
            while server.waiting:  # qmgr_defer_todo: everything waiting is deferred at once
                self._wake(server.waiting.popleft())
            return
        while server.waiting and server.busy < server.limit():
            server.busy += 1
            proc = server.waiting.popleft()
            server.granted.add(proc)
            self._wake(proc)

    def _release(self, m: Message) -> None:
        m.released_at = now = self.now
        backlog = self.backlog_log
        backlog.changes.append(-now)  # backlog_log.add(now, -1), inline

    def _reply(self, s: Session, text: str) -> None:
        """The receiver answers the final dot; the sender hears it only if it is still waiting."""
        s.receiver_reply, s.receiver_replied_at = text, self.now
        if s.reply is None and self.now < s.deadline:
            s.reply, s.ended = text, self.now
            if s.waiting is not None:
                self._wake(s.waiting)
