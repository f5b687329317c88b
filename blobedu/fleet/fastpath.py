"""The fast path: a final dot whose store loop ends in the instant it starts, run as straight-line code.

Most final dots in a fleet meet either a working S3 or one that refuses the connection: with no
latency, every request of Stalwart's store loop then costs nothing on the clock and the loop ends
in the instant it began (a PUT and its HEAD, then local delivery's GET; or one refused PUT and the
451).  The slow path runs such a dot as four or five nested generators on a new process
(``_stalwart_dot``, ``_s3``, :func:`blobedu.policy.put`, ``policy._request``, and the same again
for ``_local``) that never yield.  This module runs it as plain code instead, with the same effects
in the same order: the same log entries at the same instant, the same request times, the same
queue id, the same reply, the same wake-ups.

What the store loop does at a given instant is found by driving the *same* policy machine
(:func:`blobedu.policy.put` / :func:`~blobedu.policy.get`) with the *same* edge rules
(:func:`blobedu.edge.answer`, :meth:`RequestRules.cost`), once per (operation, fault, whether the
object exists): if every request it sends costs 0 seconds and it never sleeps, the run is
*synchronous* and its outcome, request count and whether it stored the object are kept.  Anything
else (a sleep, a timeout, a latency, S3's capacity, the spool receiver) goes the slow path, which
is unchanged.  ``Fleet.fast = False`` turns the fast path off; ``tests/test_fleet_fastpath.py``
checks that both give the same :class:`~blobedu.fleet.results.FleetResult`, message by message.
"""

from __future__ import annotations

from typing import Optional

from .. import policy
from ..edge import answer
from .config import REPLY_TEMPFAIL
from .results import Copy, Message, Session
from .s3 import _Blob


class FastPath:
    """Mixin of :class:`~blobedu.fleet.engine.Fleet`: final dots that end in the instant they start."""

    #: set False (on the class or an instance, before :meth:`run`) to run every final dot the slow way
    fast = True

    def _init_fast(self) -> None:
        self._fast_on = bool(self.fast) and self.config.receiver == "stalwart" and self.capacity is None
        self._sync: dict[tuple, Optional[tuple[int, policy.Outcome, bool]]] = {}
        self._has_datastore_faults = bool(self.faults.datastore)

    def _fault_now(self):
        """The fault a request sent now meets (as :meth:`S3Driver._s3` finds it)."""
        t, fault = self.now, None
        for f in self._s3_faults:
            if f.start <= t and (f.end is None or t < f.end):
                fault = f
        return self.rules.fault_for(fault)

    def _sync_run(self, op: str, fault, in_s3: bool) -> Optional[tuple[int, policy.Outcome, bool]]:
        """``(requests, outcome, stored)`` if ``op`` meeting ``fault`` ends in the instant it starts, else None."""
        key = (op, fault.kind if fault is not None else None, in_s3)
        try:
            return self._sync[key]
        except KeyError:
            pass
        machine = (policy.put(self.behaviour, self.max_retries, self.verify) if op == "put"
                   else policy.get(self.behaviour, self.max_retries))
        rules, requests, result = self.rules, 0, None
        try:
            step = next(machine)
            while step.__class__ is policy.Send:
                reply, stored = answer(step.method, fault, in_s3)
                if reply.error == "timeout" or rules.cost(reply) > 0:
                    break  # it takes time on the clock (or may hang): the slow path
                if stored:
                    in_s3 = True
                requests += 1
                step = machine.send(reply)
        except StopIteration as done:
            result = (requests, done.value, in_s3)
        machine.close()
        self._sync[key] = result
        return result

    def _fast_dot(self, m: Message, s: Session) -> bool:
        """Run Stalwart's final dot (``Receivers._stalwart_dot``) now if it ends now; False: not handled."""
        fault = self._fault_now()
        run = self._sync_run("put", fault, False)
        if run is None:
            return False
        now = self.now
        if self._has_datastore_faults and self.faults.datastore_fails_at(now, "reserve"):
            self._session_closed()
            self._reply(s, REPLY_TEMPFAIL)
            return True
        requests, outcome, stored = run
        memory = self.memory_log
        memory.add(now, 1)  # the body in memory for the store loop (m.open_dots goes 1 and back to 0)
        sent = self.request_times.append
        for _ in range(requests):
            sent(now)
        memory.add(now, -1)
        self._session_closed()
        if outcome.ok and self._has_datastore_faults and self.faults.datastore_fails_at(now, "commit"):
            self._reply(s, REPLY_TEMPFAIL)
        elif outcome.ok:
            copy = Copy(now)
            blob = copy.blob = _Blob()
            if stored:
                blob.in_s3 = True
                copy.durable_at = now
                m.in_s3 = True
            m.copies.append(copy)
            local = self._sync_run("get", fault, stored)
            if local is not None and local[1].ok and local[1].found:
                for _ in range(local[0]):
                    sent(now)
                copy.mailbox_at = now
            else:
                self._start(lambda p: self._local(m, copy))
            self._reply(s, self.queued_reply.format(queue_id=next(self._queue_ids)))
        else:
            self._reply(s, REPLY_TEMPFAIL)
        return True
