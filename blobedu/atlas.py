"""The hazard atlas (issue #22): search fault schedules for the smallest one behind every bad outcome.

Theory of operation
-------------------
The hazards of :mod:`blobedu.hazards` were found by people reading source.  The atlas searches for
them instead, as Jepsen and TigerBeetle's simulator do: for each release row of the version table
(:func:`representative_versions`, the newest release of each row of :data:`blobedu.versions.VERSIONS`)
and each receiver design (:data:`DESIGNS`), it runs one message through many **fault schedules** (S3
faults, receiver faults, data-store faults and faults on a Stalwart sender's own store, windows up to
:data:`MAX_END` long) and notes which bad :data:`OUTCOMES` each shows: first a fixed :func:`sweep` of
small schedules (one window from 0 of each kind and length, as SmallCheck enumerates small cases
first; a node's crash or disk loss inside a short S3 outage; a fault on the sender's own store at the
moment it bounces), then ``budget`` seeded random ones (:func:`draw`, 1 to 3 faults).  Each hit is
then **shrunk** to the smallest schedule that still shows the outcome.

*Smallest* is :meth:`FaultSchedule.size`: fewest faults, then the shortest total window (a crash or
a disk loss is a moment and counts 0 s), then the earliest starts.  The shrinker drops faults one at
a time, then halves each window from its end and from its start (a binary search to the second),
until nothing more can go; that is a local minimum, as every shrinker finds (Hypothesis's too).  The
:data:`SHRINK_HITS` smallest hits of an outcome are shrunk and the smallest result is kept.  A
hand-written generator and shrinker rather than Hypothesis's: "smallest" here is a property of fault
windows (count, then seconds), which Hypothesis's shrinker, ordering its choice sequences, does not
minimise; and a seeded generator gives the same atlas on every run without a database.

The search runs on the fast engine: a fleet of one message (:mod:`blobedu.fleet`, proven equal to
:func:`blobedu.delivery.deliver` in ``tests/test_fleet_equivalence.py``), through :func:`_fleet_of_one`,
the one adapter to it.  The fleet has no sender store, so a schedule with sender faults adds one
step: when the fleet's sender bounces at ``T``, its DSN is written at ``T`` through a 0.16.18 store
with those faults (:class:`blobedu.store.S3BlobStore`, as :func:`blobedu.bounces.queue_dsn` does in
``deliver()``).  Every shrunk schedule is then **confirmed** with a real :func:`deliver` run (real
SMTP over loopback, boto3 against moto, virtual time) before it enters the atlas; one the real run
does not confirm is kept aside as a discrepancy (a model bug), never as a finding.

Determinism: every cell's random generator is seeded from the atlas seed and the cell's names
(CRC-32, not Python's salted ``hash``), and nothing reads the wall clock, so an atlas is the same on
every run.

Each finding is mapped to a hazard id by :func:`classify`, from the mechanism the run shows (not from
the outcome's name alone): a session answered after its sender hung up, a lost write on a version
without verifyAfterWrite, a sender that gave up while the outage was already over, a spool that died
with its disk.  A finding no rule explains gets ``hazard: None``; ``tests/test_atlas.py`` fails on it
until it is explained.
"""

from __future__ import annotations

import math
import random
import shlex
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Sequence

from .errors import BlobeduError
from .faults import DATASTORE_KINDS, Fault, FaultPlan
from .hazards import HAZARD_IDS
from .versions import LATEST, VERSIONS, behaviour

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0

#: The bad outcomes the atlas looks for, with what each means for the message (which arrives at 0).
OUTCOMES: dict[str, str] = {
    "lost-after-250": "a 250 was given, the message never reaches the mailbox, and nobody is told",
    "lost-told": "the message never reaches the mailbox; the author gets a bounce",
    "lost-untold": "no 250 was given, the message never reaches the mailbox, and nobody is told (a bounce was dropped)",
    "duplicate": "two copies reach the mailbox",
    "delay-over-24h": "the message reaches the mailbox more than 24 hours after it was sent",
    "hung": "a receiver session still holds the body in memory after its sender hung up",
}


@dataclass(frozen=True)
class Design:
    """A receiver design the atlas searches: its name in ``deliver --receiver`` and which faults apply to it."""

    name: str
    node_kinds: tuple[str, ...]
    datastore: bool  # whether the data-store faults (datastore-down, commit-fail) apply


#: The receiver designs.  A design from issue #20 is one more line here, once ``deliver()`` and the
#: fleet know its name.
DESIGNS: dict[str, Design] = {
    "stalwart": Design("stalwart", ("crash", "disk-loss", "disk-full"), datastore=True),
    "wal": Design("wal", ("crash", "disk-loss", "disk-full"), datastore=False),
}
#: The sending servers searched (the search space grows with each); Stalwart's own is the default.
SENDERS: tuple[str, ...] = ("stalwart",)
#: S3 fault kinds drawn for the receiver's store, and for a Stalwart sender's own store.
S3_KINDS: tuple[str, ...] = ("refused", "timeout", "503", "500", "429", "403", "lost-write")
SENDER_KINDS: tuple[str, ...] = ("refused", "timeout", "503", "lost-write")
#: Windows end by this long after the message arrives ("a few days": past the 5-day expiry of
#: Stalwart 0.5-0.12's own queue, so a bounce at its end can meet a fault too).
MAX_END = 6 * DAY
#: Between two schedules of the same size, the plainer faults win: an S3 that refuses before one that
#: answers a status, a whole outage before a node fault.
_KIND_RANK = {k: i for i, k in enumerate(("refused", "timeout", "503", "500", "429", "403", "lost-write", "disk-full",
                                          "crash", "disk-loss", "datastore-down", "commit-fail"))}
#: Schedules drawn per cell by default (the benchmark's full atlas), and hits shrunk per outcome.
DEFAULT_BUDGET = 100
SHRINK_HITS = 2
DEFAULT_SEED = 22


def representative_versions() -> tuple[str, ...]:
    """One release per row of the version table: the newest of each row (what an admin on that row most likely runs)."""
    return tuple(".".join(map(str, row.last)) for row in VERSIONS)


# -- schedules ---------------------------------------------------------------------------------------------
def _num(seconds: float) -> str:
    """A duration as a spec the CLI parses back exactly: the largest unit that divides it, else seconds."""
    if seconds == int(seconds):
        s = int(seconds)
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if s and s % size == 0:
                return f"{s // size}{unit}"
        return f"{s}s" if s else "0"
    return f"{seconds:.2f}s"


def spec(f: Fault) -> str:
    """``f`` as an exact spec (``refused@0-100922s``; :meth:`Fault.spec` rounds for people)."""
    return f"{f.kind}@{_num(f.start)}" + ("" if f.end is None else f"-{_num(f.end)}")


@dataclass(frozen=True)
class FaultSchedule:
    """The faults of one scenario: on the receiving side (S3, node, data store) and on the sender's own store."""

    faults: tuple[Fault, ...] = ()
    sender_faults: tuple[Fault, ...] = ()

    @property
    def all(self) -> tuple[Fault, ...]:
        return self.faults + self.sender_faults

    def size(self) -> tuple:
        """The order "smallest" means: fewest faults, then the shortest total window, then the earliest starts
        (then the plainest kinds, then the specs, so that the order is total)."""
        windows = sum((f.end - f.start) if f.end is not None else math.inf for f in self.all)
        ranks = tuple(sorted(_KIND_RANK.get(f.kind, len(_KIND_RANK)) for f in self.all))
        return (len(self.all), round(windows, 3), round(sum(f.start for f in self.all), 3), ranks, self.specs())

    def specs(self) -> tuple[str, ...]:
        """Every fault as a spec; a sender fault is prefixed ``sender:``."""
        return tuple(spec(f) for f in self.faults) + tuple(f"sender:{spec(f)}" for f in self.sender_faults)

    def without(self, i: int) -> "FaultSchedule":
        """The schedule with its ``i``-th fault (in :attr:`all` order) removed."""
        n = len(self.faults)
        if i < n:
            return FaultSchedule(self.faults[:i] + self.faults[i + 1:], self.sender_faults)
        j = i - n
        return FaultSchedule(self.faults, self.sender_faults[:j] + self.sender_faults[j + 1:])

    def replace(self, i: int, fault: Fault) -> "FaultSchedule":
        """The schedule with its ``i``-th fault replaced."""
        n = len(self.faults)
        if i < n:
            return FaultSchedule(self.faults[:i] + (fault,) + self.faults[i + 1:], self.sender_faults)
        j = i - n
        return FaultSchedule(self.faults, self.sender_faults[:j] + (fault,) + self.sender_faults[j + 1:])


@dataclass(frozen=True)
class Scenario:
    """One cell's fixed part: the receiver's Stalwart version, the receiver design, the sender."""

    version: str
    receiver: str
    sender: str = "stalwart"

    def reproduce(self, schedule: FaultSchedule) -> str:
        """The ``blobedu deliver`` line that shows a schedule's outcome."""
        argv = ["blobedu", "deliver", "--stalwart", self.version, "--receiver", self.receiver, "--sender", self.sender]
        for f in schedule.faults:
            argv += ["--fault", spec(f)]
        for f in schedule.sender_faults:
            argv += ["--sender-fault", spec(f)]
        return shlex.join(argv)


# -- what one run showed -------------------------------------------------------------------------------------
@dataclass
class Observation:
    """One message's run, from either engine, reduced to what the outcomes are read from."""

    #: (start, reply the sender saw, end, the receiver's reply, when it replied)
    sessions: list[tuple[float, str, float, Optional[str], Optional[float]]]
    #: (accepted at, mailbox at, bounced at, lost at)
    copies: list[tuple[float, Optional[float], Optional[float], Optional[float]]]
    fate: str  # delivered, bounced (the author was told), lost, queued
    sender_bounced_at: Optional[float] = None
    sender_dsn: Optional[str] = None  # the fate of the sender's bounce (bounces.FATES key), if it bounced

    @property
    def mailbox_at(self) -> Optional[float]:
        times = [c[1] for c in self.copies if c[1] is not None]
        return min(times) if times else None

    def outcomes(self) -> set[str]:
        """The bad :data:`OUTCOMES` this run shows."""
        got = set()
        if self.fate == "lost" and self.copies:
            got.add("lost-after-250")
        if self.fate == "lost" and not self.copies:
            got.add("lost-untold")
        if self.fate == "bounced":
            got.add("lost-told")
        if sum(1 for c in self.copies if c[1] is not None) >= 2:
            got.add("duplicate")
        if self.mailbox_at is not None and self.mailbox_at > DAY:
            got.add("delay-over-24h")
        if any(s[1] == "timeout" for s in self.sessions):
            got.add("hung")
        return got


def _fleet_of_one(scenario: Scenario, faults: Sequence[Fault]):
    """The adapter to the fleet engine (its one-message API, as tests/test_fleet_equivalence.py runs it).

    Returns the one :class:`blobedu.fleet.Message`.  ``samples=2``: the fleet's series are not read.
    """
    from .fleet import Fleet, FleetConfig
    from .store import StoreConfig

    config = FleetConfig(store=StoreConfig(version=scenario.version), messages=1, over=0.0,
                         senders=((scenario.sender, 1.0),), receiver=scenario.receiver, samples=2)
    return Fleet(list(faults), config).run().detail[0]


class Engines:
    """Both engines, sharing one in-process S3 endpoint (moto) for the sender's store and for ``deliver()``."""

    def __init__(self) -> None:
        self._endpoint = None
        self.fast_runs = 0
        self.real_runs = 0

    @property
    def endpoint(self):
        if self._endpoint is None:
            from .endpoint import InProcessEndpoint

            self._endpoint = InProcessEndpoint()
        return self._endpoint

    def close(self) -> None:
        if self._endpoint is not None:
            self._endpoint.close()
            self._endpoint = None

    def _empty_bucket(self) -> None:
        # no run may read a blob another run wrote (two bounces at the same second have the same bytes)
        for key in self.endpoint.keys():
            self.endpoint.send("DELETE", key)

    def fast(self, scenario: Scenario, schedule: FaultSchedule) -> Observation:
        """The fleet of one, plus the sender's DSN write through its own store when it has faults."""
        self.fast_runs += 1
        m = _fleet_of_one(scenario, schedule.faults)
        obs = Observation(
            sessions=[(s.t, s.reply, s.ended, s.receiver_reply, s.receiver_replied_at) for s in m.sessions],
            copies=[(c.t, c.mailbox_at, c.bounced_at, c.lost_at) for c in m.copies],
            fate=m.fate, sender_bounced_at=m.released_at if m.sender_bounced else None)
        if obs.sender_bounced_at is not None:
            obs.sender_dsn = "queued"
            if schedule.sender_faults:
                obs.sender_dsn = self._sender_dsn(obs.sender_bounced_at, schedule.sender_faults)
                if obs.sender_dsn != "queued" and obs.fate == "bounced" and not any(
                        c[2] is not None for c in obs.copies):
                    obs.fate = "lost"  # the only bounce was the sender's, and it was dropped
        return obs

    @staticmethod
    def _sender_dsn(t: float, faults: Sequence[Fault]) -> str:
        """What a sending Stalwart's own store does with its bounce written at ``t`` (:func:`bounces.queue_dsn`).

        The sender's store is a 0.16.18 one with its defaults (``DeliveryConfig.sender_store_config``).
        Driven here without moto: the same :func:`blobedu.policy.put` machine, fed by the same
        request-edge rules (:mod:`blobedu.edge`) that :class:`~blobedu.store.S3BlobStore` and the
        fleet use; the confirming ``deliver()`` run writes it through moto.
        """
        from . import policy
        from .bounces import dsn_fate
        from .edge import RequestRules, answer
        from .store import StoreConfig

        config = StoreConfig(version=LATEST)
        settings, b = config.resolved(), config.behaviour
        rules, faults_at = RequestRules.of(b, settings), FaultPlan(list(faults)).s3_fault_at
        machine = policy.put(b, settings["max_retries"], settings["verify"])
        now, stored = t, False
        step = next(machine)
        try:
            while True:
                if isinstance(step, policy.Send):
                    fault = rules.fault_for(faults_at(now))
                    reply, put = answer(step.method, fault, stored)
                    stored = stored or put
                    reply, hang = rules.hang(reply, fault, now)  # 0.16 bounds every request: never hangs
                    now += rules.cost(reply) if hang is None else hang
                    step = machine.send(reply)
                else:
                    now += step.seconds
                    step = machine.send(None)
        except StopIteration as done:
            outcome = done.value
        return dsn_fate("stored" if outcome.ok else "failed", stored)

    def real(self, scenario: Scenario, schedule: FaultSchedule):
        """A real :func:`blobedu.delivery.deliver` run: returns ``(Observation, DeliveryTrace)``."""
        from .delivery import DeliveryConfig, deliver
        from .sender import sample_message
        from .store import StoreConfig

        self.real_runs += 1
        self._empty_bucket()
        config = DeliveryConfig(store=StoreConfig(version=scenario.version), sender=scenario.sender,
                                receiver=scenario.receiver, sender_faults=tuple(spec(f) for f in schedule.sender_faults))
        trace = deliver([spec(f) for f in schedule.faults], config,
                        message=sample_message(subject=f"atlas {self.real_runs}"), endpoint=self.endpoint)
        return observe(trace), trace


def observe(trace) -> Observation:
    """A :class:`~blobedu.trace.DeliveryTrace` (or its ``--json`` dict) as an :class:`Observation`."""
    from .bounces import told

    d = trace if isinstance(trace, dict) else trace.to_dict()
    bounces = [x for x in d["dsns"] if x["kind"] == "failed" and x.get("origin") == "sender"]
    return Observation(
        sessions=[(s["t"], s["reply"], s["ended"], s["receiver_reply"], s["receiver_replied_at"]) for s in d["sessions"]],
        copies=[(a["t"], a["mailbox_at"], a["bounced_at"], a["lost_at"]) for a in d["accepted"]],
        fate=d["fate"], sender_bounced_at=bounces[0]["t"] if bounces else None,
        sender_dsn=(bounces[0].get("fate_kind", "queued")) if bounces else None)


# -- drawing schedules ---------------------------------------------------------------------------------------
def _moment(rng: random.Random) -> float:
    """A start: 0 half the time (the outage is there when the message comes), else anywhere up to 3 days."""
    if rng.random() < 0.5:
        return 0.0
    return float(round(math.exp(rng.uniform(0.0, math.log(3 * DAY)))))


def _length(rng: random.Random) -> float:
    """A window length, log-uniform from 1 s to :data:`MAX_END` (seconds to days equally likely)."""
    return float(max(1, round(math.exp(rng.uniform(0.0, math.log(MAX_END))))))


def draw(rng: random.Random, scenario: Scenario) -> FaultSchedule:
    """One random schedule for ``scenario``: 1 to 3 faults of every kind that applies to it."""
    design = DESIGNS[scenario.receiver]
    kinds: list[tuple[str, str]] = [("s3", k) for k in S3_KINDS] * 2
    kinds += [("node", k) for k in design.node_kinds]
    if design.datastore:
        kinds += [("node", k) for k in DATASTORE_KINDS]
    if scenario.sender == "stalwart":
        kinds += [("sender", k) for k in SENDER_KINDS]
    faults: list[Fault] = []
    sender: list[Fault] = []
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        where, kind = rng.choice(kinds)
        start = _moment(rng)
        if kind in ("crash", "disk-loss"):
            # a moment, never on a whole second: it must not coincide with another event (whose
            # order in deliver() would be asyncio's, not the model's: test_fleet_equivalence.py)
            faults.append(Fault(kind, math.floor(min(start, MAX_END)) + 0.37))
            continue
        end = min(start + _length(rng), MAX_END)
        if end <= start:
            continue
        (sender if where == "sender" else faults).append(Fault(kind, start, end))
    return FaultSchedule(tuple(faults), tuple(sender))


#: The window lengths of the sweep: seconds to days, roughly evenly on a log scale.
SWEEP_LENGTHS = (1.0, 10.0, MINUTE, 6 * MINUTE, 30 * MINUTE, 2 * HOUR, 6 * HOUR, DAY, 2 * DAY, 4 * DAY, MAX_END)
#: Sender-store windows tried at the moment a sender bounces (its DSN write meets them).
SWEEP_SENDER_LENGTHS = (2.0, MINUTE)


def sweep(scenario: Scenario, run: Callable[[FaultSchedule], Observation]) -> Iterable[FaultSchedule]:
    """The small schedules first, in a fixed order (as SmallCheck does): one window from 0 of each kind, each length.

    Then each short S3 window with a crash or a disk loss 0.37 s in, and, for the shortest window of
    each kind after which the sender bounced at ``T``, that window plus one fault on the sender's own
    store at ``T`` (a store fault shows only when the store
    writes).  ``run`` evaluates a schedule (the sweep reads when the sender bounced); the schedules
    yielded are evaluated by the caller.
    """
    design = DESIGNS[scenario.receiver]
    kinds = list(S3_KINDS) + [k for k in design.node_kinds if k not in ("crash", "disk-loss")]
    if design.datastore:
        kinds += list(DATASTORE_KINDS)
    bounced: dict[str, tuple[FaultSchedule, float]] = {}
    for kind in kinds:
        for length in SWEEP_LENGTHS:
            schedule = FaultSchedule((Fault(kind, 0.0, length),))
            obs = run(schedule)
            if obs.sender_bounced_at is not None and kind not in bounced:
                bounced[kind] = (schedule, obs.sender_bounced_at)
    # a node's moment inside a short outage: what the receiver holds while S3 is away (a spool's only copy)
    for kind in [k for k in design.node_kinds if k in ("crash", "disk-loss")]:
        for s3 in S3_KINDS:
            for length in SWEEP_LENGTHS[:3]:
                yield FaultSchedule((Fault(s3, 0.0, length), Fault(kind, 0.37)))
    if scenario.sender != "stalwart":
        return
    for schedule, t in bounced.values():
        for kind in SENDER_KINDS:
            for length in SWEEP_SENDER_LENGTHS:
                yield FaultSchedule(schedule.faults, (Fault(kind, t, t + length),))


# -- shrinking -----------------------------------------------------------------------------------------------
def shrink(schedule: FaultSchedule, keeps: Callable[[FaultSchedule], bool]) -> FaultSchedule:
    """The smallest schedule reachable from ``schedule`` that still ``keeps`` the outcome (a local minimum)."""
    best = schedule
    changed = True
    while changed:
        changed = False
        i = 0
        while i < len(best.all):  # drop whole faults first: fewer faults is smaller, whatever the windows
            candidate = best.without(i)
            if keeps(candidate):
                best, changed = candidate, True
            else:
                i += 1
        for i in range(len(best.all)):
            f = best.all[i]
            if f.end is None:
                if f.kind in ("crash", "disk-loss"):
                    best = _earliest_moment(best, i, keeps)
                continue
            # the end, as early as it goes; then the start, as late as it goes (whole seconds)
            lo, hi = math.floor(f.start) + 1, f.end
            while hi - lo >= 1:
                mid = float(math.floor((lo + hi) / 2))
                if mid >= hi:
                    break
                candidate = best.replace(i, Fault(f.kind, f.start, mid))
                if keeps(candidate):
                    hi, changed = mid, True
                    best = candidate
                else:
                    lo = mid + 1
            f = best.all[i]
            lo, hi = f.start, math.ceil(f.end) - 1
            while hi - lo >= 1:
                mid = float(math.ceil((lo + hi) / 2))
                if mid <= lo:
                    break
                candidate = best.replace(i, Fault(f.kind, mid, f.end))
                if keeps(candidate):
                    lo, changed = mid, True
                    best = candidate
                else:
                    hi = mid - 1
    return best


def _earliest_moment(best: FaultSchedule, i: int, keeps) -> FaultSchedule:
    """A crash or disk loss moved as early as it still works (k + 0.37 s): one canonical moment."""
    f = best.all[i]
    lo, hi = 0, int(math.floor(f.start))
    while lo < hi:
        mid = (lo + hi) // 2
        candidate = best.replace(i, Fault(f.kind, mid + 0.37))
        if keeps(candidate):
            hi, best = mid, candidate
        else:
            lo = mid + 1
    return best


# -- hazards -------------------------------------------------------------------------------------------------
def classify(scenario: Scenario, outcome: str, schedule: FaultSchedule, obs: Observation) -> Optional[str]:
    """The hazard id (:data:`blobedu.hazards.HAZARD_IDS`) behind a finding, from what the run shows; None if unexplained."""
    b = behaviour(scenario.version)
    kinds = {f.kind for f in schedule.faults}
    verify = b.verify_default  # the atlas runs every version with its defaults
    if outcome == "hung":
        timeouts = [f for f in schedule.faults if f.kind == "timeout" and f.end is not None]
        if b.hangs_on_silent_s3 and any(s[4] is not None and any(abs(s[4] - f.end) < 1e-6 for f in timeouts)
                                        for s in obs.sessions if s[1] == "timeout"):
            return "silent-s3-hang"  # the session's PUT was answered only when the silent window ended
        if b.backoff is not None and b.backoff.op == "max":
            return "backoff-18h"
        return None
    if outcome == "duplicate":
        late = [s for s in obs.sessions if s[1] == "timeout" and (s[3] or "").startswith("250")]
        return "duplicate-past-final-dot" if late else None
    if outcome == "lost-after-250":
        if scenario.receiver == "wal" and "disk-loss" in kinds and any(c[3] is not None for c in obs.copies):
            return "spool-lost-with-disk"
        if "lost-write" in kinds and not verify:
            return "lost-write-after-250"
        return None
    if outcome == "lost-told":
        if any(c[2] is not None for c in obs.copies) and "lost-write" in kinds and not verify:
            return "lost-write-after-250"  # the receiver's queue bounced a copy whose blob was never kept
        if obs.sender_bounced_at is not None and _gave_up_early(scenario, schedule, obs):
            return "short-tolerance"
        return None
    if outcome == "lost-untold":
        return "dropped-bounce" if obs.sender_dsn not in (None, "queued") else None
    if outcome == "delay-over-24h":
        starts = [s[0] for s in obs.sessions]
        if scenario.sender == "stalwart" and any(b2 - a >= DAY for a, b2 in zip(starts, starts[1:])):
            return "short-tolerance"  # the sender's queue waited a whole day between two attempts
        return None
    return None


def _gave_up_early(scenario: Scenario, schedule: FaultSchedule, obs: Observation) -> bool:
    """The sender bounced though every fault on the receiving side was over before its bounce (so before expiry)."""
    if scenario.sender != "stalwart":
        return False
    ends = [f.end if f.end is not None else f.start for f in schedule.faults]
    return bool(ends) and max(ends) < obs.sender_bounced_at


# -- the atlas -----------------------------------------------------------------------------------------------
@dataclass
class Finding:
    """The smallest schedule found for one outcome in one cell, confirmed by a real run."""

    version: str
    receiver: str
    sender: str
    outcome: str
    schedule: list[str]
    reproduce: str
    hazard: Optional[str]

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "receiver": self.receiver, "sender": self.sender, "outcome": self.outcome,
                "schedule": self.schedule, "reproduce": self.reproduce, "hazard": self.hazard}


@dataclass
class Cell:
    """One (version, design, sender): how many schedules were drawn, the findings, and any discrepancy."""

    version: str
    receiver: str
    sender: str
    tried: int
    findings: dict[str, Finding] = field(default_factory=dict)
    #: outcome -> schedule specs that the fast engine showed and the real run did not (a model bug)
    discrepancies: dict[str, list[str]] = field(default_factory=dict)


def _cell_seed(seed: int, scenario: Scenario) -> int:
    return zlib.crc32(f"{seed}/{scenario.version}/{scenario.receiver}/{scenario.sender}".encode())


def search_cell(scenario: Scenario, outcomes: Iterable[str], budget: int = DEFAULT_BUDGET,
                seed: int = DEFAULT_SEED, engines: Optional[Engines] = None) -> Cell:
    """Search one cell: draw ``budget`` schedules, shrink the hits of each outcome, confirm each with ``deliver()``."""
    wanted = [o for o in OUTCOMES if o in set(outcomes)]
    own = engines is None
    engines = engines or Engines()
    try:
        rng = random.Random(_cell_seed(seed, scenario))
        hits: dict[str, list[FaultSchedule]] = {o: [] for o in wanted}
        tried = 0

        def note(schedule: FaultSchedule) -> Observation:
            nonlocal tried
            tried += 1
            obs = engines.fast(scenario, schedule)
            for o in obs.outcomes():
                if o in hits:
                    hits[o].append(schedule)
            return obs

        for schedule in sweep(scenario, note):
            note(schedule)
        for _ in range(budget):
            note(draw(rng, scenario))
        cell = Cell(scenario.version, scenario.receiver, scenario.sender, tried)
        for o in wanted:
            if not hits[o]:
                continue
            memo: dict[tuple, bool] = {}

            def keeps(s: FaultSchedule, o=o, memo=memo) -> bool:
                key = s.specs()
                if key not in memo:
                    memo[key] = bool(s.all) and o in engines.fast(scenario, s).outcomes()
                return memo[key]

            first = sorted(hits[o], key=FaultSchedule.size)[:SHRINK_HITS]  # the smallest hits
            best = min((shrink(h, keeps) for h in first), key=FaultSchedule.size)
            obs, _ = engines.real(scenario, best)
            if o not in obs.outcomes():
                cell.discrepancies[o] = list(best.specs())
                continue
            cell.findings[o] = Finding(scenario.version, scenario.receiver, scenario.sender, o, list(best.specs()),
                                       scenario.reproduce(best), classify(scenario, o, best, obs))
        return cell
    finally:
        if own:
            engines.close()


@dataclass
class Atlas:
    """Every cell searched, in table order."""

    cells: list[Cell]
    outcomes: list[str]
    budget: int
    seed: int

    @property
    def findings(self) -> list[Finding]:
        return [f for c in self.cells for o in self.outcomes for f in ([c.findings[o]] if o in c.findings else [])]

    def to_list(self) -> list[dict[str, Any]]:
        """The findings as JSON-ready dicts (``blobedu atlas --json``)."""
        return [f.to_dict() for f in self.findings]

    def rows(self) -> list[dict[str, str]]:
        """The atlas as rows (one per version and design, a column per outcome), for ``text.Table``."""
        rows = []
        for c in self.cells:
            row = {"Stalwart": c.version, "receiver": c.receiver}
            for o in self.outcomes:
                f = c.findings.get(o)
                row[o] = (f"{', '.join(f.schedule)} [{f.hazard or 'NEW'}]" if f is not None
                          else f"UNCONFIRMED: {', '.join(c.discrepancies[o])}" if o in c.discrepancies else "-")
            rows.append(row)
        return rows

    def table(self) -> str:
        """A table by version and design; a cell holds the smallest schedule, or "none found in N schedules"."""
        lines = []
        for c in self.cells:
            lines.append(f"Stalwart {c.version} · receiver {c.receiver} · sender {c.sender}")
            width = max(len(o) for o in self.outcomes)
            for o in self.outcomes:
                f = c.findings.get(o)
                if f is not None:
                    text = ", ".join(f.schedule) + f"   [{f.hazard or 'NEW: no listed hazard'}]"
                elif o in c.discrepancies:
                    text = f"UNCONFIRMED by deliver(): {', '.join(c.discrepancies[o])}"
                else:
                    text = f"none found in {c.tried} schedules"
                lines.append(f"  {o:<{width}}  {text}")
        return "\n".join(lines)


def check_names(versions: Sequence[str], receivers: Sequence[str], outcomes: Sequence[str], senders: Sequence[str]) -> None:
    """Raise :class:`BlobeduError` for a version, design, outcome or sender the atlas does not know."""
    from .schedules import SENDERS as ALL_SENDERS

    for v in versions:
        behaviour(v)
    for r in receivers:
        if r not in DESIGNS:
            raise BlobeduError(f"unknown receiver {str(r)[:40]!r}: {', '.join(DESIGNS)}")
    for o in outcomes:
        if o not in OUTCOMES:
            raise BlobeduError(f"unknown outcome {str(o)[:40]!r}: {', '.join(OUTCOMES)}")
    for s in senders:
        if s not in ALL_SENDERS:
            raise BlobeduError(f"unknown sender {str(s)[:40]!r}: {', '.join(ALL_SENDERS)}")


def atlas(versions: Optional[Sequence[str]] = None, receivers: Optional[Sequence[str]] = None,
          outcomes: Optional[Sequence[str]] = None, senders: Optional[Sequence[str]] = None,
          budget: int = DEFAULT_BUDGET, seed: int = DEFAULT_SEED, jobs: int = 1) -> Atlas:
    """Search every (version, design, sender) cell for every outcome (the function behind ``blobedu atlas``).

    ``jobs`` worker processes search cells side by side (the result does not depend on it).
    """
    versions = list(dict.fromkeys(versions or representative_versions()))
    receivers = list(dict.fromkeys(receivers or DESIGNS))
    outcomes = [o for o in OUTCOMES if o in set(outcomes or OUTCOMES)]
    senders = list(dict.fromkeys(senders or SENDERS))
    check_names(versions, receivers, outcomes, senders)
    if not 1 <= budget <= 100_000:
        raise BlobeduError(f"budget must be a whole number of schedules from 1 to 100,000, got {budget}")
    if not 1 <= jobs <= 64:
        raise BlobeduError(f"jobs must be a whole number from 1 to 64, got {jobs}")
    scenarios = [Scenario(v, r, s) for v in versions for r in receivers for s in senders]
    if jobs > 1 and len(scenarios) > 1:
        # cells are independent and each is seeded from its own names: the same atlas in any order
        from concurrent.futures import ProcessPoolExecutor
        from functools import partial

        with ProcessPoolExecutor(max_workers=min(jobs, len(scenarios))) as pool:
            cells = list(pool.map(partial(_search_alone, outcomes=outcomes, budget=budget, seed=seed), scenarios))
        return Atlas(cells, outcomes, budget, seed)
    engines = Engines()
    try:
        cells = [search_cell(sc, outcomes, budget, seed, engines) for sc in scenarios]
    finally:
        engines.close()
    return Atlas(cells, outcomes, budget, seed)


def _search_alone(scenario: Scenario, outcomes, budget: int, seed: int) -> Cell:
    """One cell in a worker process, with its own engines."""
    return search_cell(scenario, outcomes, budget, seed)


def unknown_hazards(findings: Iterable[Finding]) -> list[Finding]:
    """Findings whose hazard is None or not in the shared list: each needs an explanation."""
    return [f for f in findings if f.hazard is None or f.hazard not in HAZARD_IDS]


def find(result: Atlas, version: str, receiver: str, outcome: str, sender: str = "stalwart") -> Finding:
    """The finding of one cell and outcome (a :class:`BlobeduError` names the cell when there is none)."""
    for f in result.findings:
        if (f.version, f.receiver, f.outcome, f.sender) == (version, receiver, outcome, sender):
            return f
    raise BlobeduError(f"the atlas holds no {outcome} finding for Stalwart {version} with receiver {receiver}")


def replay(finding: Finding):
    """Run a finding's schedule again with :func:`blobedu.delivery.deliver` (what its reproduce line runs).

    Returns the :class:`~blobedu.trace.DeliveryTrace`, for :func:`blobedu.plots.plot_delivery`'s
    custody timeline or :func:`blobedu.text.render_deliver`.
    """
    from .faults import parse

    faults = tuple(parse(s) for s in finding.schedule if not s.startswith("sender:"))
    sender = tuple(parse(s.split(":", 1)[1]) for s in finding.schedule if s.startswith("sender:"))
    engines = Engines()
    try:
        _, trace = engines.real(Scenario(finding.version, finding.receiver, finding.sender),
                                FaultSchedule(faults, sender))
    finally:
        engines.close()
    return trace
