"""One message's whole journey: a sending MTA, a receiver, S3, and the faults, on one shared clock.

Why looptime
------------
Delivery attempts are real SMTP sessions over loopback (aiosmtplib to aiosmtpd), and a DATA
timeout needs sessions that *overlap*: the sender hangs up at its final-dot wait (5 minutes for a
Stalwart sender, 10 for Postfix and Exim) while the receiver's
store loop goes on and may still accept.  So both ends run as coroutines on one asyncio loop, and
the loop's clock is virtual: looptime's event loop jumps time forward whenever nothing is ready,
but first polls real sockets (in no-op cycles), so loopback I/O completes at the instant it was
sent.  A session whose handler awaits a 7 s backoff gets its 451 at virtual 7.0 s after ~2 ms of
wall time.  aiotools' ``VirtualClock`` was rejected because it jumped time during the socket
connect, so the connect itself timed out; SimPy would need a fake SMTP instead of real sessions.
aiosmtpd's server timeout (300 s by default) is set on purpose (see :mod:`blobedu.receiver`).

Nothing here decides behaviour: the store's retry loop, the schedules, the receivers and the
sender each own their part; this module wires them up and collects the trace.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from .clock import LoopClock, run_virtual
from .errors import BlobeduError
from .bounces import told
from .faults import FaultPlan, plan
from .schedules import SENDERS, sender_schedule, stalwart
from .sender import SendingMTA, sample_message
from .store import S3BlobStore, StoreConfig
from .trace import Custody, DeliveryTrace

from .servers import NAMES as RECEIVERS  # stalwart, wal, and the other servers' designs (blobedu.servers)


@dataclass(frozen=True)
class DeliveryConfig:
    """A delivery scenario: the receiver's store settings, the sender, its final-dot wait, the receiver design.

    ``data_timeout`` is how long the sender waits for the reply to the final dot; None (the default)
    is the sender's own: 5 minutes for Stalwart, 10 for Postfix, Exim and the RFC 5321 minimum.
    """

    store: StoreConfig = field(default_factory=StoreConfig)
    sender: str = "stalwart"
    sender_version: Optional[str] = None
    data_timeout: Optional[float] = None
    receiver: str = "stalwart"
    queue_quota: Optional[int] = None
    seed: int = 0
    #: faults on a Stalwart *sender's* own S3 blob store, which its DSNs are queued through
    #: (queue/dsn.rs@v0.16.18:34-68); with none, that write succeeds and is not run
    sender_faults: tuple[str, ...] = ()
    #: how a ``wal`` receiver's spool is built (blobedu.spool.SpoolOptions); None is the naive spool
    spool: Optional[Any] = None

    def check(self) -> None:
        """Raise :class:`BlobeduError` for any bad value."""
        self.store.check_horizon()  # resolved(), and nothing a run could not finish within the horizon
        if self.sender not in SENDERS:
            raise BlobeduError(f"unknown sender {self.sender!r}: {', '.join(SENDERS)}")
        sender_schedule(self.sender, self.sender_version)
        if self.receiver not in RECEIVERS:
            raise BlobeduError(f"unknown receiver {self.receiver!r}: {', '.join(RECEIVERS)}")
        if self.receiver not in ("stalwart", "wal"):
            st = self.store
            if st.max_retries is not None or st.timeout is not None or st.verify is not None:
                raise BlobeduError(f"--max-retries, --timeout and --verify are Stalwart's S3 settings; {self.receiver} "
                                   "runs its own client's defaults (see blobedu.servers)")
        if self.queue_quota is not None and self.receiver not in ("stalwart", "wal"):
            raise BlobeduError(f"a queue quota is Stalwart's setting (452 4.3.1); {self.receiver} has none in blobedu")
        if self.queue_quota is not None and self.queue_quota < 0:
            raise BlobeduError(f"queue quota must be 0 or more messages, got {self.queue_quota}")
        if self.data_timeout is not None and self.data_timeout <= 0:
            raise BlobeduError(f"data timeout must be more than 0 seconds, got {self.data_timeout}")
        if self.sender_faults:
            self.sender_fault_plan()
        if self.spool is not None:
            from .spool import SpoolOptions

            if self.receiver != "wal":
                raise BlobeduError(f"spool options are the write-ahead spool's (receiver wal), not {self.receiver}'s")
            if not isinstance(self.spool, SpoolOptions):
                raise BlobeduError(f"spool must be a SpoolOptions, got {type(self.spool).__name__}")
            self.spool.check()

    def sender_store_config(self) -> StoreConfig:
        """The sending Stalwart's own blob store: its version's defaults."""
        from .versions import LATEST

        return StoreConfig(version=self.sender_version or LATEST)

    def sender_fault_plan(self) -> FaultPlan:
        """The faults on the sender's own S3, checked: S3 kinds only, on a Stalwart sender, never hung for good."""
        faults = plan(list(self.sender_faults))
        if not faults.faults:
            return faults
        if self.sender != "stalwart":
            raise BlobeduError(f"a sender fault needs a Stalwart sender: {self.sender} keeps its queue and its "
                               "bounces on local disk, not in a blob store")
        if faults.receiver:
            kinds = ", ".join(sorted({f.kind for f in faults.receiver}))
            raise BlobeduError(f"a sender fault is a fault on the sender's S3 ({kinds} is not): "
                               "refused, timeout, lost-write or an HTTP status")
        b = self.sender_store_config().behaviour
        for f in faults.faults:
            if f.kind == "timeout" and f.end is None and b.hangs_on_silent_s3:
                raise BlobeduError(f"sender fault {f.spec()}: Stalwart {b.label}'s timeout bounds only the TCP "
                                   "connect, so the sender's DSN write would hang for good; give the fault an END")
        return faults

    def schedule(self):
        """The sender's retry schedule."""
        return sender_schedule(self.sender, self.sender_version)

    @property
    def final_dot_wait(self) -> float:
        """How long the sender really waits for the reply to the final dot (``data_timeout`` or its own)."""
        return self.schedule().final_dot_wait if self.data_timeout is None else float(self.data_timeout)

    def to_dict(self) -> dict:
        """JSON-ready, with the store's resolved settings and the final-dot wait the sender really used."""
        d = asdict(self)
        d["store"] = self.store.resolved()
        d["data_timeout"] = self.final_dot_wait
        d["data_timeout_source"] = "set" if self.data_timeout is not None else f"{self.sender}'s default"
        return d


def _make_receiver(config: DeliveryConfig, store, clock, custody, events, rng, faults: FaultPlan,
                   secondary_endpoint=None):
    local = stalwart(config.store.version)  # the receiver's own queue schedule (every modelled version has one)
    if config.receiver not in ("stalwart", "wal"):
        from .servers import design
        from .servers import receivers as r
        from .servers.store import DesignStore

        d = design(config.receiver)
        latency = config.store.latency
        dstore = DesignStore(d, store.endpoint, clock, faults, rng, latency)
        kind = {"maddy": r.ObjectStoreReceiver, "dovecot-obox": r.ObjectStoreReceiver, "james": r.JamesReceiver,
                "wildduck": r.WildDuckReceiver, "cyrus": r.LocalDiskReceiver,
                "postfix-local": r.LocalDiskReceiver}.get(d.name)
        if d.name == "tmail":
            # the fault plan hits the primary; the secondary is another bucket on its own endpoint, healthy
            secondary = DesignStore(d, secondary_endpoint, clock, None, rng, latency)
            return r.TMailReceiver(d, dstore, clock, custody, events, rng, local, secondary)
        return kind(d, dstore, clock, custody, events, rng, local, faults)
    if config.receiver == "wal":
        from .spool import SpoolingReceiver

        return SpoolingReceiver(store, clock, custody, events, rng, local, config.queue_quota, faults=faults,
                                options=config.spool)
    from .receiver import StalwartReceiver

    return StalwartReceiver(store, clock, custody, events, rng, local, config.queue_quota)


async def _journey(config: DeliveryConfig, faults: FaultPlan, message: bytes, endpoint,
                   sender_endpoint=None, secondary_endpoint=None) -> DeliveryTrace:
    loop = asyncio.get_running_loop()
    clock = LoopClock(loop, origin=loop.time())
    custody, events = Custody(), []
    rng = random.Random(config.seed)
    store = S3BlobStore(config.store, endpoint, clock, faults)
    store.origin = 0.0
    receiver = _make_receiver(config, store, clock, custody, events, rng, faults, secondary_endpoint)
    store = getattr(receiver, "store", store)  # a design's own store loop (blobedu.servers)
    port = await receiver.start()
    for fault in faults.receiver:
        if fault.kind == "crash":
            loop.call_at(clock.origin + fault.start, receiver.crash)
        elif fault.kind == "disk-loss":
            loop.call_at(clock.origin + fault.start, receiver.disk_loss)
    sender_store = None
    if sender_endpoint is not None:
        sender_store = S3BlobStore(config.sender_store_config(), sender_endpoint, clock, config.sender_fault_plan())
        sender_store.origin = 0.0
    sender = SendingMTA(config.schedule(), clock, port, custody, events, config.final_dot_wait, store=sender_store)
    await sender.run(message)
    # the receiver may still be storing (after a DATA timeout) or delivering locally; a request hung
    # for good on a silent S3 (v0.8.2-v0.15.x) never ends, so the run ends once only such are left
    await store.wait_for(lambda: receiver.inflight | receiver.background)
    await receiver.stop()
    return _collect(config, faults, sender, receiver, custody, events, clock.now())


def _collect(config, faults, sender, receiver, custody, events, ended: float) -> DeliveryTrace:
    by_port = {r.peer_port: r for r in receiver.data_log}
    for session, port in zip(sender.sessions, sender.session_ports):
        record = by_port.get(port)
        if record is not None:
            session.receiver_reply = record.reply
            session.receiver_replied_at = record.replied_at
            session.store = record.store
            session.durable_at_reply = record.durable_at_reply
    accepted = receiver.accepted
    delivered = [a for a in accepted if a.mailbox_at is not None]
    trace = DeliveryTrace(config=dict(config.to_dict(), faults=faults.specs()))
    trace.sessions = sender.sessions
    trace.copies = len(accepted)
    trace.accepted = [a.to_dict() for a in accepted]
    trace.local = receiver.local
    trace.dsns = sorted(sender.dsns + receiver.dsns, key=lambda d: d["t"])
    trace.custody = custody.to_list()
    trace.events = sorted(events, key=lambda e: e["t"])
    trace.ended = ended
    if delivered:
        trace.fate = "delivered"
        # "delivered" means the blob is durable in S3 and the queue entry points at it: for
        # Stalwart that is the 250, for a spooling receiver the later upload.  A copy whose own
        # PUT was a lost write reached the mailbox only through another copy's blob; it counts
        # from when its blob was found.
        trace.delivered_at = min(a.durable_at if a.durable_at is not None else a.mailbox_at for a in delivered)
        trace.mailbox_at = min(a.mailbox_at for a in delivered)
    elif any(d["kind"] == "failed" and told(d) for d in trace.dsns):
        trace.fate = "bounced"  # the author was told
    else:
        # nobody has the message and no bounce can reach the author: a 250 was given and the copy
        # neither reached the mailbox nor bounced (lost_at, e.g. a spool on a lost disk), or the
        # bounce itself was dropped or lost in a blob store that was down (bounces.py)
        trace.fate = "lost"
    trace.author_told = None if trace.fate == "delivered" else trace.fate == "bounced"
    return trace


def deliver(faults=None, config: Optional[DeliveryConfig] = None, message: Optional[bytes] = None,
            endpoint=None) -> DeliveryTrace:
    """Run one message from a sending MTA to a receiver through the faults, in virtual time."""
    config = config or DeliveryConfig()
    config.check()
    fault_plan = plan(faults)
    if fault_plan.datastore and config.receiver != "stalwart":
        raise BlobeduError("datastore-down and commit-fail are faults of Stalwart's data store: use --receiver stalwart")
    from .endpoint import InProcessEndpoint

    own = endpoint is None
    if own:
        endpoint = InProcessEndpoint()
    # the sender's own S3 is another bucket (another service); only made when it has faults
    sender_endpoint = InProcessEndpoint() if config.sender_fault_plan().faults else None
    # TMail's secondary blob store: another bucket on its own endpoint
    secondary_endpoint = InProcessEndpoint() if config.receiver == "tmail" else None
    t0 = time.perf_counter()
    try:
        trace = run_virtual(lambda: _journey(config, fault_plan, message or sample_message(), endpoint,
                                             sender_endpoint, secondary_endpoint))
    finally:
        if own:
            endpoint.close()
        for extra in (sender_endpoint, secondary_endpoint):
            if extra is not None:
                extra.close()
    trace.wall_seconds = time.perf_counter() - t0
    return trace
