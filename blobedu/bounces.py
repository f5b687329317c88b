"""A Stalwart server's own DSNs are queued through the same blob-store write, and its result is ignored.

Theory of operation
-------------------
When a Stalwart queue gives up on a message (or a delay warning falls due), ``send_dsn`` builds the
DSN and hands it to ``MessageWrapper::queue``, the very function an inbound message goes through:
reserve in the data store, ``put_blob`` to S3, commit (crates/smtp/src/queue/dsn.rs@v0.16.18:34-68,
``dsn_message.queue(...).await;`` at 54-59).  ``queue`` returns a ``bool``; ``send_dsn`` drops it
and moves the notify time on (``update_next_dsn``, line 67), and after a final bounce the original
message is removed from the queue (outbound/delivery.rs@v0.16.18:158-174).  So:

* the DSN write fails (S3 unreachable, a 5xx storm past the retries): the DSN is **dropped**, only
  logged (``Failed to write blob.``, spool.rs@v0.16.18:436-451), and the author is never told;
* the DSN write "succeeds" on a store that loses writes with no verifyAfterWrite (every version
  before 0.16.2, where it first appears, commit 3e07a0f; or verify off): the DSN is
  queued but its blob is not in S3.  Delivering it reads the blob back (client.rs@v0.16.18:171-262):
  a missing blob is "Queue system error.", retried until the DSN expires; a DSN has an empty return
  path, so its own failure sends nothing (``handle_double_bounce``, dsn.rs@v0.16.18:394-423).  The
  author is never told either.  Its later delivery attempts are not simulated: a blob that never
  reached S3 cannot be read back at any later time;
* otherwise the DSN is queued, and its delivery is the ordinary one.

This module writes that decision once, for a sending Stalwart (its own store) and for a receiving
one (the store that accepted the message).  Postfix and Exim keep their queues on local disk and are
not modelled here.  No SMTP, no scheduling.
"""

from __future__ import annotations

from typing import Any

#: What became of a DSN, by the outcome of its queue write: (queued, fate text).
FATES = {
    "queued": (True, "queued for the author"),
    "dropped": (False, "dropped: the {who}'s own blob store was down, queue() failed and send_dsn ignores it"),
    "unreadable": (True, "unreadable: its blob was lost (a write the store did not keep), so delivering it finds "
                         "no blob ('Queue system error.') until it expires, and a DSN's failure sends nothing"),
    "stuck": (False, "stuck: the DSN's blob write still hung when the run ended"),
}


def dsn_fate(store_outcome: str, durable: bool | None) -> str:
    """The key of :data:`FATES` for a DSN whose queue write ended in ``store_outcome``."""
    if store_outcome == "hung":
        return "stuck"
    if store_outcome != "stored":
        return "dropped"
    return "queued" if durable else "unreadable"


async def queue_dsn(dsn: dict[str, Any], store, clock, who: str) -> dict[str, Any]:
    """Queue ``dsn`` (a :func:`~blobedu.sender.make_dsn` dict) through ``store`` as ``MessageWrapper::queue`` does.

    The result is recorded on the DSN (``queued``, ``fate``, ``store_outcome``) and otherwise ignored,
    as ``send_dsn`` ignores it.  ``who`` is ``"sender"`` or ``"receiver"``.
    """
    def datastore_fails(step: str) -> bool:
        return store.faults.datastore_fails_at(clock.now() - store.origin, step)

    if datastore_fails("reserve"):  # the reservation fails before S3 is touched
        outcome, durable, error = "failed", None, "data store write failed (reserve)"
    else:
        trace = await store.aput(dsn["text"].encode(), clock)
        outcome, durable, error = trace.outcome, trace.durable, trace.error
        if outcome == "stored" and datastore_fails("commit"):
            outcome, error = "failed", "data store write failed (commit)"
    key = dsn_fate(outcome, durable)
    queued, fate = FATES[key]
    if error and error.startswith("data store"):
        fate = fate.replace("blob store was down", "data store was down")
    dsn.update(queued=queued, fate=fate.format(who=who), fate_kind=key, store_outcome=outcome, store_error=error)
    return dsn


def told(dsn: dict[str, Any]) -> bool:
    """True when this DSN can reach the author (it was queued and its blob is readable)."""
    return dsn.get("fate_kind", "queued") == "queued"
