"""The simulation: :class:`Fleet` joins the kernel, S3, the senders and the receivers; :func:`run`."""

from __future__ import annotations

import contextlib
import gc
import itertools
import time
from array import array
from typing import Optional, Sequence

from .. import policy
from ..clock import HORIZON_SECONDS
from ..edge import RequestRules
from ..errors import BlobeduError
from ..faults import FaultPlan, plan
from ..schedules import Schedule, sender_schedule, stalwart
from .config import FleetConfig, assign_senders
from .cost import step_budget
from .fastpath import FastPath
from .kernel import Kernel, _Proc
from .receivers import Receivers
from .results import Copy, FleetResult, Message, Session, SessionRows, _Log
from .s3 import S3Driver, _Capacity
from .senders import Senders, SendingServer, make_servers


@contextlib.contextmanager
def _gc_paused():
    """The cyclic garbage collector paused, and restored after (if it was on): for objects that all live on."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


class Fleet(Kernel, S3Driver, Senders, Receivers, FastPath):
    """The simulation: build it with faults and a :class:`FleetConfig`, call :meth:`run`, read the results."""

    def __init__(self, faults=None, config: Optional[FleetConfig] = None, arrivals: Optional[Sequence[float]] = None,
                 senders: Optional[Sequence[str]] = None, horizon: float = HORIZON_SECONDS) -> None:
        self.config = config or FleetConfig()
        self.config.check()
        self.faults: FaultPlan = plan(faults)
        self._init_kernel(horizon, step_budget(len(arrivals) if arrivals is not None else self.config.messages))
        c = self.config
        self.behaviour = c.store.behaviour
        self.settings = c.store.resolved()
        self.rules = RequestRules.of(self.behaviour, self.settings)
        self.verify = bool(self.settings["verify"])
        if c.jitter == "full":  # a counterfactual, not Stalwart: the same loop with a jittered backoff
            from ..jitter import jittered

            self.behaviour = jittered(self.behaviour, c.jitter_seed)
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
        self.session_rows = SessionRows(len(arrivals), self.queued_reply)  # the sessions senders are done with
        with _gc_paused():  # a million Messages that all live on: the collector would walk them again and again
            self.messages = [Message(i, names[i], float(a), self.session_rows) for i, a in enumerate(arrivals)]
        self.servers: dict[str, list[SendingServer]] = {}
        if c.sending_servers:
            self.servers = make_servers(names, c.sending_servers, self.schedules, c.phases == "aligned")
            turn = {k: 0 for k in self.servers}
            for m in self.messages:  # each kind's messages go round its servers
                group = self.servers[m.sender]
                m.server = group[turn[m.sender] % len(group)]
                turn[m.sender] += 1
        self.transfer_seconds = c.transfer_seconds
        self.max_connections = c.max_connections
        self.open_sessions = 0
        self.sessions_refused = 0
        self.sessions_log = _Log()
        self._connecting: dict[_Proc, tuple[Message, Session]] = {}  # sessions still sending their body
        self.capacity = _Capacity(c.s3_capacity, c.s3_burst) if c.s3_capacity else None
        self._s3_faults = self.faults.s3
        if self.faults.datastore and c.receiver != "stalwart":
            raise BlobeduError("datastore-down and commit-fail are faults of Stalwart's data store: use receiver stalwart")
        self._answers: dict[tuple, tuple[policy.Reply, bool, float]] = {}
        self._dots: dict[_Proc, tuple[Message, Session]] = {}  # final-dot store loops in flight
        # what a crash ends is kept only if the run has a crash (the fast path and the senders skip it otherwise)
        self._crashes = any(f.kind == "crash" for f in self.faults.receiver)
        self._uploads: dict[_Proc, Copy] = {}
        self._queue_ids = itertools.count(1)
        # what the series are built from: (time, change) as they happen, in time order
        self.request_times = array("d")
        self.slowdowns = 0
        self.slowdown_times = array("d")  # when each 503 SlowDown was answered (a subset of request_times)
        self.backlog_log, self.memory_log, self.spool_log = _Log(), _Log(), _Log()
        # store loops hung for good: kept as data, not as suspended generators (there can be millions)
        self._hung_dots: list[tuple[Message, Session]] = []
        self._hung_uploads: list[tuple[Message, Copy, bool]] = []  # (message, copy, holds its body in memory)
        self.wall_seconds = 0.0

    def run(self) -> FleetResult:
        """Run every message to its fate, or to the horizon; returns the :class:`FleetResult`.

        The cyclic garbage collector is paused while it runs (and restored after): the run makes
        millions of small objects that live to its end, which the collector would walk again and
        again (a fifth of the time at 1,000,000 messages) to find almost nothing, since every
        process ends without leaving a cycle behind.
        """
        with _gc_paused():
            return self._run()

    def _run(self) -> FleetResult:
        t0 = time.perf_counter()
        self._init_fast()
        for fault in self.faults.receiver:
            if fault.kind in ("crash", "disk-loss") and fault.start >= 0:
                self._at(fault.start, self._node_fault(fault))
        order = sorted(self.messages, key=lambda m: m.arrival)  # stable: equal arrivals keep their order
        self._loop([m.arrival for m in order], lambda i, proc: self._sender(order[i], proc))
        self.session_rows.finish(self.messages)
        for m in self.messages:
            m.settle()
        self.wall_seconds = time.perf_counter() - t0
        return FleetResult.build(self)


def run(faults=None, config: Optional[FleetConfig] = None) -> FleetResult:
    """Run a fleet of messages through the faults (the function behind ``blobedu fleet``).

    The collector stays paused from the Messages' making to the result (turned back on between,
    its first collection would walk every Message made).
    """
    with _gc_paused():
        return Fleet(faults, config).run()
