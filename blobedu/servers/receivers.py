"""The receivers of the other designs: aiosmtpd on loopback, each design's store loop run by :class:`~.store.DesignStore`.

Each class is a driver: it does what its design module says, in the order the server does it, and
records custody and events as :class:`blobedu.receiver.Receiver` does for Stalwart.  Behaviour (retry
loops, replies) comes from the design modules; these classes only wire it to SMTP, moto and disk.

* :class:`ObjectStoreReceiver` (maddy, dovecot-obox): the PUT, then the reply; a 250 means the
  mailbox row points at the blob, so the message is in the mailbox at once *if* the blob is really in
  S3 (the observer asks moto), and lost, unseen, if S3 dropped an acknowledged write.
* :class:`JamesReceiver`: header and body blobs at once, then the queue; the dequeue reads both
  blobs back and **discards** the mail if one is missing (Dequeuer.java:163-176@james-project-3.9.0).
* :class:`TMailReceiver`: James's path on two stores at once, a repair when one failed.
* :class:`WildDuckReceiver`: Haraka's 30 s plugin timer races the MongoDB insert, which goes on.
* :class:`LocalDiskReceiver` (cyrus, postfix-local): a real fsynced file on the node's disk before
  the 250; a ``disk-loss`` takes it (and the mailbox on that disk) away.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import tempfile
import weakref
from typing import Any, Optional

from ..receiver import Acceptance, DataRecord, Receiver
from ..store import blob_key
from .design import Design, Ids


class DesignReceiver(Receiver):
    """Common parts: the design, an id per DATA, accepting a copy with the holder that keeps it."""

    def __init__(self, design: Design, store, clock, custody, events, rng, local_schedule, faults=None) -> None:
        super().__init__(store, clock, custody, events, rng, local_schedule)
        self.design = design
        self.design_name = design.name
        self.faults = faults if faults is not None else store.faults
        self._spans: dict[int, Any] = {}

    @property
    def design_label(self) -> str:  # pragma: no cover - informational
        return self.design.label

    def _ids(self) -> Ids:
        return Ids(self.rng.getrandbits(63), self.clock.now())

    def _acknowledge(self, record: Optional[DataRecord], ids: Ids, key: str, durable: bool, holder: str,
                     note: str) -> Acceptance:
        """A copy the receiver now answers for: recorded, its holder's custody started."""
        acc = Acceptance(self.clock.now(), ids.queue_id, key, durable, record.peer_port if record else 0)
        if durable:
            acc.durable_at = acc.t
        self.accepted.append(acc)
        self._spans[ids.queue_id] = self.custody.hold(holder, acc.t, note)
        self.event("queued", queue_id=ids.hex, durable=durable, holder=holder)
        return acc

    def _in_mailbox(self, acc: Acceptance) -> None:
        acc.mailbox_at = self.clock.now()
        self.event("mailbox", queue_id=f"{acc.queue_id:x}")

    def _lost(self, acc: Acceptance, why: str) -> None:
        now = self.clock.now()
        acc.lost_at, acc.mailbox_at = now, None
        self.custody.release(self._spans.pop(acc.queue_id, None), now, why)
        self.event("lost", queue_id=f"{acc.queue_id:x}", reason=why)


class ObjectStoreReceiver(DesignReceiver):
    """maddy, dovecot-obox: one PUT through the design's loop, then the reply."""

    async def _queue_message(self, body: bytes, record: DataRecord, envelope) -> str:
        ids = self._ids()
        key = blob_key(body)
        trace = await self.store.aput(body, self.clock, key=key)
        record.store, record.durable_at_reply = trace.to_dict(), trace.durable
        if trace.outcome == "hung":
            return self.design.reply_failed(None, ids)  # never written: the run ended first
        if trace.outcome != "stored":
            from ..policy import Outcome

            return self._reply(record, self.design.reply_failed(Outcome(False, trace.error), ids))
        acc = self._acknowledge(record, ids, key, bool(trace.durable), "S3", "blob (mailbox row points at it)")
        await self._after_250(acc)
        return self._reply(record, self.design.reply_ok(ids))

    async def _after_250(self, acc: Acceptance) -> None:
        """The mailbox row is committed with the 250: the message is in the mailbox if its blob is."""
        if acc.durable:
            self._in_mailbox(acc)
        else:
            self._lost(acc, "S3 acknowledged the PUT and kept nothing")


class JamesReceiver(ObjectStoreReceiver):
    """James: header and body blobs concurrently, then the queue; the dequeue reads them back."""

    #: blobedu's pause between two dequeues of a mail whose blobs could not be read (RabbitMQ
    #: redelivers a requeued message at once; the pause keeps the trace finite)
    REQUEUE_PAUSE = 60.0

    async def _queue_message(self, body: bytes, record: DataRecord, envelope) -> str:
        from ..policy import Outcome

        ids = self._ids()
        head, _, rest = body.partition(b"\n\n")
        key = blob_key(body)
        traces = await asyncio.gather(self.store.aput(head, self.clock, key=key + "-header"),
                                      self.store.aput(rest, self.clock, key=key + "-body"))
        record.store = traces[1].to_dict()
        record.durable_at_reply = all(t.durable for t in traces)
        if any(t.outcome == "hung" for t in traces):
            return self.design.reply_failed(None, ids)
        failed = next((t for t in traces if t.outcome != "stored"), None)
        if failed is not None:
            return self._reply(record, self.design.reply_failed(Outcome(False, failed.error), ids))
        acc = self._acknowledge(record, ids, key, bool(record.durable_at_reply), "S3",
                                "header and body blobs (RabbitMQ holds the reference)")
        task = asyncio.ensure_future(self._dequeue(acc))
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return self._reply(record, self.design.reply_ok(ids))

    async def _dequeue(self, acc: Acceptance) -> None:
        """Dequeuer: load both blobs; missing → discard (no requeue, nobody told); error → requeue."""
        expires = self.local_schedule.expires_at(acc.t)
        while True:
            reads = [await self.store.aget(acc.key + part, self.clock) for part in ("-header", "-body")]
            if all(r.outcome == "found" for r in reads):
                self._in_mailbox(acc)
                return
            if any(r.outcome == "not-found" for r in reads):
                self.event("discarded", queue_id=f"{acc.queue_id:x}",
                           reason="underlying blobs do not exist. Discarding this message to prevent an infinite loop.")
                self._lost(acc, "discarded by the dequeue: a blob was missing")
                return
            if expires is not None and self.clock.now() + self.REQUEUE_PAUSE >= expires:
                self._lost(acc, "still requeued when the run's queue lifetime ended")
                return
            await self.clock.sleep(self.REQUEUE_PAUSE)


class TMailReceiver(JamesReceiver):
    """TMail: every blob saved to the primary (the faulted store) and the secondary at once."""

    def __init__(self, design: Design, store, clock, custody, events, rng, local_schedule, secondary) -> None:
        super().__init__(design, store, clock, custody, events, rng, local_schedule)
        self.secondary = secondary
        self.repairs: list[dict[str, Any]] = []
        self._pending: dict[int, int] = {}

    async def _save(self, data: bytes, key: str):
        from ..policy import Outcome
        from .tmail import merge

        primary, secondary = await asyncio.gather(self.store.aput(data, self.clock, key=key),
                                                  self.secondary.aput(data, self.clock, key=key))
        hung = primary.outcome == "hung" or secondary.outcome == "hung"
        outcome, repair = merge(Outcome(primary.outcome == "stored", primary.error),
                                Outcome(secondary.outcome == "stored", secondary.error))
        return outcome, repair, hung, primary, secondary

    async def _queue_message(self, body: bytes, record: DataRecord, envelope) -> str:
        from .tmail import readable

        ids = self._ids()
        head, _, rest = body.partition(b"\n\n")
        key = blob_key(body)
        saves = await asyncio.gather(self._save(head, key + "-header"), self._save(rest, key + "-body"))
        record.store = saves[1][3].to_dict()
        if any(s[2] for s in saves):
            return self.design.reply_failed(None, ids)
        failed = next((s[0] for s in saves if not s[0].ok), None)
        if failed is not None:
            return self._reply(record, self.design.reply_failed(failed, ids))
        both = all(s[3].durable and s[4].durable for s in saves)
        record.durable_at_reply = both
        holder = "S3" if both else "one of two stores"
        note = "both stores" if both else "one store only until the repair runs"
        # reads fall back to the secondary blob by blob: readable if each blob is in either store
        acc = self._acknowledge(record, ids, key, readable((s[3].durable, s[4].durable) for s in saves), holder, note)
        self.event("saved", queue_id=ids.hex, primary=all(s[3].outcome == "stored" for s in saves),
                   secondary=all(s[4].outcome == "stored" for s in saves))
        for part, save in zip(("-header", "-body"), saves):
            if save[1] == "primary":
                self._pending[ids.queue_id] = self._pending.get(ids.queue_id, 0) + 1
                task = asyncio.ensure_future(self._repair(acc, key + part, head if part == "-header" else rest))
                self.background.add(task)
                task.add_done_callback(self.background.discard)
        if acc.durable:
            self._in_mailbox(acc)
        else:
            self._lost(acc, "a blob is in neither store: reads of it fail on both")
        return self._reply(record, self.design.reply_ok(ids))

    async def _repair(self, acc: Acceptance, key: str, data: bytes) -> None:
        """FailedBlobOperationListener: copy the blob to the primary; event-bus retries, then a dead letter."""
        from .tmail import REPAIR_RETRIES, repair_backoff

        for retry in range(REPAIR_RETRIES + 1):
            trace = await self.store.aput(data, self.clock, key=key)
            if trace.outcome == "stored":
                self.repairs.append({"t": round(self.clock.now(), 6), "key": key, "result": "repaired",
                                     "attempts": retry + 1})
                self.event("repaired", queue_id=f"{acc.queue_id:x}", attempts=retry + 1)
                self._pending[acc.queue_id] -= 1
                if not self._pending[acc.queue_id]:
                    now = self.clock.now()
                    self.custody.release(self._spans.pop(acc.queue_id, None), now, "repaired: both stores")
                    self._spans[acc.queue_id] = self.custody.hold("S3", now, "both stores")
                return
            if retry < REPAIR_RETRIES:
                await self.clock.sleep(repair_backoff(retry, self.rng))
        self.repairs.append({"t": round(self.clock.now(), 6), "key": key, "result": "dead letter",
                             "attempts": REPAIR_RETRIES + 1})
        self.event("repair dead-lettered", queue_id=f"{acc.queue_id:x}", attempts=REPAIR_RETRIES + 1)


class WildDuckReceiver(DesignReceiver):
    """Haraka + WildDuck: the insert races Haraka's 30 s plugin timer, and is not cancelled when it loses."""

    async def _queue_message(self, body: bytes, record: DataRecord, envelope) -> str:
        from .wildduck import PLUGIN_TIMEOUT, reply_plugin_timeout

        ids = self._ids()
        key = f"{blob_key(body)}-{len(self.data_log)}"  # a new document (ObjectId) for every transaction
        insert = asyncio.ensure_future(self._insert(body, key, ids, record))
        self.background.add(insert)
        insert.add_done_callback(self.background.discard)
        done, _ = await asyncio.wait({insert}, timeout=PLUGIN_TIMEOUT)
        if not done:
            self.event("plugin timeout", queue_id=ids.hex, note="the insert goes on")
            return self._reply(record, reply_plugin_timeout(ids))
        reply = insert.result()
        return self._reply(record, reply) if reply else self.design.reply_failed(None, ids)

    async def _insert(self, body: bytes, key: str, ids: Ids, record: DataRecord) -> Optional[str]:
        from ..policy import Outcome

        trace = await self.store.aput(body, self.clock, key=key)
        record.store, record.durable_at_reply = trace.to_dict(), trace.durable
        if trace.outcome == "hung":
            return None
        if trace.outcome != "stored":
            return self.design.reply_failed(Outcome(False, trace.error), ids)
        late = record.reply is not None  # Haraka already answered 450: nobody will be told of this copy
        acc = self._acknowledge(record, ids, key, bool(trace.durable), "MongoDB",
                                "message document" + (" (stored after the 450)" if late else ""))
        if late:
            self.event("stored after the reply", queue_id=ids.hex)
        if acc.durable:
            self._in_mailbox(acc)
        else:
            self._lost(acc, "the store acknowledged the write and kept nothing")
        return self.design.reply_ok(ids)


class LocalDiskReceiver(DesignReceiver):
    """cyrus, postfix-local: a real fsynced file on this node's disk before the 250."""

    def __init__(self, design: Design, store, clock, custody, events, rng, local_schedule, faults=None) -> None:
        super().__init__(design, store, clock, custody, events, rng, local_schedule, faults)
        self.disk = self._new_disk()
        self._on_disk: dict[int, str] = {}

    def _new_disk(self) -> str:
        path = tempfile.mkdtemp(prefix=f"blobedu-{self.design.name}-")
        weakref.finalize(self, shutil.rmtree, path, True)
        return path

    async def start(self) -> int:
        """Listen; and keep the run open until the last disk-loss, so that a copy on this disk can meet it."""
        port = await super().start()
        losses = [f.start for f in self.faults.receiver if f.kind == "disk-loss"]
        if losses:
            # the delivery schedules disk_loss itself at that moment; this only keeps the run going till then
            task = asyncio.ensure_future(self.clock.sleep(max(losses) + 0.001 - self.clock.now()))
            self.background.add(task)
            task.add_done_callback(self.background.discard)
        return port

    async def stop(self) -> None:
        """Stop listening and remove the disk's folder."""
        await super().stop()
        shutil.rmtree(self.disk, ignore_errors=True)

    async def _queue_message(self, body: bytes, record: DataRecord, envelope) -> str:
        from ..policy import Outcome
        from ..spool import write_entry
        from .cyrus import goes_to_object_store

        ids = self._ids()
        now = self.clock.now()
        try:
            path = write_entry(self.disk, f"{ids.queue_id:016x}", body, full=self.faults.disk_full_at(now))
        except OSError as exc:
            self.event("local write failed", error=os.strerror(exc.errno) if exc.errno else str(exc))
            why = "disk full" if exc.errno == errno.ENOSPC else "System I/O error"
            return self._reply(record, self.design.reply_failed(Outcome(False, why), ids))
        record.durable_at_reply = False
        acc = self._acknowledge(record, ids, blob_key(body), False, "local disk",
                                "queue file" if self.design.name == "postfix-local" else "spool file")
        self._on_disk[ids.queue_id] = path
        if self.design.name == "cyrus" and goes_to_object_store(len(body)):
            trace = await self.store.aput(body, self.clock, key=acc.key)
            record.store = trace.to_dict()
            if trace.outcome == "stored":
                # append.c:1167-1171: "must delete local file": the object store now holds the only copy
                os.remove(path)
                self._on_disk.pop(ids.queue_id)
                now = self.clock.now()
                self.custody.release(self._spans.pop(ids.queue_id), now, "archived: local file deleted")
                self._spans[ids.queue_id] = self.custody.hold("S3", now, "archived message")
                acc.durable, acc.durable_at = bool(trace.durable), now
                if not trace.durable:
                    self._lost(acc, "the object store acknowledged the PUT and kept nothing")
            else:
                self.event("archive PUT failed", queue_id=ids.hex, error=trace.error, note="kept on the local spool")
        if acc.lost_at is None:
            self._in_mailbox(acc)  # the spool file is the mailbox (Cyrus); LMTP to a local Dovecot (Postfix)
        return self._reply(record, self.design.reply_ok(ids))

    def disk_loss(self) -> None:
        """The node's disk is gone: every copy only on it (queue, spool, mailbox) is lost."""
        lost = list(self._on_disk)
        shutil.rmtree(self.disk, ignore_errors=True)
        for queue_id in lost:
            acc = next(a for a in self.accepted if a.queue_id == queue_id)
            self._lost(acc, "disk lost")
        self._on_disk.clear()
        self.event("disk-loss", lost=len(lost))
        self.disk = self._new_disk()
