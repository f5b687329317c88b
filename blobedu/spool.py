"""What a write-ahead spool would change: a receiver that answers 250 once the message is on local disk.

Theory of operation
-------------------
Stalwart has no spool (shared/stalwart-facts.md §2): it answers the final dot only after the blob
is in S3, so while S3 is down the *sender* keeps the message.  This module builds the other
design, so the two can run side by side on the same clock, faults and S3 model.  It is a contrast,
not a model of Stalwart: nothing here comes from Stalwart's source.

Rules this file keeps:

* **Durable before 250.**  On the final dot the message (a one-line JSON header with the queue id
  and envelope, then the body) is written to ``<queue id>.tmp``, the file is ``fsync``'ed, renamed
  to ``<queue id>.eml`` and the *directory* is ``fsync``'ed, all before the reply.  Those are real
  files in a real temporary folder (one per receiver), so the cost measured by
  :func:`fsync_latency` is the cost this receiver pays per message.
* **The disk is the only memory that counts.**  An uploader reads the body back from its spool
  file before every attempt and keeps nothing between attempts; after a crash the spool is
  replayed by listing the folder.  The :class:`~blobedu.receiver.Acceptance` records and custody
  spans are the *observer's* notebook, looked up by queue id; the node never relies on them.
* **Delete only after a durable PUT.**  The uploader runs Stalwart's own ``put_blob`` retry loop
  (:meth:`~blobedu.store.S3BlobStore.aput`) and, when that fails, waits
  :data:`UPLOAD_RETRY_SECONDS` and tries again.  The entry is deleted only once the blob is
  confirmed in S3: by verifyAfterWrite's HEAD when it is on, else by reading the blob back.  That
  moment is ``Acceptance.durable_at``: the queue entry is committed, custody passes to "S3" and the
  same local delivery as Stalwart's starts.  If the queue lifetime (the receiver's local schedule,
  3 d on v0.16) runs out first, the receiver bounces the message to the author with a DSN, as any
  server that said 250 must (RFC 5321 §6.1: once it has said 250 it is responsible for delivering
  or reporting).
* **Receiver faults.**  ``crash@T``: in-flight DATA and connections die (the base class), the
  uploaders die with the process, the spool survives and is replayed at once.  ``disk-loss@T``:
  the folder and every entry in it are gone for good; each copy that was only there gets
  ``lost_at = T``, its "spool" custody ends with "disk lost", and the node goes on with a fresh
  empty disk.  ``disk-full@START-END``: the spool write fails with ENOSPC and the dot is answered
  ``452 4.3.1 Mail system full, try again later.``, so the sender keeps the message.

The trade is one of **custody**: where the only copy lives, and for how long.  The sender lets go at
the fsync, not at the PUT, so an S3 outage no longer delays the 250, but from the 250 until the
upload the only copy is on one node's disk, for as long as S3 stays down.  A disk lost in that
window loses mail that was acknowledged.  That design is not against the rules: RFC 5321 §6.1
forbids losing an accepted message *"for frivolous reasons, such as because the host later crashes
or because of a predictable resource shortage"*, and Postfix, Exim and Sendmail all answer 250 after
an fsync to one local disk (facts §4, item 7, revision 2).  The difference is how long that one
disk holds the only copy: for them, until the next hop accepts (seconds, usually); for a spool in
front of a dead S3, the whole outage.  Stalwart instead leaves the copy with the sender until S3 has
it, and pays with delay and retries on the sender's side.

A fair WAL (:class:`SpoolOptions`, issue #19 item 7): two small pure options of this model, which
notebook 04 runs beside the naive spool.  Both are design sketches of what an admin could build; no
mail server in blobedu's sheets ships them in front of S3.

* **An uploader with backoff** (:class:`UploadBackoff`): the wait after the k-th failed upload is
  ``min(cap, first * factor ** (k - 1))``, optionally with full jitter (a uniform draw in
  ``[0, that]`` from the receiver's seeded rng).  ``factor=1`` is today's fixed wait
  (:data:`FIXED_UPLOAD`).  It is the shape of Postfix's own queue retries, which back off from
  ``DEF_QUEUE_RUN_DELAY`` 300 s to ``DEF_MAX_BACKOFF_TIME`` 4000 s (mail_params.h:801-812@v3.11.6,
  shared/other-servers.md); the values of :data:`BACKOFF_UPLOAD` are blobedu's choice.  It saves
  upload attempts in a long outage and costs up to ``cap`` of extra time on the disk after S3 is back.
* **A spool on replicated storage** (``replicas=N``): before the 250 the entry is written and
  fsynced on N nodes' disks (here N real folders), so the acknowledgement waits for the slowest of N
  fsyncs, plus, on a real cluster, a network round trip that blobedu does not measure.  The k-th
  ``disk-loss`` fault of a run hits node ``(k - 1) mod N``, which comes back empty; a message is
  lost only when every node that held it has lost its disk.  So one disk loss costs nothing, and N
  losses inside one outage (a whole cluster: a fire, a bad firmware push, one storage volume under all
  N) lose it as the one-disk spool does.  blobedu does not model re-replication onto the replaced
  disk (a real system would), so this errs on the side of loss.  Postfix's queue is one local
  directory (mail_stream.c:296-309@v3.11.6 fsyncs it before the 250); putting it on replicated
  storage is the admin's choice, not Postfix's.  WildDuck is a store that replicates before its
  reply: MongoDB writes with ``writeConcern: 'majority'`` (lib/message-handler.js:659@v1.50.0).

Costs are measured here too: :func:`fsync_latency` (the real write+fsync per message on this
machine), :func:`spool_growth` (what piles up during an outage, a pure function) and
:func:`spool_run` (a few real messages through a real spool in virtual time).
"""

from __future__ import annotations

import asyncio
import errno
import functools
import json
import math
import os
import random
import shutil
import statistics
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from .errors import BlobeduError
from .faults import FaultPlan, plan
from .receiver import REPLY_QUOTA, Acceptance, DataRecord, HOSTNAME, Receiver
from .store import blob_key
from .trace import CustodySpan

#: Fixed wait between two failed uploads of one spool entry (virtual seconds).  Fixed, not
#: exponential: the sender already has its 250, so nobody is waiting on a reply, and the only
#: thing this wait decides is how long the message sits on one disk *after* S3 is back.  60 s
#: bounds that to a minute plus Stalwart's own 1-2-4 s backoff inside ``aput``, at the price of
#: one upload attempt per minute per spooled message (60 an hour; :func:`spool_growth` counts
#: them).  Exponential backoff would save attempts in a long outage but leave the message on
#: the disk for up to the cap after S3 recovers, which is the window a WAL should keep short.
#: :data:`BACKOFF_UPLOAD` (the fair WAL's uploader, :class:`UploadBackoff`) makes that trade on request.
UPLOAD_RETRY_SECONDS = 60.0
#: A typical message for the cost figures: a text mail with a small attachment.  Pass your own.
DEFAULT_MESSAGE_BYTES = 64 * 1024
#: Filesystem block: an entry takes whole blocks on disk (ext4's default is 4 KiB).
BLOCK_BYTES = 4096
ENTRY_SUFFIX = ".eml"
TMP_SUFFIX = ".tmp"


# -- the options of a fair WAL: small pure objects ---------------------------------------------------
@dataclass(frozen=True)
class UploadBackoff:
    """The uploader's wait after its k-th failed upload: ``min(cap, first * factor ** (k - 1))``.

    ``jitter=True`` draws the wait uniformly in ``[0, that]`` ("full jitter") from the rng it is
    given, which the receiver seeds; without jitter the schedule is the same for every message.
    """

    first: float = UPLOAD_RETRY_SECONDS
    factor: float = 1.0
    cap: float = UPLOAD_RETRY_SECONDS
    jitter: bool = False

    def check(self) -> "UploadBackoff":
        """Raise :class:`BlobeduError` for a wait that is not a finite positive time; returns self."""
        for name in ("first", "factor", "cap"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v <= 0:
                raise BlobeduError(f"upload backoff {name} must be a finite number more than 0, got {v!r}")
        if self.factor < 1:
            raise BlobeduError(f"upload backoff factor must be 1 or more, got {self.factor}")
        if self.cap < self.first:
            raise BlobeduError(f"upload backoff cap ({self.cap}) must be at least its first wait ({self.first})")
        return self

    def ceiling(self, failures: int) -> float:
        """The longest wait after ``failures`` failed uploads (1 or more)."""
        if failures < 1:
            raise BlobeduError(f"failures must be 1 or more, got {failures}")
        # stop multiplying once past the cap: no overflow for any count
        wait = self.first
        for _ in range(failures - 1):
            if wait >= self.cap:
                break
            wait *= self.factor
        return min(self.cap, wait)

    def delay(self, failures: int, rng: Optional[random.Random] = None) -> float:
        """The wait after ``failures`` failed uploads; with jitter, a draw from ``rng`` in ``[0, ceiling]``."""
        ceiling = self.ceiling(failures)
        if not self.jitter:
            return ceiling
        if rng is None:
            raise BlobeduError("a jittered upload backoff needs an rng (seeded by the receiver)")
        return rng.uniform(0.0, ceiling)

    def schedule(self, attempts: int, rng: Optional[random.Random] = None) -> list[float]:
        """The upload attempts' times from the first (at 0) when every one fails: ``attempts`` of them."""
        times, t = [], 0.0
        for k in range(attempts):
            times.append(t)
            t += self.delay(k + 1, rng)
        return times

    def attempts_within(self, seconds: float) -> int:
        """How many upload attempts (the first at 0) fall before ``seconds`` when all fail (no jitter)."""
        n, t = 0, 0.0
        while t < seconds - 1e-9:
            n += 1
            t += self.ceiling(n)
        return n

    def describe(self) -> str:
        """``fixed 1m`` or ``1m ×2 up to 10m, jittered``."""
        from .durations import format_duration

        if self.factor == 1 or self.first == self.cap:
            text = f"fixed {format_duration(self.first)}"
        else:
            text = f"{format_duration(self.first)} ×{self.factor:g} up to {format_duration(self.cap)}"
        return text + (", jittered" if self.jitter else "")


#: Today's uploader: a fixed :data:`UPLOAD_RETRY_SECONDS` after every failed upload.
FIXED_UPLOAD = UploadBackoff()
#: A fair WAL's uploader (blobedu's choice, a design sketch): 1 min, doubling, capped at 10 min, jittered.
#: The cap is the longest a message may wait on the disk after S3 is back.
BACKOFF_UPLOAD = UploadBackoff(first=60.0, factor=2.0, cap=600.0, jitter=True)


@dataclass(frozen=True)
class SpoolOptions:
    """How a write-ahead spool is built: its uploader's backoff and how many nodes' disks hold each entry.

    ``replicas=1`` with :data:`FIXED_UPLOAD` is the naive spool (one local disk, fixed retry).  The
    250 is given only after all ``replicas`` copies are fsynced (synchronous replication, as on a
    DRBD volume, "a shared-nothing, synchronously replicated block device": the Linux kernel's
    Documentation/admin-guide/blockdev/drbd/index.rst), so a message acknowledged is on every node.
    """

    uploader: UploadBackoff = FIXED_UPLOAD
    replicas: int = 1

    def check(self) -> "SpoolOptions":
        """Raise :class:`BlobeduError` for a bad option; returns self."""
        if not isinstance(self.uploader, UploadBackoff):
            raise BlobeduError(f"uploader must be an UploadBackoff, got {type(self.uploader).__name__}")
        self.uploader.check()
        if not isinstance(self.replicas, int) or isinstance(self.replicas, bool) or not 1 <= self.replicas <= 9:
            raise BlobeduError(f"replicas must be a whole number from 1 to 9, got {self.replicas!r}")
        return self

    def describe(self) -> str:
        """``one disk, upload retry fixed 1m`` or ``3 replicas, upload retry 1m ×2 up to 10m, jittered``."""
        disks = "one disk" if self.replicas == 1 else f"{self.replicas} replicas"
        return f"{disks}, upload retry {self.uploader.describe()}"


#: The naive spool: one local disk, a fixed retry (what notebook 04 showed first).
NAIVE = SpoolOptions()
#: A fair WAL (a design sketch): each entry fsynced on 3 nodes before the 250, an uploader with backoff.
FAIR = SpoolOptions(uploader=BACKOFF_UPLOAD, replicas=3)


# -- the spool on disk ---------------------------------------------------------------------------
def fsync_dir(directory: str) -> None:
    """``fsync`` a directory, so that a create, rename or unlink in it survives a power cut."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_entry(directory: str, name: str, data: bytes, full: bool = False) -> str:
    """Write ``data`` durably as ``directory/name``: tmp file, fsync, rename, fsync dir; returns the path.

    ``full`` makes the write fail as a full disk does (``OSError(ENOSPC)``), for ``disk-full``.
    """
    tmp = os.path.join(directory, name + TMP_SUFFIX)
    path = os.path.join(directory, name + ENTRY_SUFFIX)
    try:
        with open(tmp, "wb") as f:
            if full:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), tmp)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # the rename makes the entry appear whole or not at all; the directory fsync makes the
        # rename itself durable (without it a power cut can leave the file unnamed)
        os.replace(tmp, path)
        fsync_dir(directory)
    except OSError:
        try:
            os.remove(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def remove_entry(path: str) -> None:
    """Delete a spool entry durably (unlink, then fsync the directory)."""
    os.remove(path)
    fsync_dir(os.path.dirname(path))


def _encode(queue_id: int, t: float, envelope, body: bytes) -> bytes:
    head = {"queue_id": f"{queue_id:x}", "t": t,
            "mail_from": getattr(envelope, "mail_from", None), "rcpt_tos": list(getattr(envelope, "rcpt_tos", []))}
    return json.dumps(head).encode() + b"\n" + body


def _decode(data: bytes) -> tuple[dict[str, Any], bytes]:
    head, _, body = data.partition(b"\n")
    return json.loads(head), body


def _entry_name(queue_id: int) -> str:
    return f"{queue_id:016x}"


# -- the receiver ----------------------------------------------------------------------------------
class SpoolingReceiver(Receiver):
    """A receiver with a write-ahead spool: fsync to local disk, answer 250, upload to S3 in the background."""

    design = "wal"

    def __init__(self, store, clock, custody, events, rng: random.Random, local_schedule,
                 queue_quota: Optional[int] = None, faults: FaultPlan | Sequence[str] | None = None,
                 spool_root: Optional[str] = None, options: Optional[SpoolOptions] = None) -> None:
        super().__init__(store, clock, custody, events, rng, local_schedule, queue_quota)
        self.faults = plan(faults)
        self.options = (options or NAIVE).check()
        self.spool_root = spool_root
        #: one spool folder per node; node 0 is this receiver's own disk
        self.spool_dirs = [self._new_disk() for _ in range(self.options.replicas)]
        self._disk_losses = 0
        self._uploads: dict[int, asyncio.Task] = {}
        self._spans: dict[int, CustodySpan] = {}

    @property
    def spool_dir(self) -> str:
        """This node's own spool folder (node 0)."""
        return self.spool_dirs[0]

    def _new_disk(self) -> str:
        """A fresh, empty spool folder; removed by :meth:`stop`, or at exit if the run dies first."""
        path = tempfile.mkdtemp(prefix="blobedu-spool-", dir=self.spool_root)
        weakref.finalize(self, shutil.rmtree, path, True)
        return path

    async def stop(self) -> None:
        """Stop listening and remove the spool folder."""
        await super().stop()
        for task in self._uploads.values():
            task.cancel()
        for folder in self.spool_dirs:
            shutil.rmtree(folder, ignore_errors=True)

    def _names(self, folder: str) -> set[str]:
        try:
            return {n for n in os.listdir(folder) if n.endswith(ENTRY_SUFFIX)}
        except FileNotFoundError:
            return set()

    def entries(self) -> list[str]:
        """Paths of the entries now in the spool, by name (what a restart would replay): one per
        message, on the first node that still holds it."""
        paths = {}
        for folder in self.spool_dirs:
            for n in self._names(folder):
                paths.setdefault(n, os.path.join(folder, n))
        return [paths[n] for n in sorted(paths)]

    def _entry_path(self, queue_id: int) -> Optional[str]:
        """Where this message's entry can still be read: the first node whose disk has it, or None."""
        name = _entry_name(queue_id) + ENTRY_SUFFIX
        for folder in self.spool_dirs:
            path = os.path.join(folder, name)
            if os.path.exists(path):
                return path
        return None

    def _remove_everywhere(self, queue_id: int) -> None:
        name = _entry_name(queue_id) + ENTRY_SUFFIX
        for folder in self.spool_dirs:
            try:
                remove_entry(os.path.join(folder, name))
            except FileNotFoundError:
                pass

    def queue_full(self) -> bool:
        """The base quota check, not counting copies lost with a disk (they wait for nothing)."""
        waiting = sum(1 for a in self.accepted
                      if a.mailbox_at is None and a.bounced_at is None and a.lost_at is None)
        return self.queue_quota is not None and waiting >= self.queue_quota

    def _acceptance(self, queue_id: int) -> Optional[Acceptance]:
        return next((a for a in self.accepted if a.queue_id == queue_id), None)

    # -- the final dot ---------------------------------------------------------------------------
    async def _queue_message(self, body: bytes, record: DataRecord, envelope) -> str:
        if self.queue_full():
            return self._reply(record, REPLY_QUOTA)
        now = self.clock.now()
        queue_id = self.rng.getrandbits(63)
        data = _encode(queue_id, now, envelope, body)
        try:
            # every replica is written and fsynced before the 250 (one, for the naive spool)
            for folder in self.spool_dirs:
                write_entry(folder, _entry_name(queue_id), data, full=self.faults.disk_full_at(now))
        except OSError as exc:
            # a spool that cannot be written cannot promise anything: the sender keeps the message
            self._remove_everywhere(queue_id)
            self.event("spool write failed", error=os.strerror(exc.errno) if exc.errno else str(exc))
            return self._reply(record, REPLY_QUOTA)
        # from here the message is on disk: the 250 hands custody from the sender to the spool
        acc = Acceptance(now, queue_id, blob_key(body), False, record.peer_port)
        self.accepted.append(acc)
        where = "" if self.options.replicas == 1 else f" on {self.options.replicas} nodes"
        self._spans[queue_id] = self.custody.hold("spool", now, f"{_entry_name(queue_id)}{ENTRY_SUFFIX}{where}")
        record.durable_at_reply = False
        self.event("spooled", queue_id=f"{queue_id:x}", bytes=len(body))
        self._start_upload(queue_id)
        return self._reply(record, self.queued_reply(queue_id))

    # -- uploading -----------------------------------------------------------------------------
    def _start_upload(self, queue_id: int) -> None:
        task = asyncio.ensure_future(self._upload(queue_id))
        self._uploads[queue_id] = task
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        task.add_done_callback(functools.partial(self._upload_done, queue_id))

    def _upload_done(self, queue_id: int, task: asyncio.Task) -> None:
        if self._uploads.get(queue_id) is task:  # not a newer uploader started by a replay
            del self._uploads[queue_id]

    async def _upload(self, queue_id: int) -> None:
        """Upload one spool entry until S3 has it durably, then commit the queue entry; or bounce at expiry.

        After the k-th failed upload it waits ``options.uploader.delay(k)`` (fixed by default).
        """
        acc = self._acceptance(queue_id)
        expires = self.local_schedule.expires_at(acc.t)
        attempts, error = 0, None
        while True:
            path = self._entry_path(queue_id)
            try:
                if path is None:
                    raise FileNotFoundError(queue_id)
                with open(path, "rb") as f:
                    _, body = _decode(f.read())
            except FileNotFoundError:
                return  # every disk that held it is gone: disk_loss() has already recorded the copy as lost
            key = blob_key(body)
            trace = await self.store.aput(body, self.clock, key=key)
            del body  # nothing stays in memory between attempts: the spool file is the copy
            attempts += 1
            if trace.outcome == "stored" and await self._confirmed(key):
                self._commit(acc, key, attempts)
                return
            error = trace.error or "blob not visible after PUT"
            now = self.clock.now()
            wait = self.options.uploader.delay(attempts, self.rng)
            if expires is not None and now + wait >= expires:
                await self.clock.sleep(expires - now)
                self._bounce(acc, error, attempts)
                return
            await self.clock.sleep(wait)

    async def _confirmed(self, key: str) -> bool:
        """Whether the PUT is known to be durable: verifyAfterWrite's HEAD said so, or a read-back finds it.

        A spool that deletes on an unverified 200 loses the message to a lost write, so with
        verify off the blob is read back through the same store model (faults apply).
        """
        if self.store.settings["verify"]:
            return True  # aput only says "stored" after a 2xx HEAD (facts §1, verifyAfterWrite)
        return (await self.store.aget(key, self.clock)).outcome == "found"

    def _commit(self, acc: Acceptance, key: str, attempts: int) -> None:
        """The blob is in S3: delete the spool entry (on every node), commit the queue entry, start local delivery."""
        now = self.clock.now()
        self.custody.hold("S3", now, "blob (queue entry, then mailbox)")
        self._remove_everywhere(acc.queue_id)
        self.custody.release(self._spans.pop(acc.queue_id, None), now, "uploaded to S3")
        acc.durable, acc.durable_at = True, now
        self.data_store["queue"][acc.queue_id] = {"blob": key, "due": now}
        self.event("queued", queue_id=f"{acc.queue_id:x}", durable=True, attempts=attempts,
                   spooled_for=round(now - acc.t, 6))
        # the same local delivery as Stalwart's (reads the blob back from S3)
        task = asyncio.ensure_future(self._local_delivery(acc))
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def _bounce(self, acc: Acceptance, error: str, attempts: int) -> None:
        """The queue lifetime ran out with the blob never in S3: tell the author, drop the entry."""
        from .sender import make_dsn

        now = self.clock.now()
        acc.bounced_at = now
        self.dsns.append(make_dsn("failed", now, HOSTNAME, "5.4.7", f"x-local; spool upload failed: {error}",
                                  origin="receiver"))
        self._remove_everywhere(acc.queue_id)
        self.custody.release(self._spans.pop(acc.queue_id, None), now, "bounced")
        self.event("bounce", queue_id=f"{acc.queue_id:x}", reason=error, attempts=attempts)

    # -- faults on the node ------------------------------------------------------------------------
    def crash(self) -> None:
        """The process dies and restarts at once: uploads die with it, then the spool is replayed from disk."""
        super().crash()
        for task in list(self._uploads.values()):
            task.cancel()
        self._uploads.clear()
        # the restarted process knows only what is on disk
        for folder in self.spool_dirs:
            for name in os.listdir(folder):
                if name.endswith(TMP_SUFFIX):
                    os.remove(os.path.join(folder, name))  # a write that never reached its 250
        entries = self.entries()
        for path in entries:
            with open(path, "rb") as f:
                head, _ = _decode(f.read())
            self._start_upload(int(head["queue_id"], 16))
        self.event("spool replay", entries=len(entries))

    def disk_loss(self) -> None:
        """One node's spool folder is gone for good; that node goes on with a fresh, empty disk.

        The k-th disk loss of a run hits node ``(k - 1) mod replicas``.  A copy is lost when no node
        holds it any more: with one disk, every entry; with replicas, only after every node that
        held it has lost its disk (nothing is re-replicated onto a replaced disk).
        """
        now = self.clock.now()
        node = self._disk_losses % len(self.spool_dirs)
        self._disk_losses += 1
        gone = self._names(self.spool_dirs[node])
        shutil.rmtree(self.spool_dirs[node], ignore_errors=True)
        self.spool_dirs[node] = self._new_disk()
        left = set().union(*(self._names(f) for f in self.spool_dirs))
        lost = sorted(int(n[:-len(ENTRY_SUFFIX)], 16) for n in gone - left)
        # an uploader reads its entry from a disk before every attempt: the uploaders of lost entries die too
        for queue_id in lost:
            task = self._uploads.pop(queue_id, None)
            if task is not None:
                task.cancel()
        for queue_id in lost:
            acc = self._acceptance(queue_id)
            if acc is not None:
                acc.lost_at = now
            self.custody.release(self._spans.pop(queue_id, None), now, "disk lost")
        if len(self.spool_dirs) > 1:  # which node, and what its replicas kept (only a replicated spool says)
            self.event("disk-loss", lost=len(lost), node=node, replicas=len(self.spool_dirs),
                       survived=len(gone) - len(lost))
        else:
            self.event("disk-loss", lost=len(lost))
        self.event("spool lost", entries=len(lost), queue_ids=[f"{q:x}" for q in lost])


# -- what the spool costs ----------------------------------------------------------------------------
def _filesystem(path: str) -> str:
    """The filesystem type holding ``path`` (from /proc/mounts; "unknown" elsewhere).  tmpfs makes fsync free."""
    try:
        with open("/proc/mounts") as f:
            mounts = [line.split()[1:3] for line in f]
    except OSError:
        return "unknown"
    real = os.path.realpath(path)
    best, kind = "", "unknown"
    for point, fstype in mounts:
        if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) > len(best):
            best, kind = point, fstype
    return kind


@dataclass(frozen=True)
class FsyncFigures:
    """Measured cost of making one spool entry durable: write + fsync(file) + rename + fsync(directory)."""

    samples: int
    message_bytes: int
    median: float
    p99: float
    mean: float
    directory: str
    filesystem: str

    def __str__(self) -> str:
        from .text import format_bytes

        return (f"{format_bytes(self.message_bytes):>9}  median {self.median * 1e3:7.3f} ms  p99 {self.p99 * 1e3:7.3f} ms  "
                f"({self.samples} entries on {self.filesystem} in {self.directory})")


def fsync_latency(samples: int = 300, message_bytes: int = DEFAULT_MESSAGE_BYTES,
                  directory: Optional[str] = None, replicas: int = 1) -> FsyncFigures:
    """Time :func:`write_entry` (the receiver's own write path) ``samples`` times in a temp dir; median and p99.

    ``replicas`` writes each entry to that many folders one after the other, as the replicated
    spool's receiver does here.  On one machine those folders share one disk, so this is the fsync
    part only; a real cluster writes the replicas in parallel on other machines and adds a network
    round trip per message, which blobedu does not measure.
    """
    if samples < 2:
        raise BlobeduError(f"samples must be 2 or more, got {samples}")
    if message_bytes < 0:
        raise BlobeduError(f"message_bytes must be 0 or more, got {message_bytes}")
    if not isinstance(replicas, int) or not 1 <= replicas <= 9:
        raise BlobeduError(f"replicas must be a whole number from 1 to 9, got {replicas!r}")
    folder = tempfile.mkdtemp(prefix="blobedu-fsync-", dir=directory)
    nodes = [folder] + [tempfile.mkdtemp(dir=folder) for _ in range(replicas - 1)]
    # random bytes, so no filesystem compression or deduplication flatters the figure
    data = os.urandom(message_bytes)
    times: list[float] = []
    try:
        for i in range(samples):
            t0 = time.perf_counter()
            for node in nodes:
                write_entry(node, f"{i:08x}", data)
            times.append(time.perf_counter() - t0)
        return FsyncFigures(samples, message_bytes, statistics.median(times),
                            statistics.quantiles(times, n=100)[98], statistics.fmean(times),
                            os.path.dirname(folder), _filesystem(folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class SpoolGrowth:
    """What piles up in the spool during one outage at a steady message rate (see :func:`spool_growth`)."""

    rate_per_min: float
    outage_seconds: float
    message_bytes: int
    messages: int
    bytes: int
    disk_bytes: int
    fsyncs: int
    upload_attempts: int
    drain_seconds: float


def spool_growth(rate_per_min: float, outage_seconds: float, message_bytes: int = DEFAULT_MESSAGE_BYTES,
                 retry_seconds: float = UPLOAD_RETRY_SECONDS, block_bytes: int = BLOCK_BYTES,
                 uploader: Optional[UploadBackoff] = None, replicas: int = 1) -> SpoolGrowth:
    """The spool when S3 comes back after ``outage_seconds`` of messages arriving at ``rate_per_min``.

    Messages arrive at ``0, g, 2g, ...`` with ``g = 60 / rate_per_min`` and each fails to upload at
    its arrival and every ``retry_seconds`` after, until the outage ends; none leaves the spool
    before that.  ``messages`` is what sits on disk at the end, ``disk_bytes`` the same rounded up
    to whole blocks, ``fsyncs`` the two per message paid before each 250 (file and directory),
    ``upload_attempts`` the failed uploads the outage cost, and ``drain_seconds`` the longest a
    message then waits for its next attempt (the spool is empty that long after S3 returns, if
    uploads are not the bottleneck).  The failed uploads grow with the *square* of the outage,
    because every spooled message keeps its own retry loop, as Stalwart's queue does; a production
    spool would probe S3 with one upload and hold the rest until it succeeds.

    ``uploader`` (an :class:`UploadBackoff` without jitter) replaces the fixed ``retry_seconds``:
    with backoff the attempts grow with the log of the outage per message, and ``drain_seconds`` can
    reach its cap.  ``replicas`` multiplies the disk and the fsyncs (every node holds every entry).
    """
    if rate_per_min <= 0:
        raise BlobeduError(f"rate_per_min must be more than 0, got {rate_per_min}")
    if outage_seconds < 0:
        raise BlobeduError(f"outage_seconds must be 0 or more, got {outage_seconds}")
    if message_bytes < 0:
        raise BlobeduError(f"message_bytes must be 0 or more, got {message_bytes}")
    if retry_seconds <= 0:
        raise BlobeduError(f"retry_seconds must be more than 0, got {retry_seconds}")
    if uploader is not None and (not isinstance(uploader, UploadBackoff) or uploader.check().jitter):
        raise BlobeduError("uploader must be an UploadBackoff without jitter (the figures are for its ceilings)")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or not 1 <= replicas <= 9:
        raise BlobeduError(f"replicas must be a whole number from 1 to 9, got {replicas!r}")
    gap = 60.0 / rate_per_min
    n = math.ceil(outage_seconds / gap - 1e-9) if outage_seconds > 0 else 0
    blocks = math.ceil(message_bytes / block_bytes) if message_bytes else 0
    if uploader is None or uploader.factor == 1 or uploader.first == uploader.cap:
        retry = retry_seconds if uploader is None else uploader.first
        # message k has attempts at t_k + j*retry for every j with that moment inside the outage
        attempts = sum(math.ceil((outage_seconds - k * gap) / retry - 1e-9) for k in range(n))
        drain = min(retry, outage_seconds) if n else 0.0
    else:
        attempts, drain = 0, 0.0
        for k in range(n):
            left = outage_seconds - k * gap  # how long message k meets a dead S3
            tries, t = 0, 0.0
            while t < left - 1e-9:
                tries += 1
                t += uploader.ceiling(tries)
            attempts += tries
            drain = max(drain, t - left)  # its next attempt, after S3 is back
    return SpoolGrowth(rate_per_min, outage_seconds, message_bytes, n, n * message_bytes * replicas,
                       n * blocks * block_bytes * replicas, 2 * n * replicas, attempts, drain)


@dataclass
class SpoolRun:
    """A real run of a few messages through one spooling receiver: spool samples and each message's fate."""

    samples: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    peak_entries: int = 0
    peak_bytes: int = 0


def spool_run(messages: int = 5, interval: float = 60.0, faults: Sequence[str] = ("refused@0-10m",),
              sample_every: float = 30.0, message_bytes: int = 2048) -> SpoolRun:
    """Send ``messages`` real messages ``interval`` s apart through a spooling receiver; sample the real spool folder."""
    if messages < 1:
        raise BlobeduError(f"messages must be 1 or more, got {messages}")
    if interval < 0 or sample_every <= 0:
        raise BlobeduError("interval must be 0 or more and sample_every more than 0 seconds")
    from .clock import LoopClock, run_virtual
    from .endpoint import InProcessEndpoint
    from .schedules import stalwart
    from .sender import SendingMTA, sample_message
    from .store import S3BlobStore, StoreConfig
    from .trace import Custody

    fault_plan = plan(faults)
    # pad the body with short lines: SMTP refuses lines over 1000 octets (RFC 5321 §4.5.3.1.6)
    missing = max(0, message_bytes - len(sample_message()))
    pad = (b"x" * 75 + b"\n") * (missing // 76) + b"x" * (missing % 76)
    bodies = [sample_message(f"Message {i + 1}") + pad for i in range(messages)]
    result = SpoolRun()

    async def journey(endpoint) -> None:
        loop = asyncio.get_running_loop()
        clock = LoopClock(loop, origin=loop.time())
        custody, events = Custody(), []
        store = S3BlobStore(StoreConfig(), endpoint, clock, fault_plan)
        receiver = SpoolingReceiver(store, clock, custody, events, random.Random(0), stalwart(), faults=fault_plan)
        port = await receiver.start()
        for fault in fault_plan.receiver:
            hook = {"crash": receiver.crash, "disk-loss": receiver.disk_loss}.get(fault.kind)
            if hook is not None:
                loop.call_at(clock.origin + fault.start, hook)

        async def send(i: int) -> None:
            await clock.sleep(i * interval)
            sender = SendingMTA(stalwart(), clock, port, custody, events)
            await sender.run(bodies[i])
            result.replies.extend(s.reply for s in sender.sessions)

        senders = asyncio.gather(*(send(i) for i in range(messages)))
        while True:
            entries = receiver.entries()
            size = sum(os.path.getsize(p) for p in entries)
            result.samples.append({"t": round(clock.now(), 6), "entries": len(entries), "bytes": size})
            result.peak_entries = max(result.peak_entries, len(entries))
            result.peak_bytes = max(result.peak_bytes, size)
            if senders.done() and not receiver.inflight and not receiver.background:
                break
            await clock.sleep(sample_every)
        await senders
        await receiver.stop()
        result.accepted = [dict(a.to_dict(), durable_at=a.durable_at) for a in receiver.accepted]

    endpoint = InProcessEndpoint()
    try:
        run_virtual(lambda: journey(endpoint))
    finally:
        endpoint.close()
    return result
