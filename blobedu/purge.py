"""The daily blob purge, and the one race it has with a store loop longer than the 120 s reservation.

Theory of operation
-------------------
``Store::purge_blobs`` (crates/store/src/write/blob.rs@v0.16.18:88-205; the same logic in one loop
over the 256 shards at v0.15.5:121-216) runs per shard, by default daily at 04:00
(``blobCleanupSchedule``, registry structs_impl.rs@v0.16.18:6592-6595; scheduler.rs:213-230).  It
reads the shard's blob keys from the data store once, and ``BlobPurgeState`` (blob.rs:208-296)
decides per hash: a hash is *linked* while it has a document or queue-id link, or a temporary
link (the reservation) whose ``until`` is still in the future (253-288); every other hash is
deleted from S3 with ``delete_blob`` (136-143), then its keys are cleared (145-191).  A failing
DELETE aborts the shard (``?`` at 141); a later run retries it.

``MessageWrapper::queue`` writes the reservation ``until: now + 120`` (spool.rs@v0.16.18:415-426),
PUTs the blob (436-452), and writes the commit batch (555-598): it clears the temporary link and
sets ``BlobLink::Id`` and ``BlobOp::Commit`` **without checking that the reservation still exists**.
The purge, for its part, does not re-read the links before its DELETE.  So when a store loop
outlasts the 120 s, there is a window (facts §5 rev 3, verified: blob.rs@v0.16.18:115-143, 146-191,
263-281; spool.rs@v0.16.18:415-426, 555-598):

* the purge scans the shard after the reservation has lapsed and before the commit: it decides to
  delete the hash;
* if its DELETE reaches S3 *before* the loop's last PUT, nothing is lost: the PUT writes the object
  again.  With verifyAfterWrite (0.16.2 on) a DELETE between a PUT and its HEAD makes the HEAD see
  404, which costs a re-PUT **only while retries are left**; with none left the HEAD's 404 is the
  error "PUT acknowledged with 2xx but object not visible…", the commit never runs and the sender
  gets a 451 (mod.rs@v0.16.18:137-201);
* if its DELETE reaches S3 *after* the loop's last PUT (it deletes the shard's hashes one by one,
  each through the same retry loop, so a slow S3 widens the gap), whether before the commit (the
  sender will get its 250) or after it (the sender has it), the object is gone while the commit
  stands: delivery finds "Blob not found." until the entry expires.

:func:`race` runs that scenario on the real store model (moto, the retry loop, looptime's clock),
with the purge's scan and DELETE at chosen moments.  :func:`purge_decision` is the per-hash rule.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Optional

from .clock import LoopClock, run_virtual
from .receiver import LOCAL_BLOB_NOT_FOUND, RESERVE_SECONDS
from .store import S3BlobStore, StoreConfig, blob_key

SOURCES = {
    "purge": "crates/store/src/write/blob.rs@v0.16.18:88-205 (v0.15.5:121-216)",
    "rule": "crates/store/src/write/blob.rs@v0.16.18:231-288 (BlobPurgeState: expired temporary link = unlinked)",
    "reserve": "crates/smtp/src/queue/spool.rs@v0.16.18:415-426 (BlobLink::Temporary { until: now + 120 })",
    "commit": "crates/smtp/src/queue/spool.rs@v0.16.18:555-598 (clear temporary, set Id and Commit: no check)",
    "schedule": "registry structs_impl.rs@v0.16.18:6592-6595 (blobCleanupSchedule daily 04:00)",
}


@dataclass
class DataStoreLinks:
    """The blob keys of a data store: per hash, its temporary links (until), queue ids, and commit flag."""

    temporary: dict[str, list[float]] = field(default_factory=dict)
    ids: dict[str, list[int]] = field(default_factory=dict)
    committed: set[str] = field(default_factory=set)

    def reserve(self, key: str, until: float) -> None:
        """``BlobLink::Temporary { until }``."""
        self.temporary.setdefault(key, []).append(until)

    def commit(self, key: str, until: float, queue_id: int) -> None:
        """The commit batch: clear the reservation, link the queue entry, mark the blob committed."""
        if until in self.temporary.get(key, []):
            self.temporary[key].remove(until)
        self.ids.setdefault(key, []).append(queue_id)
        self.committed.add(key)

    def hashes(self) -> set[str]:
        """Every hash with a key in the data store."""
        return set(self.temporary) | set(self.ids) | self.committed


def purge_decision(links: DataStoreLinks, now: float) -> list[str]:
    """The hashes one purge run deletes from S3: no queue/document link and no unexpired reservation."""
    doomed = []
    for key in sorted(links.hashes()):
        linked = bool(links.ids.get(key)) or any(until > now for until in links.temporary.get(key, []))
        if not linked:
            doomed.append(key)
    return doomed


def sweep(links: DataStoreLinks, store, now: float) -> list[str]:
    """One purge run over ``links`` at ``now``: DELETE each unlinked hash through ``store`` (blob.rs:136-143).

    Returns the keys deleted.  A failing DELETE stops the run there, as the ``?`` at blob.rs:141 does;
    the keys stay for the next run.
    """
    deleted = []
    for key in purge_decision(links, now):
        trace = store.delete(key)
        if trace.outcome == "failed":
            break
        links.temporary.pop(key, None)
        links.committed.discard(key)
        deleted.append(key)
    return deleted


@dataclass
class RaceResult:
    """What happened: each step with its time, and whether the committed message can still be read."""

    steps: list[tuple[float, str]]
    put_done: float
    final_put_at: float
    delete_at: Optional[float]
    committed: bool
    readable: bool
    local_delivery: str

    def lines(self) -> list[str]:
        """The steps as text lines."""
        from .durations import format_duration

        return [f"{format_duration(t):>8}  {what}" for t, what in self.steps]


async def _race(config: StoreConfig, faults: list[str], purge_scan: float, delete_at: float,
                message: bytes) -> RaceResult:
    from .endpoint import InProcessEndpoint

    loop = asyncio.get_running_loop()
    clock = LoopClock(loop, origin=loop.time())
    endpoint = InProcessEndpoint()
    try:
        store = S3BlobStore(config, endpoint, clock, faults)
        key = blob_key(message)
        links = DataStoreLinks()
        steps: list[tuple[float, str]] = []
        until = clock.now() + RESERVE_SECONDS
        links.reserve(key, until)
        steps.append((clock.now(), f"receiver reserves the blob until {until:g}s (BlobLink::Temporary)"))
        purge: dict[str, Any] = {}

        async def purger() -> None:
            await clock.sleep(purge_scan - clock.now())
            doomed = purge_decision(links, clock.now())
            purge["doomed"] = key in doomed
            steps.append((clock.now(), "purge reads the shard: the reservation has expired and there is no commit, "
                          "so the hash is unlinked" if key in doomed else "purge reads the shard: the hash is linked"))
            if key in doomed:
                await clock.sleep(max(0.0, delete_at - clock.now()))
                there = endpoint.exists(key)  # read off moto, not a Stalwart request
                trace = await store.adelete(key, clock)
                purge["delete_at"] = trace.requests[0].t if trace.requests else clock.now()
                steps.append((purge["delete_at"], f"purge sends DELETE for the hash: {trace.outcome}, "
                              + ("and the object that was in S3 is gone" if there and trace.outcome == "deleted"
                                 else "but no object was there yet")))

        purge_task = asyncio.ensure_future(purger())
        put = await store.aput(message, clock, key=key)
        final_put = max((r.t for r in put.requests if r.method == "PUT"), default=0.0)
        steps.append((final_put, f"the last PUT lands (PUT loop: {len(put.requests)} requests, {put.outcome})"))
        committed = put.outcome == "stored"
        if committed:
            links.commit(key, until, 1)
            steps.append((clock.now(), "commit batch: queue entry, BlobLink::Id, BlobOp::Commit; the sender gets 250"))
        else:
            steps.append((clock.now(), f"the PUT failed ({put.error}): 451, nothing is committed"))
        await purge_task
        readable, local = False, "none: nothing was queued"
        if committed:
            read = await store.aget(key, clock)
            readable = read.outcome == "found"
            local = "delivered" if readable else LOCAL_BLOB_NOT_FOUND
            steps.append((clock.now(), f"local delivery reads the blob: {read.outcome}"
                          + ("" if readable else f" -> '{LOCAL_BLOB_NOT_FOUND}', retried until the entry expires")))
        steps.sort(key=lambda s: s[0])
        return RaceResult(steps, put.ended, final_put, purge.get("delete_at"), committed, readable, local)
    finally:
        endpoint.close()


def race(purge_scan: float = 125.0, delete_at: float = 130.0, faults: Optional[list[str]] = None,
         config: Optional[StoreConfig] = None, message: bytes = b"Subject: race\r\n\r\nbody\r\n") -> RaceResult:
    """A store loop past the reservation, a purge scan at ``purge_scan`` and its DELETE at ``delete_at``.

    The default is maxRetries 10 against a 503 storm for the first 2 minutes: the PUT lands at 127 s,
    7 s after its reservation expired.  ``delete_at`` before 127 s is harmless; after it, the blob is lost.
    """
    config = config or StoreConfig(max_retries=10)
    faults = ["503@0-2m"] if faults is None else faults
    return run_virtual(lambda: _race(config, faults, purge_scan, delete_at, message))
