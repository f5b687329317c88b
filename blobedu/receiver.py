"""The receiving Stalwart: an aiosmtpd handler that does, on the final dot, what ``MessageWrapper::queue`` does.

Theory of operation
-------------------
``crates/smtp/src/inbound/data.rs`` calls ``MessageWrapper::queue``
(``crates/smtp/src/queue/spool.rs:373``) *inline*, before it answers the final dot
(shared/stalwart-facts.md §2):

1. a data-store write reserves the blob: ``BlobLink::Temporary { until: now + 120 }``;
2. ``blob_store().put_blob(hash, message)`` sends the body to S3 (here: :class:`~blobedu.store.S3BlobStore`);
3. one data-store batch writes the queue entry (metadata, due times, ``BlobLink::Id``, ``BlobOp::Commit``).

Success answers ``250 2.0.0 Message queued with id {queue_id:x}.`` from v0.12.4 on, and
``250 2.0.0 Message queued for delivery.`` before (data.rs@v0.12.3:685 and @v0.12.4:685; the
version table's ``queued_reply``); any failure answers exactly
``451 4.3.5 Unable to accept message at this time.`` (data.rs:829, the same string in v0.10.3,
v0.11.8, v0.13.0 and v0.15.5); a full queue quota answers ``452 4.3.1 Mail system full, try again
later.``.  There is no spool, WAL, fallback store or blob cache: until the PUT succeeds the body
lives only in this session's memory, and nothing is written to local disk.

The queue work runs as its own task, shielded from the SMTP connection: when a sender gives up
waiting and hangs up, Stalwart's session still finishes its queue write, which is how a DATA
timeout turns into a duplicate.  A ``crash@T`` fault cancels every in-flight queue task and drops
every connection at ``T``; the data store (queue entries, reservations) is assumed to be a
networked database that survives the node, as in an S3 deployment.

After a 250 the queue delivers locally, which reads the blob back from S3.  A read error is
"Temporary I/O error.", a missing blob "Blob not found." (facts §2); both are retried on the
receiver's queue schedule until the entry expires and bounces.  That bounce is itself queued
through ``MessageWrapper::queue``, on this same blob store, and its result is ignored
(:mod:`blobedu.bounces`): when the store is still losing writes, the bounce is lost too.

The data store is written twice around the PUT (facts §5 "write order"; spool.rs@v0.16.18:415-435
and 555-598): a ``datastore-down`` fault fails the reservation, so the sender gets the same 451
before S3 is touched; a ``commit-fail`` (or ``datastore-down``) fault at the commit fails the final
batch after a good PUT, so the sender gets a 451 and the object stays in S3 as an orphan with only
an expiring reservation, which the daily purge deletes (store/src/write/blob.rs@v0.16.18:88-205, 253-288).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any, Optional

from aiosmtpd.smtp import SMTP

from .schedules import Schedule
from .versions import QUEUED_WITH_ID
from .trace import Custody, CustodySpan

REPLY_QUEUED = QUEUED_WITH_ID  # the newest; a receiver answers its own version's (queued_reply)
REPLY_TEMPFAIL = "451 4.3.5 Unable to accept message at this time."
REPLY_QUOTA = "452 4.3.1 Mail system full, try again later."
LOCAL_IO_ERROR = "Temporary I/O error."
#: The enhanced code of a local delivery's temporary failure (outbound/local.rs:70-81@v0.16.18).
LOCAL_TEMPFAIL_STATUS = "4.3.0"
LOCAL_BLOB_NOT_FOUND = "Blob not found."
RESERVE_SECONDS = 120  # BlobLink::Temporary { until: now + 120 } (spool.rs@v0.16.18)
#: aiosmtpd closes an idle connection after this long (300 s by default).  Stalwart's own inbound
#: timeout is not in the facts; set on purpose so that only the *sender's* final-dot wait decides.
SERVER_TIMEOUT = 30 * 86400.0
HOSTNAME = "mx.receiver.test"
SENDER_HELO = "mta.sender.test"  # the HELO the sending MTA gives (sender.SENDER_HOST)


@dataclass
class Acceptance:
    """One copy the receiver accepted with a 250: its queue entry, and what became of it."""

    t: float
    queue_id: int
    key: str
    durable: bool
    peer_port: int
    mailbox_at: Optional[float] = None
    bounced_at: Optional[float] = None
    lost_at: Optional[float] = None
    durable_at: Optional[float] = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"t": round(self.t, 6), "queue_id": f"{self.queue_id:x}", "durable": self.durable,
                "mailbox_at": self.mailbox_at, "bounced_at": self.bounced_at, "lost_at": self.lost_at}


@dataclass
class DataRecord:
    """What the receiver did with one DATA: when the dot came, what it answered and when."""

    peer_port: int
    t_dot: float
    reply: Optional[str] = None
    replied_at: Optional[float] = None
    store: Optional[dict[str, Any]] = None
    durable_at_reply: Optional[bool] = None
    datastore: Optional[str] = None  # "reserve failed" / "commit failed": which data-store write failed


class Receiver:
    """Common SMTP plumbing for receivers: aiosmtpd on 127.0.0.1, crash handling, records."""

    design = "base"

    def __init__(self, store, clock, custody: Custody, events: list, rng: random.Random,
                 local_schedule: Schedule, queue_quota: Optional[int] = None) -> None:
        self.store = store
        self.clock = clock
        self.custody = custody
        self.events = events
        self.rng = rng
        self.local_schedule = local_schedule
        self.queue_quota = queue_quota
        self.accepted: list[Acceptance] = []
        self.data_log: list[DataRecord] = []
        self.local: list[dict[str, Any]] = []
        self.dsns: list[dict[str, Any]] = []
        self.data_store: dict[str, Any] = {"reservations": {}, "queue": {}}
        self.orphans: list[str] = []  # keys PUT to S3 whose commit failed: only the purge removes them
        self.inflight: set[asyncio.Task] = set()
        self.background: set[asyncio.Task] = set()
        self._protocols: list[SMTP] = []
        self._memory: dict[asyncio.Task, CustodySpan] = {}
        self.server: Optional[asyncio.AbstractServer] = None
        self.port = 0

    # -- server --------------------------------------------------------------------------------
    async def start(self) -> int:
        """Listen on 127.0.0.1 and a free port; returns the port."""
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(self._protocol, host="127.0.0.1", port=0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    def _protocol(self) -> SMTP:
        proto = SMTP(self, hostname=HOSTNAME, timeout=SERVER_TIMEOUT, loop=asyncio.get_running_loop())
        self._protocols.append(proto)
        return proto

    async def stop(self) -> None:
        """Stop listening."""
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def event(self, what: str, **data: Any) -> None:
        """Record a timeline event."""
        self.events.append({"t": round(self.clock.now(), 6), "who": "receiver", "what": what, **data})

    # -- SMTP ----------------------------------------------------------------------------------
    async def handle_DATA(self, server, session, envelope) -> str:
        """The final dot: run the queue work as its own task, shielded from the connection."""
        record = DataRecord(peer_port=session.peer[1], t_dot=self.clock.now())
        self.data_log.append(record)
        body = envelope.original_content or b""
        task = asyncio.ensure_future(self._queue_message(body, record, envelope))
        self.inflight.add(task)
        self._memory[task] = self.custody.hold("receiver memory", record.t_dot, f"DATA from port {record.peer_port}")
        task.add_done_callback(self._task_done)
        return await asyncio.shield(task)

    def _task_done(self, task: asyncio.Task) -> None:
        self.inflight.discard(task)
        self.custody.release(self._memory.pop(task, None), self.clock.now())

    async def _queue_message(self, body: bytes, record: DataRecord, envelope) -> str:  # pragma: no cover
        raise NotImplementedError

    def _reply(self, record: DataRecord, reply: str) -> str:
        record.reply, record.replied_at = reply, self.clock.now()
        self.event("reply", reply=reply, peer_port=record.peer_port)
        return reply

    def queue_full(self) -> bool:
        """True when the queue quota (messages waiting) is reached: Stalwart answers 452 4.3.1."""
        waiting = sum(1 for a in self.accepted if a.mailbox_at is None and a.bounced_at is None)
        return self.queue_quota is not None and waiting >= self.queue_quota

    def _accept(self, record: DataRecord, key: str, durable: bool, queue_id: Optional[int] = None) -> str:
        queue_id = self.rng.getrandbits(63) if queue_id is None else queue_id
        acc = Acceptance(self.clock.now(), queue_id, key, durable, record.peer_port)
        if durable:
            acc.durable_at = acc.t
        self.accepted.append(acc)
        self.data_store["queue"][queue_id] = {"blob": key, "due": self.clock.now()}
        self.event("queued", queue_id=f"{queue_id:x}", durable=durable)
        task = asyncio.ensure_future(self._local_delivery(acc))
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return self.queued_reply(queue_id)

    def queued_reply(self, queue_id: int) -> str:
        """The 250 this receiver's Stalwart version answers (the version table's ``queued_reply``)."""
        return self.store.config.behaviour.queued_reply.format(queue_id=queue_id)

    # -- faults on the node ---------------------------------------------------------------------
    def crash(self) -> None:
        """The process dies and restarts at once: in-flight DATA is lost, connections drop."""
        self.event("crash", inflight=len(self.inflight))
        for task in list(self.inflight):
            task.cancel()
        for proto in self._protocols:
            if proto.transport is not None:
                proto.transport.abort()
        self._protocols = [p for p in self._protocols if p.transport is not None]

    def disk_loss(self) -> None:
        """The node's local disk is gone.  Stalwart keeps nothing there, so nothing is lost."""
        self.event("disk-loss", lost=0)

    # -- after the 250 ----------------------------------------------------------------------------
    async def _local_delivery(self, acc: Acceptance) -> None:
        """Deliver a queued copy to the mailbox: read the blob back, retry on the queue schedule."""
        failures: list[float] = []
        while True:
            trace = await self.store.aget(acc.key, self.clock)
            now = self.clock.now()
            if trace.outcome == "hung":
                self.local.append({"t": round(now, 6), "queue_id": f"{acc.queue_id:x}", "result": "still hung"})
                return
            if trace.outcome == "found":
                acc.mailbox_at = now
                self.local.append({"t": round(now, 6), "queue_id": f"{acc.queue_id:x}", "result": "delivered"})
                self.event("mailbox", queue_id=f"{acc.queue_id:x}")
                return
            result = LOCAL_IO_ERROR if trace.outcome == "failed" else LOCAL_BLOB_NOT_FOUND
            self.local.append({"t": round(now, 6), "queue_id": f"{acc.queue_id:x}", "result": result})
            failures.append(now)
            nxt = self.local_schedule.next_attempt(acc.t, failures)
            if nxt is None:
                end = self.local_schedule.expires_at(acc.t)
                if end is not None and end > now:
                    await self.clock.sleep(end - now)
                acc.bounced_at = self.clock.now()
                from .bounces import queue_dsn
                from .sender import make_dsn

                # a local temporary failure is the response "451 4.3.0 <reason>" (outbound/local.rs:70-81
                # @v0.16.18), and the expired bounce keeps its code (queue/dsn.rs:580-600) and renders
                # its Diagnostic-Code Stalwart's way (dsn.rs:650-654)
                response = f"451 {LOCAL_TEMPFAIL_STATUS} {result}"
                dsn = make_dsn("failed", acc.bounced_at, HOSTNAME, self.local_schedule.bounce_status(response),
                               self.local_schedule.diagnostic(response, expired=True), origin="receiver")
                # send_dsn queues the bounce through this same store and ignores the result (dsn.rs:34-68)
                self.dsns.append(await queue_dsn(dsn, self.store, self.clock, "receiver"))
                self.event("bounce", queue_id=f"{acc.queue_id:x}", reason=result)
                return
            await self.clock.sleep(nxt - now)


#: Virtual time 0 as a wall-clock date, for the Received header's date (the sample message's own Date)
EPOCH = 1795867200  # Sat, 28 Nov 2026 12:00:00 +0000


def received_header(queue_id: int, t: float) -> bytes:
    """The Received header Stalwart prepends (``write_received``, inbound/data.rs:1013-1069@v0.16.18).

    From the sender's HELO name, ``by`` this host, ``with ESMTP id`` the queue id in upper-case hex,
    then the date.  The model's peer has no PTR record, so ``(unknown [127.0.0.1])``.
    """
    from datetime import datetime, timezone
    from email.utils import format_datetime

    return (f"Received: from {SENDER_HELO} (unknown [127.0.0.1])\r\n\tby {HOSTNAME} (Stalwart SMTP) with ESMTP "
            f"id {queue_id:X};\r\n\t{format_datetime(datetime.fromtimestamp(EPOCH + t, timezone.utc))}\r\n").encode()


class StalwartReceiver(Receiver):
    """Stalwart's receiver: reserve, ``put_blob`` through the S3 model, commit; 451 on any failure."""

    design = "stalwart"

    async def _queue_message(self, body: bytes, record: DataRecord, envelope) -> str:
        if self.queue_full():
            return self._reply(record, REPLY_QUOTA)
        from .store import blob_key

        # Each attempt stores a *different* blob: Stalwart prepends a Received header with a fresh
        # queue id and the current date (inbound/data.rs:485-495, 1013-1069@v0.16.18), and the hash
        # covers headers and body (queue/spool.rs:394-406).  So a failed commit leaves one orphan per
        # attempt, and two copies of a duplicated message are two S3 objects (facts §5, revision 3).
        queue_id = self.rng.getrandbits(63)
        body = received_header(queue_id, self.clock.now()) + body
        key = blob_key(body)
        # 1. reserve the blob in the data store (spool.rs@v0.16.18:415-435, BlobLink::Temporary); a
        #    failed write returns before S3 is touched
        if self._datastore_fails("reserve"):
            record.datastore = "reserve failed"
            self.event("data store write failed", step="reserve")
            return self._reply(record, REPLY_TEMPFAIL)
        self.data_store["reservations"][key] = self.clock.now() + RESERVE_SECONDS
        # 2. put_blob: the body goes to S3, through Stalwart's retry loop
        trace = await self.store.aput(body, self.clock, key=key)
        record.store = trace.to_dict()
        record.durable_at_reply = trace.durable
        if trace.outcome == "hung":
            # the run ended while the PUT still hung (a silent S3 on v0.8.2-v0.15.x): no reply was ever
            # written; the sender gave up on this session long ago
            return REPLY_TEMPFAIL
        if trace.outcome != "stored":
            return self._reply(record, REPLY_TEMPFAIL)
        # 3. commit the queue entry in one data-store batch (spool.rs@v0.16.18:555-598); if it fails
        #    the object just PUT is an orphan: no queue entry links it, only the expiring reservation
        if self._datastore_fails("commit"):
            record.datastore = "commit failed"
            if trace.durable:
                self.orphans.append(key)
            self.event("data store write failed", step="commit", orphan=bool(trace.durable))
            return self._reply(record, REPLY_TEMPFAIL)
        if trace.durable:
            self.custody.hold("S3", self.clock.now(), "blob (queue entry, then mailbox)")
        return self._reply(record, self._accept(record, key, bool(trace.durable), queue_id))

    def _datastore_fails(self, step: str) -> bool:
        """Whether the data-store write ``step`` (reserve or commit) meets a data-store fault now."""
        return self.store.faults.datastore_fails_at(self.clock.now() - self.store.origin, step)
