"""The other servers' designs in the fleet: the same rules :mod:`blobedu.servers` runs one message at a time.

Theory of operation
-------------------
``blobedu deliver --receiver NAME`` runs a design of :mod:`blobedu.servers` with real SMTP and moto.
Here the fleet runs the *same* design objects: each final dot draws the design's ids, runs the
design's own store machine (``Design.put``: its retry count, backoff, jitter and which errors it
retries) through the design's own request edge (:class:`~blobedu.servers.store.DesignRules`: its
silent-store timeout, the cost of a refused connect), and answers with the design's own
``reply_ok``/``reply_failed``.  No number is copied here: every one is read from the design module.
What this module adds is only the order of the steps, mirroring the drivers of
:mod:`blobedu.servers.receivers` step by step:

* **object store first** (``maddy``, ``dovecot-obox``): the PUT, then the reply; a 250 puts the
  message in the mailbox if its object is really in S3, else it is lost unseen (a lost write).
  maddy's non-rewindable body (:class:`~blobedu.servers.design.SendDrained`) fails in the client
  and never reaches S3 (it is not counted as an S3 request, as the moto driver never sends it).
* **James**: header and body PUTs at once (:func:`_parallel`), then the queue; the dequeue reads both
  back, discards the mail if one is missing, requeues it every ``JamesReceiver.REQUEUE_PAUSE`` on
  another error until the receiver's queue lifetime.
* **TMail**: James's path on two stores at once; the fault plan hits the primary, the secondary is
  healthy; one store is enough for the 250; a repair copies the blob to the failed primary, retried
  on the event bus's schedule (:func:`blobedu.servers.tmail.repair_backoff`).
* **WildDuck**: the insert races Haraka's plugin timer and is not cancelled when it loses (a late
  insert makes a copy nobody was told of: a duplicate once the sender retries).  Its store is
  MongoDB, so S3's request capacity (``--s3-capacity``) is refused with it.
* **local disk first** (``cyrus``, ``postfix-local``): a fsynced file on the node's disk before the
  250 (a full disk answers the design's failure reply); a disk loss loses every copy on it.  Cyrus
  sends a message over ``archive_maxsize`` to the object store at once, keeps it locally when that
  PUT fails, deletes the local file when it worked.

Randomness (ids, jitter) comes from one :class:`random.Random` seeded with ``FleetConfig.seed`` and
drawn in event order, as :func:`blobedu.delivery.deliver` draws from its ``random.Random(seed)``: a
fleet of one message draws the same numbers in the same order, so even the ids in maddy's and
WildDuck's replies agree (``tests/test_fleet_designs.py``).

What the fleet does not take, and why: nothing in :data:`REFUSED` today; every design of
:mod:`blobedu.servers` runs here.  The restrictions are the ones ``deliver()`` has (no data-store
faults, no Stalwart S3 settings, no queue quota), plus ``--s3-capacity`` with WildDuck.
"""

from __future__ import annotations

import heapq
import itertools
import random
from typing import Any, Optional

from ..errors import BlobeduError
from ..policy import Outcome
from ..servers import design as get_design
from ..servers.design import Design, Ids
from ..servers.store import _UNBOUNDED, DesignRules, read
from .config import FLEET_DESIGNS, REFUSED
from .kernel import _Proc
from .results import Copy, Message, Session
from .s3 import _Blob, _HungForever



def check(config) -> None:
    """Raise :class:`BlobeduError` for a fleet scenario a design cannot run (as ``DeliveryConfig.check``)."""
    name = config.receiver
    if name in REFUSED:
        raise BlobeduError(f"receiver {name} is not in the fleet: {REFUSED[name]}")
    if name not in FLEET_DESIGNS:
        return
    st = config.store
    if st.max_retries is not None or st.timeout is not None or st.verify is not None:
        raise BlobeduError(f"--max-retries, --timeout and --verify are Stalwart's S3 settings; {name} runs its own "
                           "client's defaults (see blobedu.servers)")
    if config.jitter != "none":
        raise BlobeduError(f"jitter 'full' is a counterfactual of Stalwart's backoff; {name} has its own (see blobedu.servers)")
    if name == "wildduck" and config.s3_capacity is not None:
        raise BlobeduError("--s3-capacity is S3's request rate; wildduck's store is MongoDB, which has none in blobedu")


class _State:
    """What a fleet keeps for a design: the design, its request rules, the seeded rng, copies on the local disk."""

    def __init__(self, fleet) -> None:
        self.design: Design = get_design(fleet.config.receiver)
        silent = self.design.edge.silent
        self.rules = DesignRules(bounded=silent is not None, timeout=_UNBOUNDED if silent is None else silent,
                                 latency=float(fleet.config.store.latency), refused_cost=self.design.edge.refused)
        self.rng = random.Random(fleet.config.seed)
        self.on_disk: dict[int, tuple[Message, Copy]] = {}  # id(copy) -> copy, for the disk-loss
        self.parts: dict[int, list[_Blob]] = {}  # message index -> its blobs (James, TMail: header, body...)
        self.hung_inserts = 0  # WildDuck inserts hung for good on a silent MongoDB
        self.answers: dict[tuple, tuple] = {}  # the store loop's memo for these rules (S3Driver._s3)

    def ids(self, now: float) -> Ids:
        """The ids a reply names, drawn as ``DesignReceiver._ids`` draws them."""
        return Ids(self.rng.getrandbits(63), now)


def state(fleet) -> _State:
    """The fleet's design state, made on first use (the engine needs no change for it)."""
    st = getattr(fleet, "_design_state", None)
    if st is None:
        st = fleet._design_state = _State(fleet)
    return st


# -- the store driver ------------------------------------------------------------------------------------
def drive(fleet, blob, machine, st: _State, faults=None, capacity: bool = True):
    """Drive one design machine against the fleet's S3 for ``blob``: a generator that yields wake times, returns the Outcome.

    The fleet's one store loop, :meth:`blobedu.fleet.s3.S3Driver._s3`, with the design's rules
    (:class:`DesignRules`) and their own memo; :class:`SendDrained` steps are answered by the client
    (:func:`drained_reply`), as :class:`~blobedu.servers.store.DesignStore` does.  ``faults``: the S3
    faults this store meets (the fleet's by default; none for TMail's healthy secondary).
    ``capacity``: whether S3's request capacity applies (not to TMail's secondary, another service,
    nor to WildDuck's MongoDB).
    """
    return fleet._s3(blob, machine, st.rules, st.answers, faults, capacity)


def _parallel(fleet, gens: list):
    """Run several drive generators at once (``asyncio.gather``); returns their results in order.

    Wake-ups at the same instant run in the order they were asked for, as the event loop's are.
    """
    results: list[Any] = [None] * len(gens)
    heap: list = []
    seq = itertools.count()

    def advance(i: int) -> None:
        try:
            when = gens[i].send(None)
        except StopIteration as done:
            results[i] = done.value
            return
        heapq.heappush(heap, (when, next(seq), i))

    for i in range(len(gens)):
        advance(i)
    while heap:
        yield heap[0][0]
        while heap and heap[0][0] <= fleet.now:
            advance(heapq.heappop(heap)[2])
    return results


# -- the final dot ---------------------------------------------------------------------------------------
def final_dot(fleet, m: Message, s: Session) -> None:
    """Start the design's handling of one final dot (a crash ends it: ``fleet._dots``)."""
    st = state(fleet)
    name = st.design.name
    if name == "wildduck":
        body = _wildduck_dot
    elif name in ("cyrus", "postfix-local"):
        body = _local_disk_dot
    elif name == "james":
        body = _james_dot
    elif name == "tmail":
        body = _tmail_dot
    else:
        body = _object_store_dot
    proc = fleet._start(lambda p: _dot(fleet, st, body, m, s, p))
    if proc.alive:
        fleet._dots[proc] = (m, s)


def _dot(fleet, st: _State, body, m: Message, s: Session, proc: _Proc):
    """Common frame: the body held in memory while the design works; a crash (GeneratorExit) drops it."""
    m.open_dots += 1
    fleet.memory_log.add(fleet.now, 1)
    try:
        yield from body(fleet, st, m, s, proc)
    except _HungForever:
        fleet._dots.pop(proc, None)
        fleet._hung_dots.append((m, s))  # the session and the body stay until a crash
        return
    except GeneratorExit:
        fleet._end_dot(m, proc)
        raise
    fleet._end_dot(m, proc)


def _accept(fleet, m: Message, durable: bool) -> Copy:
    copy = Copy(fleet.now)
    if durable:
        copy.durable_at = copy.t
        m.in_s3 = True
    m.copies.append(copy)
    return copy


def _object_store_dot(fleet, st: _State, m: Message, s: Session, proc: _Proc):
    """:class:`~blobedu.servers.receivers.ObjectStoreReceiver`: the PUT, then the reply; mailbox if S3 has it."""
    d = st.design
    ids = st.ids(fleet.now)
    outcome = yield from drive(fleet, m, d.put(st.rng), st)  # one key per body: every attempt PUTs the same object
    if not outcome.ok:
        fleet._reply(s, d.reply_failed(Outcome(False, outcome.error), ids))
        return
    copy = _accept(fleet, m, m.in_s3)
    if m.in_s3:
        copy.mailbox_at = fleet.now
    else:
        copy.lost_at = fleet.now  # S3 acknowledged the PUT and kept nothing
    fleet._reply(s, d.reply_ok(ids))


def _parts(st: _State, m: Message, n: int) -> list[_Blob]:
    blobs = st.parts.get(m.index)
    if blobs is None:
        blobs = st.parts[m.index] = [_Blob() for _ in range(n)]
    return blobs


def _james_dot(fleet, st: _State, m: Message, s: Session, proc: _Proc):
    """:class:`~blobedu.servers.receivers.JamesReceiver`: header and body at once, then the queue and the dequeue."""
    d = st.design
    ids = st.ids(fleet.now)
    head, body = _parts(st, m, 2)
    outcomes = yield from _parallel(fleet, [drive(fleet, head, d.put(st.rng), st),
                                            drive(fleet, body, d.put(st.rng), st)])
    failed = next((o for o in outcomes if not o.ok), None)
    if failed is not None:
        fleet._reply(s, d.reply_failed(Outcome(False, failed.error), ids))
        return
    copy = _accept(fleet, m, head.in_s3 and body.in_s3)
    fleet._start(lambda p: _james_dequeue(fleet, st, copy, head, body))
    fleet._reply(s, d.reply_ok(ids))


def _james_dequeue(fleet, st: _State, copy: Copy, head: _Blob, body: _Blob):
    """``JamesReceiver._dequeue``: both blobs found → mailbox; one missing → discarded; else requeue."""
    from ..servers.receivers import JamesReceiver

    pause = JamesReceiver.REQUEUE_PAUSE
    expires = fleet.local_schedule.expires_at(copy.t)
    while True:
        reads = []
        for blob in (head, body):
            try:
                reads.append((yield from drive(fleet, blob, read(), st)))
            except _HungForever:  # pragma: no cover - James's edge is bounded
                return
        if all(r.ok and r.found for r in reads):
            copy.mailbox_at = fleet.now
            return
        if any(r.ok and not r.found for r in reads):
            copy.lost_at = fleet.now  # "Discarding this message to prevent an infinite loop"; nobody is told
            return
        if expires is not None and fleet.now + pause >= expires:
            copy.lost_at = fleet.now
            return
        yield fleet.now + pause


def _tmail_dot(fleet, st: _State, m: Message, s: Session, proc: _Proc):
    """:class:`~blobedu.servers.receivers.TMailReceiver`: every blob to both stores; one is enough for the 250."""
    from ..servers.tmail import merge
    from ..servers.tmail import readable as tmail_readable

    d = st.design
    ids = st.ids(fleet.now)
    ph, pb, sh, sb = _parts(st, m, 4)  # primary header, body; secondary header, body
    # asyncio.gather(_save(head), _save(body)), each a gather(primary, secondary): started in this order
    outcomes = yield from _parallel(fleet, [
        drive(fleet, ph, d.put(st.rng), st), drive(fleet, sh, d.put(st.rng), st, faults=(), capacity=False),
        drive(fleet, pb, d.put(st.rng), st), drive(fleet, sb, d.put(st.rng), st, faults=(), capacity=False)])
    saves = [merge(outcomes[0], outcomes[1]), merge(outcomes[2], outcomes[3])]
    failed = next((o for o, _ in saves if not o.ok), None)
    if failed is not None:
        fleet._reply(s, d.reply_failed(failed, ids))
        return
    readable = tmail_readable([(ph.in_s3, sh.in_s3), (pb.in_s3, sb.in_s3)])  # each blob from either store
    copy = _accept(fleet, m, readable)
    for (_, repair), blob in zip(saves, (ph, pb)):
        if repair == "primary":
            fleet._start(lambda p, blob=blob: _tmail_repair(fleet, st, blob))
    if readable:
        copy.mailbox_at = fleet.now
    else:
        copy.lost_at = fleet.now
    fleet._reply(s, d.reply_ok(ids))


def _tmail_repair(fleet, st: _State, blob: _Blob):
    """``TMailReceiver._repair``: copy the blob to the primary; the event bus's retries, then a dead letter."""
    from ..servers.tmail import REPAIR_RETRIES, repair_backoff

    for retry in range(REPAIR_RETRIES + 1):
        outcome = yield from drive(fleet, blob, st.design.put(st.rng), st)
        if outcome.ok:
            return
        if retry < REPAIR_RETRIES:
            yield fleet.now + repair_backoff(retry, st.rng)


def _wildduck_dot(fleet, st: _State, m: Message, s: Session, proc: _Proc):
    """:class:`~blobedu.servers.receivers.WildDuckReceiver`: the insert races the plugin timer, and goes on."""
    from ..servers.wildduck import PLUGIN_TIMEOUT, reply_plugin_timeout

    d = st.design
    ids = st.ids(fleet.now)
    deadline = fleet.now + PLUGIN_TIMEOUT
    box: dict[str, Any] = {"waiting": False, "proc": proc}
    blob = _Blob()  # a new document (ObjectId) for every transaction
    insert = fleet._start(lambda p: _wildduck_insert(fleet, st, m, blob, ids, deadline, box))
    if insert.alive:
        box["waiting"] = True
        yield deadline  # or earlier, woken by the insert
        box["waiting"] = False
    done_at = box.get("done_at")
    if done_at is None or done_at >= deadline:  # the timer fires first on a tie, as asyncio.wait's does
        fleet._reply(s, reply_plugin_timeout(ids))
        return
    if box["reply"] is not None:
        fleet._reply(s, box["reply"])


def _wildduck_insert(fleet, st: _State, m: Message, blob: _Blob, ids: Ids, deadline: float, box: dict):
    """``WildDuckReceiver._insert``: ``insertOne`` with retryWrites; a copy even when Haraka already said 450."""
    d = st.design
    fleet.memory_log.add(fleet.now, 1)
    try:
        outcome = yield from drive(fleet, blob, d.put(st.rng), st, capacity=False)
    except _HungForever:
        st.hung_inserts += 1
        return  # the body stays in Haraka's memory; nobody will answer
    fleet.memory_log.add(fleet.now, -1)
    if not outcome.ok:
        reply: Optional[str] = d.reply_failed(outcome, ids)
    else:
        copy = _accept(fleet, m, blob.in_s3)
        if blob.in_s3:
            copy.mailbox_at = fleet.now
        else:
            copy.lost_at = fleet.now
        reply = d.reply_ok(ids)
    box["reply"], box["done_at"] = reply, fleet.now
    # the dot is woken only if it still waits (a crash ends it; the insert goes on)
    if box["waiting"] and box["proc"].alive and fleet.now < deadline:
        fleet._wake(box["proc"])


def _local_disk_dot(fleet, st: _State, m: Message, s: Session, proc: _Proc):
    """:class:`~blobedu.servers.receivers.LocalDiskReceiver`: fsync to the node's disk, then (Cyrus, big) the PUT."""
    from ..servers.cyrus import goes_to_object_store

    d = st.design
    ids = st.ids(fleet.now)
    if fleet.faults.disk_full_at(fleet.now):
        fleet._reply(s, d.reply_failed(Outcome(False, "disk full"), ids))
        return
    copy = Copy(fleet.now)
    m.copies.append(copy)
    st.on_disk[id(copy)] = (m, copy)
    if d.name == "cyrus" and goes_to_object_store(fleet.config.size):
        outcome = yield from drive(fleet, m, d.put(st.rng), st)
        if outcome.ok:  # append.c: "must delete local file": the object store holds the only copy
            st.on_disk.pop(id(copy), None)
            copy.durable_at = fleet.now
            if not m.in_s3:  # a lost write: acknowledged, kept nowhere
                copy.lost_at = fleet.now
    if copy.lost_at is None:
        copy.mailbox_at = fleet.now
    fleet._reply(s, d.reply_ok(ids))


def disk_loss(fleet) -> None:
    """The node's disk is gone: every copy only on it (queue, spool, mailbox) is lost."""
    st = getattr(fleet, "_design_state", None)
    if st is None:
        return
    for m, copy in st.on_disk.values():
        copy.lost_at, copy.mailbox_at = fleet.now, None
    st.on_disk.clear()
