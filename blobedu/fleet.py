"""A day of mail through an outage: thousands of messages through the same model, in seconds.

Theory of operation
-------------------
:func:`run` sends ``messages`` messages, arriving evenly over ``over`` seconds from senders in the
given shares, to one receiver whose S3 meets the faults of a :class:`~blobedu.faults.FaultPlan`.
It is a discrete-event simulation: one heap of ``(time, seq)`` wake-ups and, per message, a few
small processes written as generators that yield the time they want to wake at:

* the **sender** (``_sender``): an attempt, the wait for the final-dot reply (at most the sender's
  ``final_dot_wait``: Stalwart 5 min, Postfix and Exim 10), then :meth:`Schedule.next_attempt`
  or the bounce, exactly as :class:`~blobedu.sender.SendingMTA` does;
* the receiver's **final dot** (``_stalwart_dot``): Stalwart's ``put_blob`` driven by the *same*
  :func:`blobedu.policy.put` generator the S3 store runs, fed :class:`~blobedu.policy.Reply`\\ s from
  the *same* request-edge rules (:mod:`blobedu.edge`); 250 when it succeeds, 451 4.3.5 when not.
  A sender that stopped waiting has hung up; the loop still finishes and may still accept, which is
  how duplicates happen (:mod:`blobedu.receiver`);
* the **write-ahead spool** (``_wal_dot``, ``_upload``) for contrast: 250 once on local disk, an
  upload every :data:`~blobedu.spool.UPLOAD_RETRY_SECONDS`, 452 on a full disk, the spool lost with
  the disk (:mod:`blobedu.spool`'s rules and constants);
* **local delivery** after the 250 (``_local``): :func:`blobedu.policy.get` through the same faults,
  retried on the receiver's own Stalwart queue schedule until its expiry bounces it.

No sockets, no moto: the engine keeps, per message, whether its blob is in S3 (:func:`edge.answer`
says what S3 would answer).  That is what makes it fast, and why it must be *proven* equal to the
real engine: ``tests/test_fleet_equivalence.py`` runs a fleet of one against
:func:`blobedu.delivery.deliver` over hundreds of random scenarios, session by session.

What couples the messages
-------------------------
Without ``s3_capacity`` nothing does: each message's blob has its own key, so each message in a
fleet behaves exactly as it would alone at its arrival time (tested).  The couplings are:

* **S3 capacity** (``s3_capacity`` requests per second): a token bucket that refills at that rate
  and holds at most one second's worth (at least one token).  A request that reaches a working S3
  (no fault, or a lost write) takes a token; with none left S3 answers ``503 SlowDown``, which
  Stalwart's loop retries with its backoff, without jitter.  Refused, silent or faulted requests
  never reach it and take nothing.
* **Queue runs**: a Postfix or Exim *server* retries its deferred mail at its queue runs, every
  300 s and 30 min from when the server started (``queue_runs="server"``, the default: one server
  per sender kind, started with the run), so the retries of every message it holds come in one
  burst.  ``queue_runs="message"`` times each message's runs from its own arrival, as a server
  holding one message would (that is what :func:`blobedu.delivery.deliver` models).
* **Receiver faults**: a crash ends every in-flight store loop and drops its session (the spool is
  replayed); a disk loss loses every spooled message at once.

What bounds the speed
---------------------
The interpreter stepping generators.  Profiled with cProfile (``benchmarks/fleet.py --profile``:
10,000 messages, 6 h refused on 0.16.18, 24,721 SMTP sessions, 59,442 S3 requests, about 0.25 s
without the profiler): half the time is the generators' own code (the store-loop driver ``_s3``,
``policy.put``/``_request``, the sender and final-dot processes, ``send`` frame switches), about
7 % heap pushes and pops, 7 % recording the series, 5 % assigning senders, the rest schedule
arithmetic and bookkeeping; about 10 µs per SMTP session.  So the cost grows with *steps*:
messages × attempts during the outage × requests per attempt.  A 503 storm with maxRetries 10 or
a write-ahead spool (every spooled message retries its upload every minute: 918,055 requests for
the same day) cost 2 to 10 times more.  What keeps it there: zero-cost requests (a refused connect,
a zero-latency answer) never go through the heap; a request's answer and cost are computed once per
(method, fault, object state); a store loop hung for good is kept as data, not as a suspended
generator; the series are built after the run with numpy from typed arrays.

Run end
-------
The run ends when nothing is left to happen, or at :data:`~blobedu.clock.HORIZON_SECONDS`.  A
message is ``delivered`` (a copy reached the mailbox: ``delivered_at`` is when its blob was durable
in S3 with a queue entry, as in :func:`delivery.deliver`), ``bounced`` (its author was told),
``lost`` (a 250 was given and the copy is gone: a spool on a lost disk) or ``queued`` (still with a
sender or in the receiver's queue at the end: for instance a read hung for good on a silent S3 on
v0.8.2-v0.15.x, which :func:`delivery.deliver` reports as lost when its run ends).
"""

from __future__ import annotations

import heapq
from array import array
import itertools
import math
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Optional, Sequence

from . import policy
from .clock import HORIZON_SECONDS
from .durations import format_duration
from .edge import RequestRules, answer
from .errors import BlobeduError
from .faults import Fault, FaultPlan, plan
from .schedules import SENDERS, Schedule, sender_schedule, stalwart
from .store import StoreConfig

RECEIVERS = ("stalwart", "wal")
#: Bounds on the inputs: far beyond what fits the speed goals, short of what would exhaust memory.
MAX_MESSAGES = 200_000
MAX_SIZE = 1 << 30
DEFAULT_SENDERS: tuple[tuple[str, float], ...] = (("stalwart", 40.0), ("postfix", 40.0), ("exim", 20.0))
DEFAULT_SIZE = 64 * 1024  # spool.DEFAULT_MESSAGE_BYTES: a text mail with a small attachment
DEFAULT_SAMPLES = 300
REPLY_TEMPFAIL = "451 4.3.5 Unable to accept message at this time."  # receiver.REPLY_TEMPFAIL (data.rs:829)
REPLY_QUOTA = "452 4.3.1 Mail system full, try again later."  # receiver.REPLY_QUOTA
UPLOAD_RETRY_SECONDS = 60.0  # spool.UPLOAD_RETRY_SECONDS (checked equal in tests/test_fleet.py)
_SLOWDOWN = Fault("503", 0.0)
_SENDERS_RE = re.compile(r"^\s*([a-z0-9]+)\s*:\s*([0-9]+(?:\.[0-9]+)?)\s*$")


def parse_senders(text: str) -> tuple[tuple[str, float], ...]:
    """Parse ``stalwart:40,postfix:40,exim:20`` into ``(name, share)`` pairs (shares are weights)."""
    pairs: list[tuple[str, float]] = []
    for part in str(text).split(","):
        match = _SENDERS_RE.match(part)
        if not match:
            raise BlobeduError(f"bad sender share {part.strip()[:40]!r}: write NAME:SHARE,... e.g. "
                               "stalwart:40,postfix:40,exim:20")
        name, share = match.group(1), float(match.group(2))
        if name not in SENDERS:
            raise BlobeduError(f"unknown sender {name!r} in --senders: {', '.join(SENDERS)}")
        if any(name == n for n, _ in pairs):
            raise BlobeduError(f"sender {name!r} is listed twice in --senders")
        pairs.append((name, share))
    if not sum(s for _, s in pairs) > 0:
        raise BlobeduError("--senders: at least one share must be more than 0")
    return tuple(pairs)


@dataclass(frozen=True)
class FleetConfig:
    """A fleet scenario: the receiver's store, how many messages over how long, from whom, and S3's capacity."""

    store: StoreConfig = field(default_factory=StoreConfig)
    messages: int = 1000
    over: float = 86400.0
    senders: tuple[tuple[str, float], ...] = DEFAULT_SENDERS
    receiver: str = "stalwart"
    s3_capacity: Optional[float] = None
    size: int = DEFAULT_SIZE
    data_timeout: Optional[float] = None  # None: each sender's own final-dot wait
    queue_runs: str = "server"
    samples: int = DEFAULT_SAMPLES

    def check(self) -> None:
        """Raise :class:`BlobeduError` for any bad value (a store whose one write could outlast the horizon too)."""
        self.store.check_horizon()
        if not isinstance(self.messages, int) or not 1 <= self.messages <= MAX_MESSAGES:
            raise BlobeduError(f"messages must be a whole number from 1 to {MAX_MESSAGES:,}, got {self.messages!r}")
        if not (0 <= self.over <= HORIZON_SECONDS):
            raise BlobeduError(f"--over must be from 0 to 30d, got {self.over!r}")
        if self.receiver not in RECEIVERS:
            raise BlobeduError(f"unknown receiver {self.receiver!r}: {', '.join(RECEIVERS)}")
        if self.s3_capacity is not None and not (0 < self.s3_capacity < math.inf):
            raise BlobeduError(f"S3 capacity must be a number of requests per second above 0, got {self.s3_capacity!r}")
        if not isinstance(self.size, int) or not 1 <= self.size <= MAX_SIZE:
            raise BlobeduError(f"size must be a whole number of bytes from 1 to {MAX_SIZE:,}, got {self.size!r}")
        if self.data_timeout is not None and not (0 < self.data_timeout < math.inf):
            raise BlobeduError(f"data timeout must be more than 0 seconds, got {self.data_timeout!r}")
        if self.queue_runs not in ("server", "message"):
            raise BlobeduError(f"queue_runs must be 'server' or 'message', got {self.queue_runs!r}")
        if not self.senders or not sum(s for _, s in self.senders) > 0:
            raise BlobeduError("senders: at least one share must be more than 0")
        for name, share in self.senders:
            if name not in SENDERS:
                raise BlobeduError(f"unknown sender {name!r}: {', '.join(SENDERS)}")
            if not (0 <= share < math.inf):
                raise BlobeduError(f"sender share must be 0 or more, got {share!r}")
        if not 2 <= self.samples <= 10_000:
            raise BlobeduError(f"samples must be from 2 to 10,000, got {self.samples!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the store's resolved settings."""
        d = asdict(self)
        d["store"] = self.store.resolved()
        d["senders"] = {name: share for name, share in self.senders}
        return d


def assign_senders(shares: Sequence[tuple[str, float]], n: int) -> list[str]:
    """Which sender sends each of ``n`` messages: smooth weighted round robin, so every prefix keeps the shares."""
    credit = [0.0] * len(shares)
    total = sum(s for _, s in shares)
    out = []
    for _ in range(n):
        for k, (_, share) in enumerate(shares):
            credit[k] += share
        best = max(range(len(shares)), key=lambda k: credit[k])
        credit[best] -= total
        out.append(shares[best][0])
    return out


# -- what happened to each message ----------------------------------------------------------------------
class Session:
    """One SMTP attempt as the sender saw it (``reply``: the final-dot reply, ``timeout`` or ``dropped``)."""

    __slots__ = ("t", "deadline", "reply", "ended", "receiver_reply", "receiver_replied_at", "waiting")

    def __init__(self, t: float, deadline: float) -> None:
        self.t, self.deadline = t, deadline
        self.reply: Optional[str] = None
        self.ended: Optional[float] = None
        self.receiver_reply: Optional[str] = None
        self.receiver_replied_at: Optional[float] = None
        self.waiting = None  # the sender's process, while it waits for this reply


class Copy:
    """One copy the receiver accepted with a 250, and what became of it (as :class:`receiver.Acceptance`)."""

    __slots__ = ("t", "durable_at", "mailbox_at", "bounced_at", "lost_at", "in_spool", "upload", "told")

    def __init__(self, t: float) -> None:
        self.t = t
        self.told = True  # whether its bounce, if it bounced, can reach the author (bounces.told)
        self.durable_at: Optional[float] = None
        self.mailbox_at: Optional[float] = None
        self.bounced_at: Optional[float] = None
        self.lost_at: Optional[float] = None
        self.in_spool = False
        self.upload = None

    @property
    def pending(self) -> bool:
        """Neither in the mailbox, bounced, nor lost yet."""
        return self.mailbox_at is None and self.bounced_at is None and self.lost_at is None


class Message:
    """One message: who sent it when, its sessions, the copies accepted, and its fate once the run ends."""

    __slots__ = ("index", "sender", "arrival", "sessions", "copies", "in_s3", "released_at", "sender_bounced",
                 "open_dots", "fate", "delivered_at")

    def __init__(self, index: int, sender: str, arrival: float) -> None:
        self.index, self.sender, self.arrival = index, sender, arrival
        self.sessions: list[Session] = []
        self.copies: list[Copy] = []
        self.in_s3 = False  # whether its blob (one key: the BLAKE3 of its body) is in S3
        self.released_at: Optional[float] = None  # when the sender let go (250 received, or bounced)
        self.sender_bounced = False
        self.open_dots = 0  # final-dot store loops still running at the receiver
        self.fate = ""
        self.delivered_at: Optional[float] = None

    def settle(self) -> None:
        """The message's fate, by :func:`delivery._collect`'s rules, plus ``queued`` for unfinished business."""
        delivered = [c for c in self.copies if c.mailbox_at is not None]
        if delivered:
            self.fate = "delivered"
            self.delivered_at = min(c.durable_at if c.durable_at is not None else c.mailbox_at for c in delivered)
        elif self.sender_bounced or any(c.bounced_at is not None and c.told for c in self.copies):
            self.fate = "bounced"  # the author was told
        elif self.released_at is None or self.open_dots or any(c.pending for c in self.copies):
            self.fate = "queued"
        else:
            self.fate = "lost"


class _Log:
    """Changes of one level over time, ``(t, delta)`` as they happen, in typed arrays (8 + 1 bytes a change)."""

    __slots__ = ("times", "deltas")

    def __init__(self) -> None:
        self.times, self.deltas = array("d"), array("b")

    def add(self, t: float, delta: int) -> None:
        """Record a change of ``delta`` at ``t`` (never earlier than the last one)."""
        self.times.append(t)
        self.deltas.append(delta)

    def __len__(self) -> int:
        return len(self.times)


class _Blob:
    """A blob that is not a message body (a DSN's): only whether it is in S3."""

    __slots__ = ("in_s3",)

    def __init__(self) -> None:
        self.in_s3 = False


class _HungForever(Exception):
    """A request met a silent S3 that never comes back, on a version that never times it out."""


class _Proc:
    """A process: a generator that yields the time it wants to wake at (None: until something wakes it)."""

    __slots__ = ("gen", "token", "alive")

    def __init__(self) -> None:
        self.gen: Optional[Iterator] = None
        self.token = 0
        self.alive = True


class _Capacity:
    """S3's request capacity: a token bucket refilled at ``rate`` per second, holding at most ``max(1, rate)``."""

    __slots__ = ("rate", "burst", "tokens", "last")

    def __init__(self, rate: float) -> None:
        self.rate, self.burst = rate, max(1.0, rate)
        self.tokens, self.last = self.burst, 0.0

    def take(self, t: float) -> bool:
        """Whether a request at ``t`` is served (it takes a token) or answered 503 SlowDown."""
        self.tokens = min(self.burst, self.tokens + (t - self.last) * self.rate)
        self.last = t
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


# -- the engine --------------------------------------------------------------------------------------------
class Fleet:
    """The simulation: build it with faults and a :class:`FleetConfig`, call :meth:`run`, read the results."""

    def __init__(self, faults=None, config: Optional[FleetConfig] = None, arrivals: Optional[Sequence[float]] = None,
                 senders: Optional[Sequence[str]] = None, horizon: float = HORIZON_SECONDS) -> None:
        self.config = config or FleetConfig()
        self.config.check()
        self.faults: FaultPlan = plan(faults)
        self.horizon = float(horizon)
        c = self.config
        self.behaviour = c.store.behaviour
        self.settings = c.store.resolved()
        self.rules = RequestRules.of(self.behaviour, self.settings)
        self.verify = bool(self.settings["verify"])
        self.max_retries = self.settings["max_retries"]
        self.local_schedule = stalwart(c.store.version)
        self.queued_reply = self.behaviour.queued_reply
        if arrivals is None:
            gap = c.over / c.messages
            arrivals = [i * gap for i in range(c.messages)]
        names = list(senders) if senders is not None else assign_senders(c.senders, len(arrivals))
        if len(names) != len(arrivals):
            raise BlobeduError("one sender per arrival")
        self.schedules: dict[str, Schedule] = {n: sender_schedule(n) for n in set(names)}
        self.waits = {n: (s.final_dot_wait if c.data_timeout is None else float(c.data_timeout))
                      for n, s in self.schedules.items()}
        self.runs_from = 0.0 if c.queue_runs == "server" else None
        self.messages = [Message(i, names[i], float(a)) for i, a in enumerate(arrivals)]
        self.capacity = _Capacity(c.s3_capacity) if c.s3_capacity else None
        self._s3_faults = self.faults.s3
        if self.faults.datastore and c.receiver != "stalwart":
            raise BlobeduError("datastore-down and commit-fail are faults of Stalwart's data store: use receiver stalwart")
        self._answers: dict[tuple, tuple[policy.Reply, bool, float]] = {}
        self._heap: list = []
        self._seq = itertools.count()
        self.now = 0.0
        self.ended = 0.0
        self._dots: dict[_Proc, tuple[Message, Session]] = {}  # final-dot store loops in flight
        self._uploads: dict[_Proc, Copy] = {}
        self._queue_ids = itertools.count(1)
        # what the series are built from: (time, change) as they happen, in time order
        self.request_times = array("d")
        self.slowdowns = 0
        self.backlog_log, self.memory_log, self.spool_log = _Log(), _Log(), _Log()
        # store loops hung for good: kept as data, not as suspended generators (there can be millions)
        self._hung_dots: list[tuple[Message, Session]] = []
        self._hung_uploads: list[tuple[Message, Copy, bool]] = []  # (message, copy, holds its body in memory)
        self.wall_seconds = 0.0

    # -- the kernel ---------------------------------------------------------------------------------
    def _start(self, make) -> _Proc:
        """Start a process now: ``make(proc)`` returns its generator, which runs to its first yield."""
        proc = _Proc()
        proc.gen = make(proc)
        self._step(proc, None)
        return proc

    def _step(self, proc: _Proc, value) -> None:
        try:
            when = proc.gen.send(value)
        except StopIteration:
            proc.alive = False
            return
        if when is not None:
            heapq.heappush(self._heap, (when, next(self._seq), proc, proc.token))

    def _wake(self, proc: _Proc) -> None:
        """Wake a waiting process now, cancelling the wake-up it asked for."""
        proc.token += 1
        heapq.heappush(self._heap, (self.now, next(self._seq), proc, proc.token))

    def _kill(self, proc: _Proc) -> None:
        proc.token += 1
        proc.alive = False
        proc.gen.close()

    def run(self) -> "FleetResult":
        """Run every message to its fate, or to the horizon; returns the :class:`FleetResult`."""
        t0 = time.perf_counter()
        for m in self.messages:
            heapq.heappush(self._heap, (m.arrival, next(self._seq), self._arrival_proc(m), 0))
        for fault in self.faults.receiver:
            if fault.kind in ("crash", "disk-loss") and fault.start >= 0:
                proc = _Proc()
                proc.gen = self._node_fault(fault)
                heapq.heappush(self._heap, (fault.start, next(self._seq), proc, 0))
        heap, pop = self._heap, heapq.heappop
        while heap:
            when, _, proc, token = heap[0]
            if when > self.horizon:
                self.ended = self.horizon
                break
            pop(heap)
            if token != proc.token or not proc.alive:
                continue
            self.now = self.ended = when
            self._step(proc, None)
        for m in self.messages:
            m.settle()
        self.wall_seconds = time.perf_counter() - t0
        return FleetResult.build(self)

    def _arrival_proc(self, m: Message) -> _Proc:
        proc = _Proc()
        proc.gen = self._sender(m, proc)
        return proc

    # -- S3: the policy machines, fed by the edge rules --------------------------------------------------
    def _s3(self, m, machine: policy.Machine):
        """Drive one :mod:`policy` machine for message ``m``; yields wake times, returns its Outcome.

        Each request meets the fault the plan holds at that moment (the last listed active one wins,
        as :meth:`FaultPlan.s3_fault_at`), then the edge rules (:mod:`blobedu.edge`) say what it gets
        and what it costs.  A request hung for good (a silent S3 that never comes back,
        v0.8.2-v0.15.x) raises :class:`_HungForever`: only a crash ends it, and the caller keeps
        it as plain data rather than as a suspended generator.
        """
        rules, send, sent = self.rules, machine.send, self.request_times.append
        faults, capacity, memo = self._s3_faults, self.capacity, self._answers
        try:
            step = next(machine)
            while True:
                if step.__class__ is policy.Send:
                    t = self.now
                    fault = None
                    for f in faults:
                        if f.start <= t and (f.end is None or t < f.end):
                            fault = f
                    fault = rules.fault_for(fault)
                    if capacity is not None and (fault is None or fault.kind == "lost-write") and not capacity.take(t):
                        fault = _SLOWDOWN
                        self.slowdowns += 1
                    key = (step.method, fault.kind if fault is not None else None, m.in_s3)
                    known = memo.get(key)
                    if known is None:  # answer() and cost() depend on nothing else: compute each once
                        reply, stored = answer(step.method, fault, m.in_s3)
                        known = memo[key] = (reply, stored, rules.cost(reply))
                    reply, stored, cost = known
                    if stored:
                        m.in_s3 = True
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

    # -- the sender -----------------------------------------------------------------------------------
    def _sender(self, m: Message, proc: _Proc):
        schedule, wait = self.schedules[m.sender], self.waits[m.sender]
        queued = m.arrival
        failures: list[float] = []
        self.backlog_log.add(self.now, 1)
        while True:
            s = Session(self.now, self.now + wait)
            m.sessions.append(s)
            self._final_dot(m, s)
            if s.reply is None:
                s.waiting = proc
                yield s.deadline  # or earlier, woken by the reply
                s.waiting = None
                if s.reply is None:  # a reply landing exactly on the deadline loses the tie, as in deliver()
                    s.reply, s.ended = "timeout", s.deadline
            now = self.now
            if s.reply.startswith("2"):
                self._release(m)
                return
            if not s.reply.startswith("5"):
                failures.append(now)
                nxt = schedule.next_attempt(queued, failures, self.runs_from)
                if nxt is not None:
                    yield nxt
                    continue
                end = schedule.expires_at(queued)
                if end is not None and end > now:
                    yield end
            m.sender_bounced = True
            self._release(m)
            return

    def _release(self, m: Message) -> None:
        m.released_at = self.now
        self.backlog_log.add(self.now, -1)

    def _reply(self, s: Session, text: str) -> None:
        """The receiver answers the final dot; the sender hears it only if it is still waiting."""
        s.receiver_reply, s.receiver_replied_at = text, self.now
        if s.reply is None and self.now < s.deadline:
            s.reply, s.ended = text, self.now
            if s.waiting is not None:
                self._wake(s.waiting)

    # -- the receivers ----------------------------------------------------------------------------------
    def _final_dot(self, m: Message, s: Session) -> None:
        if self.config.receiver == "wal":
            self._wal_dot(m, s)
        else:
            proc = self._start(lambda p: self._stalwart_dot(m, s, p))
            if proc.alive:
                self._dots[proc] = (m, s)

    def _stalwart_dot(self, m: Message, s: Session, proc: _Proc):
        """MessageWrapper::queue: reserve, put_blob through the retry loop, commit; 250, or 451 4.3.5 on any failure."""
        if self.faults.datastore_fails_at(self.now, "reserve"):  # before S3 is touched
            self._reply(s, REPLY_TEMPFAIL)
            return
        m.open_dots += 1
        self.memory_log.add(self.now, 1)
        try:
            outcome = yield from self._s3(m, policy.put(self.behaviour, self.max_retries, self.verify))
        except _HungForever:
            self._dots.pop(proc, None)
            self._hung_dots.append((m, s))  # the session, and the body in memory, stay until a crash
            return
        except GeneratorExit:  # a crash ends it (_crash)
            self._end_dot(m, proc)
            raise
        self._end_dot(m, proc)
        if outcome.ok and self.faults.datastore_fails_at(self.now, "commit"):
            self._reply(s, REPLY_TEMPFAIL)  # the object just PUT is an orphan; the sender keeps the message
        elif outcome.ok:
            copy = Copy(self.now)
            if m.in_s3:
                copy.durable_at = copy.t
            m.copies.append(copy)
            self._start(lambda p: self._local(m, copy))
            self._reply(s, self.queued_reply.format(queue_id=next(self._queue_ids)))
        else:
            self._reply(s, REPLY_TEMPFAIL)

    def _end_dot(self, m: Message, proc: Optional[_Proc]) -> None:
        """A final-dot store loop is over: its body leaves memory."""
        m.open_dots -= 1
        self.memory_log.add(self.now, -1)
        if proc is not None:
            self._dots.pop(proc, None)

    def _wal_dot(self, m: Message, s: Session) -> None:
        """The spool: 452 on a full disk, else fsync, 250, and an upload in the background."""
        if self.faults.disk_full_at(self.now):
            self._reply(s, REPLY_QUOTA)
            return
        copy = Copy(self.now)
        copy.in_spool = True
        m.copies.append(copy)
        self.spool_log.add(self.now, 1)
        self._start_upload(m, copy)
        self._reply(s, self.queued_reply.format(queue_id=next(self._queue_ids)))

    def _start_upload(self, m: Message, copy: Copy) -> None:
        proc = self._start(lambda p: self._upload(m, copy, p))
        if proc.alive:
            copy.upload = proc
            self._uploads[proc] = copy

    def _upload(self, m: Message, copy: Copy, proc: _Proc):
        """spool.SpoolingReceiver._upload: put_blob until S3 has it (confirmed), every 60 s, or bounce at expiry."""
        expires = self.local_schedule.expires_at(copy.t)
        try:
            while True:
                self.memory_log.add(self.now, 1)  # the body, read back from the spool for this attempt
                try:
                    outcome = yield from self._s3(m, policy.put(self.behaviour, self.max_retries, self.verify))
                except _HungForever:
                    self._hung_uploads.append((m, copy, True))
                    return
                except GeneratorExit:
                    self.memory_log.add(self.now, -1)
                    raise
                self.memory_log.add(self.now, -1)
                ok = outcome.ok
                if ok and not self.verify:  # no HEAD confirmed it: read the blob back (spool._confirmed)
                    try:
                        got = yield from self._s3(m, policy.get(self.behaviour, self.max_retries))
                    except _HungForever:
                        self._hung_uploads.append((m, copy, False))
                        return
                    ok = got.ok and bool(got.found)
                now = self.now
                if ok:
                    copy.durable_at = now
                    self._leave_spool(copy)
                    self._start(lambda p: self._local(m, copy))
                    return
                if expires is not None and now + UPLOAD_RETRY_SECONDS >= expires:
                    if expires > now:
                        yield expires
                    copy.bounced_at = self.now
                    self._leave_spool(copy)
                    return
                yield now + UPLOAD_RETRY_SECONDS
        finally:
            self._uploads.pop(proc, None)

    def _end_hung_uploads(self) -> None:
        """Uploads hung for good die with the process or the disk: their bodies leave memory."""
        for _, _, holds in self._hung_uploads:
            if holds:
                self.memory_log.add(self.now, -1)
        self._hung_uploads.clear()

    def _leave_spool(self, copy: Copy) -> None:
        if copy.in_spool:
            copy.in_spool = False
            self.spool_log.add(self.now, -1)

    def _local(self, m: Message, copy: Copy):
        """Local delivery after the 250: read the blob back, retry on the receiver's queue schedule."""
        failures: list[float] = []
        while True:
            try:
                outcome = yield from self._s3(m, policy.get(self.behaviour, self.max_retries))
            except _HungForever:
                return  # the copy waits in the queue for good (a crash does not touch local delivery)
            if outcome.ok and outcome.found:
                copy.mailbox_at = self.now
                return
            failures.append(self.now)
            nxt = self.local_schedule.next_attempt(copy.t, failures)
            if nxt is None:
                end = self.local_schedule.expires_at(copy.t)
                if end is not None and end > self.now:
                    yield end
                copy.bounced_at = self.now
                copy.told = yield from self._queue_dsn()
                return
            yield nxt

    def _queue_dsn(self):
        """A receiver's bounce goes through MessageWrapper::queue on this same store, result ignored (bounces.py).

        Returns whether it can reach the author: queued with its blob in S3.  Dropped (a failed write),
        unreadable (a lost write) or stuck (hung for good) bounces tell nobody.
        """
        if self.faults.datastore_fails_at(self.now, "reserve"):
            return False
        blob = _Blob()
        try:
            outcome = yield from self._s3(blob, policy.put(self.behaviour, self.max_retries, self.verify))
        except _HungForever:
            return False
        return outcome.ok and not self.faults.datastore_fails_at(self.now, "commit") and blob.in_s3

    # -- faults on the node ------------------------------------------------------------------------------
    def _node_fault(self, fault: Fault):
        """A crash or disk loss, as a process the heap starts at ``fault.start``."""
        (self._crash if fault.kind == "crash" else self._disk_loss)()
        return
        yield  # pragma: no cover - makes this a generator

    def _crash(self) -> None:
        """The process dies and restarts: in-flight store loops end, their sessions drop; the spool is replayed."""
        ended = list(self._dots.values()) + self._hung_dots
        for proc in list(self._dots):
            self._kill(proc)
        for m, _ in self._hung_dots:
            self._end_dot(m, None)
        self._hung_dots.clear()
        for m, s in ended:
            if s.reply is None and self.now < s.deadline:
                s.reply, s.ended = "dropped", self.now
                if s.waiting is not None:
                    self._wake(s.waiting)
        for proc in list(self._uploads):
            self._kill(proc)
        self._end_hung_uploads()
        for m in self.messages:  # the restarted node replays what is on its disk
            for copy in m.copies:
                if copy.in_spool:
                    self._start_upload(m, copy)

    def _disk_loss(self) -> None:
        """The local disk is gone: every spooled copy is lost (Stalwart keeps nothing there)."""
        for proc in list(self._uploads):
            self._kill(proc)
        self._end_hung_uploads()
        for m in self.messages:
            for copy in m.copies:
                if copy.in_spool:
                    copy.lost_at = self.now
                    self._leave_spool(copy)


# -- results ---------------------------------------------------------------------------------------------
def _percentiles(values: list[float]) -> dict[str, Optional[float]]:
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None}
    import numpy as np

    a = np.asarray(values, dtype=float)
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return {"p50": round(float(p50), 3), "p90": round(float(p90), 3), "p99": round(float(p99), 3),
            "max": round(float(a.max()), 3)}


def _steps(log: _Log):
    """``(times, levels)``: the running total of ``log`` after the last change at each distinct time.

    Changes at one instant are netted first: a message held for zero seconds (a 250 at once) was
    never held, and must not show as one.
    """
    import numpy as np

    times = np.frombuffer(log.times, dtype=float)
    totals = np.cumsum(np.frombuffer(log.deltas, dtype=np.int8).astype(np.int64))
    last = np.append(times[1:] != times[:-1], True)
    return times[last], totals[last]


def _level(log: _Log, grid, step: float) -> "Any":
    """The highest running total of ``log`` in each step ``[t, t + step)`` of the grid.

    The highest, not the value at ``t``: a burst of one-second sessions between two samples must
    still show, and it is what memory has to hold.
    """
    import numpy as np

    if not log:
        return np.zeros(len(grid), dtype=np.int64)
    times, totals = _steps(log)
    idx = np.searchsorted(times, grid, side="right") - 1
    level = np.where(idx >= 0, totals[np.maximum(idx, 0)], 0)  # carried into each step
    bins = np.minimum((times / step).astype(np.int64), len(grid) - 1)
    highest = np.zeros(len(grid), dtype=np.int64)
    np.maximum.at(highest, bins, totals)
    return np.maximum(level, highest)


def _peak(log: _Log) -> int:
    return int(max(0, _steps(log)[1].max())) if log else 0


@dataclass
class FleetResult:
    """What a fleet run produced: fates, copies, delays, load, and series on a fixed grid."""

    config: dict[str, Any]
    faults: list[str]
    s3_windows: list[tuple[str, float, Optional[float]]]
    messages: int
    fates: dict[str, int]
    copies: int
    duplicates: int
    delay: dict[str, Optional[float]]
    smtp_sessions: int
    s3_requests: int
    s3_slowdowns: int
    peaks: dict[str, float]
    drain: dict[str, Optional[float]]
    ended: float
    series: dict[str, list]
    wall_seconds: float
    detail: list[Message] = field(default_factory=list, repr=False)

    @classmethod
    def build(cls, fleet: Fleet) -> "FleetResult":
        """Summarise a finished :class:`Fleet`."""
        import numpy as np

        msgs = fleet.messages
        fates = {"delivered": 0, "bounced": 0, "lost": 0, "queued": 0}
        for m in msgs:
            fates[m.fate] += 1
        copies = sum(len(m.copies) for m in msgs)
        duplicates = sum(max(0, len(m.copies) - 1) for m in msgs)
        size = fleet.config.size
        span = max(fleet.ended, fleet.config.over, 1.0)
        n = fleet.config.samples
        grid = np.linspace(0.0, span, n)
        step = span / (n - 1)
        requests = np.frombuffer(fleet.request_times, dtype=float)
        counts = np.histogram(requests, bins=np.append(grid, span + step))[0] if len(requests) else np.zeros(n)
        if len(requests):
            per_second = np.bincount(np.floor(requests).astype(np.int64))
            starts = np.minimum(np.floor(grid).astype(np.int64), len(per_second) - 1)
            peak_rate = np.maximum.reduceat(per_second, starts)
            peak_rate = np.where(np.floor(grid) < len(per_second), peak_rate, 0)
        else:
            peak_rate = np.zeros(n, dtype=np.int64)
        series = {
            "t": [round(float(t), 3) for t in grid],
            "sender_backlog": _level(fleet.backlog_log, grid, step).tolist(),
            "receiver_memory_bytes": (_level(fleet.memory_log, grid, step) * size).tolist(),
            "s3_requests_per_s": [round(float(c) / step, 4) for c in counts],
            "s3_peak_requests_per_s": [int(p) for p in peak_rate],
            "spool_bytes": (_level(fleet.spool_log, grid, step) * size).tolist(),
        }
        peak_second = int(np.bincount(np.floor(requests).astype(np.int64)).max()) if len(requests) else 0
        peaks = {"sender_backlog": _peak(fleet.backlog_log),
                 "receiver_memory_bytes": _peak(fleet.memory_log) * size,
                 "receiver_sessions": _peak(fleet.memory_log) if fleet.config.receiver == "stalwart" else 0,
                 "s3_requests_per_s": peak_second,
                 "spool_bytes": _peak(fleet.spool_log) * size}
        delays = [m.delivered_at - m.arrival for m in msgs if m.delivered_at is not None]
        return cls(
            config=fleet.config.to_dict(), faults=fleet.faults.specs(),
            s3_windows=[(f.kind, f.start, f.end) for f in fleet.faults.s3], messages=len(msgs), fates=fates,
            copies=copies, duplicates=duplicates, delay=_percentiles(delays),
            smtp_sessions=sum(len(m.sessions) for m in msgs), s3_requests=len(fleet.request_times),
            s3_slowdowns=fleet.slowdowns, peaks=peaks, drain=_drain(fleet), ended=round(fleet.ended, 3),
            series=series, wall_seconds=round(fleet.wall_seconds, 4), detail=msgs)

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict (the CLI's ``fleet --json`` object; no per-message detail)."""
        return {name: getattr(self, name) for name in (
            "config", "faults", "s3_windows", "messages", "fates", "copies", "duplicates", "delay", "smtp_sessions", "s3_requests",
            "s3_slowdowns", "peaks", "drain", "ended", "series", "wall_seconds")}

    def summary(self, wall: bool = True) -> str:
        """A few lines for a terminal or a notebook (``wall=False`` leaves out the wall time, which varies)."""
        f, d, p = self.fates, self.delay, self.peaks
        lines = [
            f"{self.messages:,} messages: {f['delivered']:,} delivered, {f['bounced']:,} bounced, "
            f"{f['lost']:,} lost, {f['queued']:,} still queued; {self.copies:,} copies accepted "
            f"({self.duplicates:,} duplicates)",
            "delay of delivered mail: " + (
                f"median {format_duration(d['p50'])}, p90 {format_duration(d['p90'])}, "
                f"p99 {format_duration(d['p99'])}, max {format_duration(d['max'])}" if d["max"] is not None else "none delivered"),
            f"peaks: {p['sender_backlog']:,} message{'' if p['sender_backlog'] == 1 else 's'} held by senders, receiver memory {_mib(p['receiver_memory_bytes'])}"
            + (f" in {p['receiver_sessions']:,} open sessions" if p["receiver_sessions"] else "")
            + f", {p['s3_requests_per_s']:,} S3 requests in one second"
            + (f", spool {_mib(p['spool_bytes'])}" if p["spool_bytes"] else ""),
            f"{self.smtp_sessions:,} SMTP sessions, {self.s3_requests:,} S3 requests"
            + (f" ({self.s3_slowdowns:,} answered 503 SlowDown for capacity)" if self.s3_slowdowns else ""),
        ]
        if self.drain["sender_backlog_seconds"] is not None:
            lines.append(f"after S3 came back: the senders' backlog drained in "
                         f"{format_duration(self.drain['sender_backlog_seconds'])}"
                         + (f", the spool in {format_duration(self.drain['spool_seconds'])}"
                            if self.drain.get("spool_seconds") else ""))
        lines.append(f"simulated {format_duration(self.ended)}" + (f" in {self.wall_seconds:.2f} s of wall time" if wall else ""))
        return "\n".join(lines)


def _mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def _drain(fleet: Fleet) -> dict[str, Optional[float]]:
    """How long after S3's last change (the outage's end) the senders, and the spool, let go of what they held."""
    s3 = fleet.faults.s3
    if not s3 or any(f.end is None for f in s3):
        return {"s3_back_at": None, "sender_backlog_seconds": None, "spool_seconds": None}
    back = fleet.faults.last_s3_change()
    held = [m.released_at for m in fleet.messages if m.arrival < back]
    held = [t for t in held if t is None or t > back]
    sender = None if any(t is None for t in held) else round(max(held, default=back) - back, 3)
    spooled = [_left_spool(c) for m in fleet.messages for c in m.copies if c.t < back]
    spooled = [t for t in spooled if t is None or t > back]
    spool = None if any(t is None for t in spooled) else round(max(spooled, default=back) - back, 3)
    return {"s3_back_at": back, "sender_backlog_seconds": sender, "spool_seconds": spool}


def _left_spool(c: Copy) -> Optional[float]:
    for t in (c.durable_at, c.bounced_at, c.lost_at):
        if t is not None:
            return t
    return None


def run(faults=None, config: Optional[FleetConfig] = None) -> FleetResult:
    """Run a fleet of messages through the faults (the function behind ``blobedu fleet``)."""
    return Fleet(faults, config).run()
