"""The write-ahead spool contrast (not a real server): the receiver is :class:`blobedu.spool.SpoolingReceiver`."""

from __future__ import annotations

import random

from ..receiver import REPLY_QUOTA
from .design import Design, Edge, Fact, Ids, Machine, Outcome
from . import stalwart


def put(rng: random.Random) -> Machine:
    """The uploader runs Stalwart's own ``put_blob`` (blobedu.spool)."""
    return stalwart.put(rng)


def reply_failed(outcome: Outcome, ids: Ids) -> str:
    """A spool that cannot be written answers the quota reply: the sender keeps the message."""
    return REPLY_QUOTA


FACTS = (
    Fact("fsync the spool file and its directory, answer 250, upload in the background", "blobedu/spool.py (a contrast)",
         "unverified"),
)

DESIGN = Design(
    name="wal", label="write-ahead spool (blobedu's contrast)", version="-", store="local disk, then S3",
    held_meanwhile="a spool file, fsynced before the reply",
    promise="the message is on one local disk until the upload to S3 succeeds",
    broken_when="that disk is lost during an S3 outage",
    facts=FACTS, put=put, reply_ok=stalwart.reply_ok, reply_failed=reply_failed,
    edge=stalwart.DESIGN.edge, local_disk=True,
)
