"""The local-disk baseline: Postfix (and chasquid, mox) fsync a local queue file before the 250.

Theory of operation
-------------------
smtpd hands the message to cleanup, which writes the queue file and ``fsync``s it before the queue
file is committed (postfix/src/global/mail_stream.c:296-309@v3.11.6); only then does smtpd answer
``250 2.0.0 Ok: queued as <ID>`` (smtpd.c:3918).  A write failure answers ``451 4.3.0 Error: queue
file write error`` (cleanup_strerror.c:74; smtpd.c:3964-3968); but a *full* disk is caught before
that, at MAIL FROM: ``452 4.3.1 Insufficient system storage`` when the free space is below
``queue_minfree`` or 1.5 × ``message_size_limit`` (smtpd_check.c:5494-5528).  Delivery to the mailbox (Dovecot
LMTP on the same host, ``mail_fsync = optimized``) comes after the 250, and a failure there is
retried from the queue: 300 s first, at most 4000 s apart, for 5 days (mail_params.h:801-812).
chasquid (``queue.Put``: temp file, fsync, rename; internal/queue/queue.go:310-313@v1.18.0) and mox
(fsync, link, fsync the directory, DB commit; store/account.go:2487-2509@v0.0.17) give the same
promise.

No object store is involved: S3 faults do not touch this design.  Its risk is the one disk: the
queue and the mailbox both live on it, so losing that disk loses the message, delivered or not.
blobedu writes the queue file and the mailbox file for real (:func:`blobedu.spool.write_entry`:
tmp file, fsync, rename, fsync the directory) in a temporary folder.
"""

from __future__ import annotations

import random

from .design import Design, Edge, Fact, Ids, Machine, Outcome, one_put

REPLY_OK = "250 2.0.0 Ok: queued as {queue_id}"
REPLY_FAILED = "451 4.3.0 Error: queue file write error"
#: a full queue file system: smtpd_check_queue refuses the MAIL FROM when free space is below
#: queue_minfree or 1.5 × message_size_limit (smtpd_check.c:5494-5528; smtpd.c:2877@v3.11.6)
REPLY_DISK_FULL = "452 4.3.1 Insufficient system storage"
QUEUE_RUN_DELAY = 300.0
MAX_BACKOFF = 4000.0
MAX_QUEUE_LIFETIME = 5 * 86400.0


def put(rng: random.Random) -> Machine:
    """Not used on the inbound path (no object store); kept so every design has a store machine."""
    return one_put()


def reply_ok(ids: Ids) -> str:
    """smtpd's 250 with the queue id (Postfix prints it in upper-case hex)."""
    return REPLY_OK.format(queue_id=f"{ids.queue_id:X}"[:10])


def reply_failed(outcome: Outcome, ids: Ids) -> str:
    """A full disk: ``452 4.3.1`` (Postfix says it at MAIL FROM; blobedu's receivers answer at the dot);
    any other write failure: cleanup's ``451 4.3.0 ... queue file write error``."""
    if outcome is not None and outcome.error == "disk full":
        return REPLY_DISK_FULL
    return REPLY_FAILED


FACTS = (
    Fact("the queue file is fsynced before it is committed, before the 250",
         "postfix/src/global/mail_stream.c:296-309@v3.11.6"),
    Fact("success: 250 2.0.0 Ok: queued as <ID>", "postfix/src/smtpd/smtpd.c:3918@v3.11.6"),
    Fact("a queue-file write error: 451 4.3.0 Error: queue file write error",
         "postfix/src/global/cleanup_strerror.c:74; smtpd/smtpd.c:3964-3968@v3.11.6"),
    Fact("a full disk is refused before DATA: 452 4.3.1 Insufficient system storage at MAIL FROM",
         "postfix/src/smtpd/smtpd_check.c:5494-5528; smtpd.c:2877@v3.11.6"),
    Fact("queue retries: 300 s, at most 4000 s apart, 5 days", "postfix/src/global/mail_params.h:801-812@v3.11.6"),
    Fact("chasquid: temp file, fsync, rename before 250; 451 4.3.0 Failed to queue message: <err>",
         "internal/queue/queue.go:310-313; internal/smtpsrv/conn.go:715-721@chasquid v1.18.0"),
    Fact("mox: fsync, link, fsync dir, DB commit before 250", "store/account.go:2487-2509@mox v0.0.17"),
    Fact("the mailbox (Dovecot LMTP, mail_fsync=optimized) is on the same disk",
         "blobedu's modelling choice for the baseline", "unverified"),
)

DESIGN = Design(
    name="postfix-local", label="Postfix → Dovecot, local disk", version="postfix v3.11.6",
    store="local disk",
    held_meanwhile="cleanup's queue file, fsynced before the reply",
    promise="the message is fsynced to this node's disk (queue, then mailbox)",
    broken_when="that disk is lost: the queue and the mailbox go with it",
    facts=FACTS, put=put, reply_ok=reply_ok, reply_failed=reply_failed,
    edge=Edge(silent=None), local_disk=True, queue_schedule="postfix",
)
