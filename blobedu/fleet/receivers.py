"""The receiving side: Stalwart's final dot and local delivery, the write-ahead spool for contrast, node faults."""

from __future__ import annotations

from typing import Optional

from .. import policy
from ..faults import Fault
from . import designs
from .config import REPLY_QUOTA, REPLY_TEMPFAIL, UPLOAD_RETRY_SECONDS
from .kernel import _Proc
from .results import Copy, Message, Session
from .s3 import _Blob, _HungForever

class Receivers:
    """Mixin of :class:`~blobedu.fleet.engine.Fleet`: the receiver's processes and the faults on its node."""

    def _final_dot(self, m: Message, s: Session) -> None:
        if self.config.receiver == "wal":
            self._wal_dot(m, s)
        elif self.config.receiver != "stalwart":
            designs.final_dot(self, m, s)  # the other servers' designs (blobedu.servers), in .designs
        else:
            proc = self._start(lambda p: self._stalwart_dot(m, s, p))
            if proc.alive:
                self._dots[proc] = (m, s)

    def _stalwart_dot(self, m: Message, s: Session, proc: _Proc):
        """MessageWrapper::queue: reserve, put_blob through the retry loop, commit; 250, or 451 4.3.5 on any failure."""
        if self.faults.datastore_fails_at(self.now, "reserve"):  # before S3 is touched
            self._session_closed()
            self._reply(s, REPLY_TEMPFAIL)
            return
        m.open_dots += 1
        self.memory_log.add(self.now, 1)
        # each attempt stores a different blob: a fresh Received header (queue id, date) is hashed with
        # the body (inbound/data.rs:485-495, queue/spool.rs:394-406@v0.16.18; facts §5)
        blob = _Blob()
        try:
            outcome = yield from self._s3(blob, policy.put(self.behaviour, self.max_retries, self.verify))
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
            copy.blob = blob
            if blob.in_s3:
                copy.durable_at = copy.t
                m.in_s3 = True
            m.copies.append(copy)
            self._start(lambda p: self._local(m, copy))
            self._reply(s, self.queued_reply.format(queue_id=next(self._queue_ids)))
        else:
            self._reply(s, REPLY_TEMPFAIL)

    def _end_dot(self, m: Message, proc: Optional[_Proc]) -> None:
        """A final-dot store loop is over: its body leaves memory."""
        m.open_dots -= 1
        self.memory_log.add(self.now, -1)
        self._session_closed()  # the session task ends with its store loop, whether the sender waited or not
        if proc is not None:
            self._dots.pop(proc, None)

    def _session_closed(self) -> None:
        self.open_sessions -= 1
        self.sessions_log.add(self.now, -1)

    def _wal_dot(self, m: Message, s: Session) -> None:
        """The spool: 452 on a full disk, else fsync, 250, and an upload in the background."""
        self._session_closed()
        if self.faults.disk_full_at(self.now):
            self._reply(s, REPLY_QUOTA)
            return
        copy = Copy(self.now)
        copy.blob = _Blob()  # this accepted copy's own object (its Received header makes it unique)
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
                    outcome = yield from self._s3(copy.blob, policy.put(self.behaviour, self.max_retries, self.verify))
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
                        got = yield from self._s3(copy.blob, policy.get(self.behaviour, self.max_retries))
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
                outcome = yield from self._s3(copy.blob, policy.get(self.behaviour, self.max_retries))
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
        for proc, (m, s) in list(self._connecting.items()):  # sessions still sending their body
            del self._connecting[proc]
            self._session_closed()
            ended.append((m, s))
        for m, s in ended:
            if s.reply is None and self.now < s.deadline:
                s.reply, s.ended = "dropped", self.now
                if s.waiting is not None:
                    self._wake(s.waiting)
        for proc in list(self._uploads):
            self._kill(proc)
        self._end_hung_uploads()
        for m in self.messages:  # the restarted node replays what is on its disk
            for copy in m.copy_objects:
                if copy.in_spool:
                    self._start_upload(m, copy)

    def _disk_loss(self) -> None:
        """The local disk is gone: every spooled copy is lost (Stalwart keeps nothing there), and a design's local copies."""
        designs.disk_loss(self)
        for proc in list(self._uploads):
            self._kill(proc)
        self._end_hung_uploads()
        for m in self.messages:
            for copy in m.copy_objects:
                if copy.in_spool:
                    copy.lost_at = self.now
                    self._leave_spool(copy)

