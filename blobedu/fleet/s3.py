"""S3 as the fleet meets it: the policy machines fed by the edge rules, and S3's request capacity."""

from __future__ import annotations

import math

from .. import policy
from ..edge import answer
from ..faults import Fault
from ..policy import Send
from ..servers.design import SendDrained, drained_reply

_SLOWDOWN = Fault("503", 0.0)

class _Blob:
    """A blob that is not a message body (a DSN's): only whether it is in S3."""

    __slots__ = ("in_s3",)

    def __init__(self) -> None:
        self.in_s3 = False


#: one shared blob for every copy in S3 (nothing ever takes a blob out of S3): the fast path's, and
#: the copies :class:`~blobedu.fleet.results.Message` keeps as a time
IN_S3 = _Blob()
IN_S3.in_s3 = True


class _HungForever(Exception):
    """A request met a silent S3 that never comes back, on a version that never times it out."""


#: S3's documented request rates per partitioned prefix: "at least 3,500 PUT/COPY/POST/DELETE or
#: 5,500 GET/HEAD requests per second", answered "503 Slow Down" above what it has scaled to
#: (Amazon S3 User Guide, "Best practices design patterns: optimizing Amazon S3 performance", and
#: "Troubleshooting: 503 Slow Down").  Reads and writes are limited separately, in that ratio.
S3_WRITE_RATE, S3_READ_RATE = 3500.0, 5500.0


class _Capacity:
    """S3's request capacity: ``rate`` writes a second (PUT, DELETE) and ``rate * 5500/3500`` reads (GET, HEAD).

    Each is a token bucket refilled at its rate that saves up at most ``depth`` seconds of it, and
    never less than one message's requests (a PUT; the verify HEAD and local delivery's GET, which come
    together): S3 documents rates per second, not how long a burst it absorbs, so
    ``depth`` is an assumption (1 s by default, ``--s3-burst``), and notebook 07 shows how much the
    result depends on it.  Because reads and writes are separate and each bucket holds at least one
    message's requests, an idle S3 serves one message at any capacity above 0 without a 503: its PUT,
    the HEAD that verifies it, and the GET of local delivery.
    """

    __slots__ = ("rates", "depths", "tokens", "last")

    def __init__(self, rate: float, depth: float = 1.0) -> None:
        read = rate * S3_READ_RATE / S3_WRITE_RATE
        self.rates = (rate, read)
        self.depths = (max(1.0, rate * depth), max(2.0, read * depth))
        self.tokens = list(self.depths)
        self.last = [0.0, 0.0]

    def take(self, t: float, method: str = "PUT") -> bool:
        """Whether a request at ``t`` is served (it takes a token) or answered 503 SlowDown."""
        k = 1 if method in ("GET", "HEAD") else 0
        tokens = min(self.depths[k], self.tokens[k] + (t - self.last[k]) * self.rates[k])
        self.last[k] = t
        if tokens >= 1.0:
            self.tokens[k] = tokens - 1.0
            return True
        self.tokens[k] = tokens
        return False


class S3Driver:
    """Mixin of :class:`~blobedu.fleet.engine.Fleet`: the one store loop against the fleet's S3.

    Stalwart's receivers (:mod:`blobedu.fleet.receivers`) and the other servers' designs
    (:mod:`blobedu.fleet.designs`) drive their store machines through the same :meth:`_s3`; a design
    passes its own request rules, memo, faults and whether S3's capacity applies.
    """

    def _s3(self, blob, machine: policy.Machine, rules=None, memo=None, faults=None, capacity: bool = True):
        """Drive one store machine for ``blob``; yields wake times, returns its Outcome.

        ``blob`` is whatever holds the object's state in its ``in_s3`` (a :class:`_Blob`, or a
        design's :class:`~blobedu.fleet.results.Message`).  Each request meets the fault the plan
        holds at that moment (the last listed active one wins, as :meth:`FaultPlan.s3_fault_at`), then
        the edge rules (:mod:`blobedu.edge`) say what it gets and what it costs.  A request hung for
        good (a silent S3 that never comes back, v0.8.2-v0.15.x) raises :class:`_HungForever`: only a
        crash ends it, and the caller keeps it as plain data rather than as a suspended generator.

        The fleet's Stalwart settings by default; a design passes its own: ``rules`` (its
        :class:`~blobedu.servers.store.DesignRules`), ``memo`` (answers and costs already worked out
        for those rules: a cost depends on them), ``faults`` (the S3 faults this store meets; none for
        TMail's healthy secondary) and ``capacity`` (False where S3's request capacity does not apply:
        TMail's secondary, another service, and WildDuck's MongoDB).  A design's
        :class:`~blobedu.servers.design.SendDrained` step is answered by the client
        (:func:`~blobedu.servers.design.drained_reply`), as :class:`~blobedu.servers.store.DesignStore`
        does: it never reaches S3, so it takes no capacity and is not counted as a request.
        """
        rules = self.rules if rules is None else rules
        memo = self._answers if memo is None else memo
        faults = self._s3_faults if faults is None else faults
        capacity = self.capacity if capacity else None
        send, sent = machine.send, self.request_times.append
        try:
            step = next(machine)
            while True:
                kind = step.__class__
                if kind is Send or kind is SendDrained:
                    t = self.now
                    fault = None
                    for f in faults:
                        if f.start <= t and (f.end is None or t < f.end):
                            fault = f
                    fault = rules.fault_for(fault)
                    if kind is SendDrained:  # a body reader already drained: fails in the client
                        reply = drained_reply(fault.kind if fault is not None else None)
                        cost = rules.cost(reply)
                    else:
                        if capacity is not None and (fault is None or fault.kind == "lost-write") and not capacity.take(t, step.method):
                            fault = _SLOWDOWN
                            self.slowdowns += 1
                            self.slowdown_times.append(t)
                        key = (step.method, fault.kind if fault is not None else None, blob.in_s3)
                        known = memo.get(key)
                        if known is None:  # answer() and cost() depend on nothing else: compute each once
                            reply, stored = answer(step.method, fault, blob.in_s3)
                            known = memo[key] = (reply, stored, rules.cost(reply))
                        reply, stored, cost = known
                        if stored:
                            blob.in_s3 = True
                        sent(t)
                    if reply.error == "timeout" and not rules.bounded:
                        reply, cost = rules.hang(reply, fault, t)
                        if cost == math.inf:
                            raise _HungForever  # only a crash ends it; the caller keeps it as data
                    if cost > 0:
                        yield t + cost
                    step = send(reply)
                else:
                    yield self.now + step.seconds
                    step = send(None)
        except StopIteration as done:
            return done.value
