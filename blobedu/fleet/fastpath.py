"""The fast path: Stalwart's final dot as a script of wake-ups instead of nested generators.

A final dot's store loop is ``_stalwart_dot`` driving ``_s3`` driving :func:`blobedu.policy.put`
driving ``policy._request``: four generators (and as many again for local delivery's GET) that
wake at a few instants, for a few requests each.  When the S3 fault a request meets cannot change
while the loop runs (no fault window opens or closes between its first and its last request), what
the loop does is fixed in advance: which requests it sends at each wake-up, how long it waits
between, and how it ends.  This module works that out once per (operation, fault, whether the
object exists) by driving the *same* policy machine with the *same* edge rules
(:func:`blobedu.edge.answer`, :meth:`~blobedu.edge.RequestRules.cost`), and then runs each such
loop as a :class:`_Script`: one small object on the kernel's heap that wakes at the same instants,
in the same order, as the generators would, and has the same effects (the same request times, log
entries, queue ids, replies and wake-ups).  A loop that ends in the instant it starts (a working
S3, or a refused one on a version without rust-s3's transport retry) puts nothing on the heap at all.

Two plans are most of a large run's final dots, and :meth:`FastPath._fast_dot` runs them with
less bookkeeping (the same effects, in the same order): a loop that fails after one wait (a refused
PUT on 0.16.18, through a whole outage) is a :class:`_Retry`, its own process whose one wake-up is
the loop's end and the 451, and a loop that stores at once with local delivery reaching the mailbox
in the same instant (a working S3) ends in :meth:`FastPath._fast_dot` itself, without
:meth:`FastPath._dot_done`.  Both are worked out once per fault span with the plan.

Anything else takes the slow path, unchanged: a fault window that opens or closes during the loop,
a request that hangs for good (a silent S3 on v0.8.2-v0.15.x), S3's capacity (a token bucket with
state), a jittered backoff (drawn from a random generator, in order), the write-ahead spool; and a
crash ends a script as it ends a generator (``close``).
``Fleet.fast = False`` turns the fast path off; ``tests/test_fleet_fastpath.py`` checks that both
give the same :class:`~blobedu.fleet.results.FleetResult`, message by message.
"""

from __future__ import annotations

import math
from heapq import heappush
from typing import Optional

from .. import policy
from ..edge import answer
from .config import REPLY_TEMPFAIL
from .kernel import _Proc
from .results import Copy, Message, Session
from .s3 import IN_S3, _Blob

#: what a store loop does when the fault it meets stays the same: ``segments`` ((requests sent at a
#: wake-up, seconds until the next wake-up or None at the end), ...), its outcome, whether it stored
_Plan = tuple[tuple[tuple[int, Optional[float]], ...], policy.Outcome, bool]


class _Script:
    """One final dot's store loop run from its plan: ``send`` is called at each wake-up, as a generator's would be."""

    __slots__ = ("fleet", "m", "s", "proc", "segments", "outcome", "stored", "k", "done")

    def __init__(self, fleet, m: Message, s: Session, proc: _Proc, plan: _Plan) -> None:
        self.fleet, self.m, self.s, self.proc = fleet, m, s, proc
        self.segments, self.outcome, self.stored = plan
        self.k = 0
        self.done = False

    def send(self, _value) -> Optional[float]:
        """Send this wake-up's requests; the next wake-up's time, or None at the end (the process is then over)."""
        fleet = self.fleet
        now = fleet.now
        k = self.k
        if k == 0:  # _stalwart_dot's start: the body is in memory for the store loop
            self.m.open_dots += 1
            log = fleet.memory_log
            log.changes.append(now)  # _Log.add(now, 1), inline
        requests, wait = self.segments[k]
        self.k = k + 1
        if requests:
            sent = fleet.request_times.append
            for _ in range(requests):
                sent(now)
        if wait is not None:
            return now + wait
        self.done = True
        proc, self.proc = self.proc, None  # no cycle left (proc.gen is this script): freed without the cyclic GC
        proc.alive = False  # as a generator that returned (cheaper than raising StopIteration)
        fleet._dot_done(self.m, self.s, proc, self.outcome, self.stored)
        return None

    def close(self) -> None:
        """A crash ends the loop (``Kernel._kill``): the body leaves memory, as ``_stalwart_dot`` does on GeneratorExit."""
        if not self.done and self.k:
            self.done = True
            proc, self.proc = self.proc, None
            self.fleet._end_dot(self.m, proc)


class _Retry:
    """The commonest script, for a loop that fails after one wait (a refused PUT on 0.16.18: rust-s3's transport retry).

    Its own process (``gen`` is itself until it ends: no :class:`~blobedu.fleet.kernel._Proc` beside
    it), made by :meth:`FastPath._fast_dot` after the loop's first wake-up, which it ran inline; its one
    :meth:`send` is the loop's last wake-up and :meth:`FastPath._dot_done` for a failed loop, inline,
    with the same effects in the same order as :class:`_Script`'s.  Only where no crash can end it
    (it has no ``close``) and the data store has no faults (a failed loop never reaches the commit).
    """

    __slots__ = ("gen", "token", "alive", "fleet", "m", "s", "last")

    def send(self, _value) -> None:
        fleet = self.fleet
        now = fleet.now
        sent = fleet.request_times.append
        for _ in range(self.last):
            sent(now)
        self.gen = None  # the process is over (as a generator that returned); no cycle left
        self.alive = False
        m, s = self.m, self.s
        m.open_dots -= 1  # FastPath._dot_done from here: the body leaves memory
        log = fleet.memory_log
        log.changes.append(-now)
        fleet.open_sessions -= 1  # the session task ends with its store loop
        log = fleet.sessions_log
        log.changes.append(-now)
        s.receiver_reply, s.receiver_replied_at = REPLY_TEMPFAIL, now  # the loop failed: 451
        if s.reply is None and now < s.deadline:
            s.reply, s.ended = REPLY_TEMPFAIL, now
            waiting = s.waiting
            if waiting is not None:  # Kernel._wake
                waiting.token += 1
                fleet._ready.append((waiting, waiting.token))
        return None


class FastPath:
    """Mixin of :class:`~blobedu.fleet.engine.Fleet`: final dots run from plans."""

    #: set False (on the class or an instance, before :meth:`run`) to run every final dot the slow way
    fast = True

    def _init_fast(self) -> None:
        # not with a jittered backoff (FleetConfig.jitter "full"): its sleeps are drawn from a random
        # generator in the order the loops ask, so no loop's plan can be worked out once for all
        self._fast_on = (bool(self.fast) and self.config.receiver == "stalwart" and self.capacity is None
                         and getattr(self.config, "jitter", "none") == "none")
        self._plans: dict[tuple, Optional[_Plan]] = {}
        self._has_datastore_faults = bool(self.faults.datastore)
        self._fault_span: tuple = (0.0, -1.0, None)  # (from, to, fault): none known yet
        #: (from, to, fault, the final dot's plan, its _Retry, its requests when it stores at once)
        self._dot_span: tuple = (0.0, -1.0, None, None, None, None)
        self._local_now: dict[tuple, Optional[int]] = {}  # (id(fault), stored): local delivery at once?
        #: Stalwart's 250 with its queue id, as a template: what the common 250 puts in its session,
        #: which the sender makes a row at once (SessionRows keeps the template's number and the id);
        #: None for a 250 without an id, which is its own text
        self._queued_template = self.queued_reply if self.session_rows.queued is not None else None

    def _fault_at(self, t: float):
        """The fault a request sent at ``t`` meets (as :meth:`S3Driver._s3` finds it).

        The answer holds between two edges of the fault windows, so the last one is kept with its span.
        """
        lo, hi, known = self._fault_span
        if lo <= t < hi:
            return known
        fault, lo, hi = None, -math.inf, math.inf
        for f in self._s3_faults:
            if f.start <= t and (f.end is None or t < f.end):
                fault = f
            for edge in (f.start, f.end):  # the span around t with no edge inside
                if edge is not None:
                    if edge <= t:
                        lo = max(lo, edge)
                    else:
                        hi = min(hi, edge)
        known = self.rules.fault_for(fault)
        self._fault_span = (lo, hi, known)
        return known

    def _plan(self, op: str, fault, in_s3: bool) -> Optional[_Plan]:
        """What ``op`` does meeting ``fault`` throughout (None: a request that may hang; the slow path)."""
        key = (op, fault.kind if fault is not None else None, in_s3)
        try:
            return self._plans[key]
        except KeyError:
            pass
        machine = (policy.put(self.behaviour, self.max_retries, self.verify) if op == "put"
                   else policy.get(self.behaviour, self.max_retries))
        rules, segments, requests, result = self.rules, [], 0, None
        try:
            step = next(machine)
            while True:
                if step.__class__ is policy.Send:
                    reply, stored = answer(step.method, fault, in_s3)
                    if reply.error == "timeout" and not rules.bounded:
                        break  # it may hang until the fault ends, or for good: the slow path
                    if stored:
                        in_s3 = True
                    requests += 1
                    cost = rules.cost(reply)
                    if cost > 0:
                        segments.append((requests, cost))
                        requests = 0
                    step = machine.send(reply)
                else:
                    segments.append((requests, step.seconds))
                    requests = 0
                    step = machine.send(None)
        except StopIteration as done:
            segments.append((requests, None))
            result = (tuple(segments), done.value, in_s3)
        machine.close()
        self._plans[key] = result
        return result

    def _local_at_once(self, fault, stored: bool) -> Optional[int]:
        """How many requests local delivery's GET sends if it reaches the mailbox in the instant it starts, else None."""
        local = self._plan("get", fault, stored)
        if local is not None and len(local[0]) == 1 and local[1].ok and local[1].found:
            return local[0][0][0]
        return None

    def _fast_dot(self, m: Message, s: Session) -> int:
        """Run Stalwart's final dot (``Receivers._stalwart_dot``) from its plan.

        Returns 0 when it is not handled here (the slow path runs it), 1 when it is, and 2 when it
        is and its reply is sure to land before the sender's deadline: the loop's end is known (the
        plan's waits from now) and comes first, and only a crash can end it sooner, which drops the
        session and wakes the sender too.  The sender then waits for the reply with no wake-up at
        its deadline, which would only be skipped (its token bumped by the reply).
        """
        now = self.now
        lo, hi, fault, plan, retry, once = self._dot_span
        if not lo <= now < hi:  # the fault, and so the plan, holds until the next fault edge
            fault = self._fault_at(now)
            lo, hi, _ = self._fault_span
            plan = self._plan("put", fault, False)
            retry = once = None
            if plan is not None and not self._has_datastore_faults:
                if len(plan[0]) == 2 and not plan[1].ok and not self._crashes:
                    (first, wait), (last, _) = plan[0]
                    retry = (first, wait, last)  # a plan that fails after one wait: requests first, the wait, last
                elif len(plan[0]) == 1 and plan[1].ok and plan[2]:  # stored at once: and local delivery?
                    local = self._local_at_once(fault, True)  # (_dot_done's, with the fault at now: this one)
                    if local is not None:
                        once = plan[0][0][0] + local  # the PUT's requests and local delivery's GET's
            self._dot_span = (lo, hi, fault, plan, retry, once)
        if once is not None and m._copies is None:  # the rest of this method and _dot_done, for the common 250
            sent = self.request_times.append
            for _ in range(once):
                sent(now)
            # (the body enters and leaves memory in this instant: netted out of the memory log, as below)
            self.open_sessions -= 1  # the session task ends with its store loop (Receivers._session_closed)
            log = self.sessions_log
            log.changes.append(-now)
            m.in_s3 = True
            m._copies = now  # its one copy, in S3 and in the mailbox now: kept as its time (see Message)
            s.queue_id = queue_id = next(self._queue_ids)
            # the sender makes this session a row in this same step, and a row keeps Stalwart's 250 as
            # its template and the queue id: the text is written when the session is read back
            reply = self._queued_template or self.queued_reply.format(queue_id=queue_id)
            s.receiver_reply, s.receiver_replied_at = reply, now  # Senders._reply
            if s.reply is None and now < s.deadline:
                s.reply, s.ended = reply, now
                waiting = s.waiting
                if waiting is not None:  # Kernel._wake
                    waiting.token += 1
                    self._ready.append((waiting, waiting.token))
            return 1
        if retry is not None:  # the rest of this method and _Script's first wake-up, for a _Retry
            first, wait, last = retry
            t = now + wait
            if t < hi or self._fault_at(t) is fault:
                m.open_dots += 1  # _stalwart_dot's start: the body is in memory for the store loop
                log = self.memory_log
                log.changes.append(now)
                sent = self.request_times.append
                for _ in range(first):
                    sent(now)
                proc = _Retry()
                proc.gen, proc.token, proc.alive = proc, 0, True
                proc.fleet, proc.m, proc.s, proc.last = self, m, s, last
                if t == now:
                    self._ready.append((proc, 0))
                else:  # Kernel._push, inline
                    waiting = self._calendar.get(t)
                    if waiting is None:
                        self._calendar[t] = [(proc, 0)]
                        heappush(self._times, t)
                    else:
                        waiting.append((proc, 0))
                return 2 if t < s.deadline else 1
            return 0
        if plan is None:
            return 0
        segments = plan[0]
        if len(segments) > 1:  # it waits: the fault must be the same at every wake-up
            t = now
            for _, wait in segments[:-1]:
                t = t + wait
                if t >= hi and self._fault_at(t) is not fault:  # before hi: the same fault, by the span
                    return 0
        if self._has_datastore_faults and self.faults.datastore_fails_at(now, "reserve"):
            self._session_closed()
            self._reply(s, REPLY_TEMPFAIL)
            return 1
        if len(segments) == 1:  # it ends now: no process at all
            requests = segments[0][0]
            sent = self.request_times.append
            for _ in range(requests):
                sent(now)
            # the body enters and leaves memory in this instant (m.open_dots 1 and back to 0): the
            # memory log nets changes at one instant, so that +1 and -1 are left out of it
            self._dot_done(m, s, None, plan[1], plan[2], held=False)
            return 1
        proc = _Proc()
        script = proc.gen = _Script(self, m, s, proc, plan)
        when = script.send(None)  # Kernel._step, inline: its first wake-up is never its end (it waits)
        if when == now:
            self._ready.append((proc, 0))
        else:
            self._push(when, proc, 0)
        if self._crashes:  # what a crash ends (Receivers._crash)
            self._dots[proc] = (m, s)
        return 2 if t < s.deadline else 1

    def _dot_done(self, m: Message, s: Session, proc: Optional[_Proc], outcome: policy.Outcome, stored: bool,
                  held: bool = True) -> None:
        """The end of ``_stalwart_dot`` after its store loop: the body leaves memory; commit, local delivery, the reply.

        No longer a large run's hot path (its two commonest loops end in :class:`_Retry` and in
        :meth:`_fast_dot` itself), so it calls the receiver's and the sender's own steps.
        """
        now = self.now
        if held:
            self._end_dot(m, proc)  # the body leaves memory; the session task ends with its store loop
        else:  # held for no time: the body entered and left memory in this instant, netted out of the log
            self._session_closed()
        if outcome.ok and self._has_datastore_faults and self.faults.datastore_fails_at(now, "commit"):
            reply = REPLY_TEMPFAIL
        elif outcome.ok:
            fault = self._fault_at(now)
            key = (id(fault), stored)
            requests = self._local_now.get(key, -1)
            if requests == -1:
                requests = self._local_now[key] = self._local_at_once(fault, stored)
            if requests is not None:
                sent = self.request_times.append
                for _ in range(requests):
                    sent(now)
            if stored:
                m.in_s3 = True
            if stored and requests is not None and m._copies is None:
                m._copies = now  # its one copy, in S3 and in the mailbox now: kept as its time (see Message)
            else:
                copy = Copy(now)
                if stored:  # one shared blob for every copy in S3: nothing ever takes a blob out of S3
                    copy.blob = IN_S3
                    copy.durable_at = now
                else:
                    copy.blob = _Blob()
                m.copies.append(copy)
                if requests is not None:
                    copy.mailbox_at = now
                else:
                    self._start(lambda p: self._local(m, copy))
            s.queue_id = queue_id = next(self._queue_ids)
            reply = self.queued_reply.format(queue_id=queue_id)
        else:
            reply = REPLY_TEMPFAIL
        self._reply(s, reply)  # the sender hears it only if it is still waiting
