"""Stalwart 0.16.18, the project's baseline: the receiver is :class:`blobedu.receiver.StalwartReceiver`.

This module only names the design beside the others; every rule lives where it always did:
the retry loop in :mod:`blobedu.policy`, the version table in :mod:`blobedu.versions`, the receiver
in :mod:`blobedu.receiver` (shared/stalwart-facts.md is the authority).
"""

from __future__ import annotations

import random

from .. import policy
from ..receiver import REPLY_QUOTA, REPLY_TEMPFAIL
from ..versions import LATEST, behaviour
from .design import Design, Edge, Fact, Ids, Machine, Outcome


def put(rng: random.Random) -> Machine:
    """``put_blob`` at the newest version's defaults (no jitter)."""
    return policy.put(behaviour(LATEST))


def reply_ok(ids: Ids) -> str:
    """The version table's ``queued_reply``."""
    return behaviour(LATEST).queued_reply.format(queue_id=ids.queue_id)


def reply_failed(outcome: Outcome, ids: Ids) -> str:
    """Any failure of ``MessageWrapper::queue``."""
    return REPLY_TEMPFAIL


FACTS = (
    Fact("no spool, WAL or blob cache: reserve, PUT, commit, then the reply", "crates/smtp/src/queue/spool.rs:373@v0.16.18"),
    Fact("any failure: 451 4.3.5 Unable to accept message at this time.", "crates/smtp/src/inbound/data.rs:829@v0.16.18"),
    Fact("5xx only retried, backoff and maxRetries by version", "crates/store/src/backend/s3/mod.rs:137-201@v0.16.18"),
    Fact("a full queue quota: " + REPLY_QUOTA, "shared/stalwart-facts.md §2"),
)

DESIGN = Design(
    name="stalwart", label=f"Stalwart {LATEST}", version=f"v{LATEST}", store="S3",
    held_meanwhile="the SMTP session's memory",
    promise="the blob is in S3 and the queue entry is committed",
    broken_when="S3 loses an acknowledged PUT with verifyAfterWrite off",
    facts=FACTS, put=put, reply_ok=reply_ok, reply_failed=reply_failed,
    edge=Edge(silent=behaviour(LATEST).default_timeout),
)
