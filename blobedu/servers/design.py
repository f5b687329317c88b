"""What every receiver design in :mod:`blobedu.servers` is made of: cited facts, a retry loop, replies.

A :class:`Design` is data plus three pure functions; nothing here does I/O or reads a clock:

* ``put(rng)`` — the design's store write as a :data:`blobedu.policy.Machine`: a generator of
  :class:`~blobedu.policy.Send` and :class:`~blobedu.policy.Sleep` steps that receives a
  :class:`~blobedu.policy.Reply` for every send and returns an :class:`~blobedu.policy.Outcome`.
  The same kind of machine Stalwart's :func:`blobedu.policy.put` is, so the same driver
  (:class:`blobedu.servers.store.DesignStore`) runs it against moto.  Randomness (jitter) comes in
  as ``rng``, seeded by the caller.
* ``reply_ok(ids)`` / ``reply_failed(outcome, ids)`` — the SMTP (or LMTP) reply to the final dot.
* the :class:`Edge` — what one store request costs on the clock: a refused connect, a silent store.

Each fact a design uses is a :class:`Fact` with its source at a tag, and one of four grades:
``code`` (read in the source at the tag), ``docs`` (documentation only: Dovecot Pro is closed
source), ``experiment`` (the fact sheet's harness ran it) or ``unverified`` (the fact sheet, or
blobedu, says it is not confirmed).  The notebooks print these tables.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Optional

from ..policy import Machine, Outcome, Reply, Send, Sleep

GRADES = ("code", "docs", "experiment", "unverified")


@dataclass(frozen=True)
class Fact:
    """One behaviour a design model uses, with where it comes from and how sure it is."""

    what: str
    source: str
    grade: str = "code"

    def __post_init__(self) -> None:
        if self.grade not in GRADES:
            raise ValueError(f"grade must be one of {GRADES}, got {self.grade!r}")


@dataclass(frozen=True)
class Edge:
    """What one request to the design's store costs, on the clock.

    ``silent``: seconds a request to a store that never answers takes before the client gives up;
    None means it never gives up (it hangs until the store's window ends, then the connection is
    reset).  ``refused``: seconds a refused connect costs (0 for TCP; a MongoDB driver instead waits
    ``serverSelectionTimeoutMS`` for a server to appear).
    """

    silent: Optional[float]
    refused: float = 0.0


@dataclass(frozen=True)
class Ids:
    """The identifiers a reply names (queue id, message id, Haraka uuid), drawn by the driver's seeded rng."""

    queue_id: int
    when: float = 0.0  # seconds on the run's clock, for replies that print a time stamp

    @property
    def hex(self) -> str:
        """The queue id in hex, as most servers print it."""
        return f"{self.queue_id:x}"


@dataclass(frozen=True)
class Design:
    """One receiver design: its facts, store write, replies, and what its 250 promises."""

    name: str
    label: str
    version: str
    store: str  # "S3", "two S3 stores", "MongoDB", "local disk (object store for big messages)", "local disk"
    held_meanwhile: str  # where the copy lives between the final dot and the reply
    promise: str  # what the 250 promises
    broken_when: str  # how that promise breaks
    facts: tuple[Fact, ...]
    put: Callable[[random.Random], Machine]
    reply_ok: Callable[[Ids], str]
    reply_failed: Callable[[Outcome, Ids], str]
    edge: Edge
    local_disk: bool = False  # the message is fsynced to the node's own disk before the 250
    queue_schedule: Optional[str] = None  # a local queue's retry rule, if the design has one
    notes: tuple[str, ...] = field(default=())

    def facts_table(self) -> list[dict[str, str]]:
        """The facts as rows (what, source, grade), for a notebook table."""
        return [{"design": self.name, "what": f.what, "source": f.source, "grade": f.grade} for f in self.facts]

    def reply_class(self, reply: str) -> str:
        """``accepted``, ``deferred`` (4xx: the sender keeps it) or ``bounced`` (5xx: the sender gives up)."""
        return {"2": "accepted", "4": "deferred", "5": "bounced"}.get(reply[:1], "unknown")


@dataclass(frozen=True)
class SendDrained(Send):
    """Step: send the request again with a body reader that earlier attempts already drained.

    minio-go rewinds a body only if it is a real ``io.Seeker``; maddy's is an ``io.Pipe``, whose
    "seek" is a no-op (hook-reader.go:36-67@minio-go v7.0.84), so every retry after the body was
    read sends the headers and 0 bytes, and Go's HTTP client fails it on the spot:
    ``http: ContentLength=N with Body length 0``.  S3 gets a truncated upload and keeps nothing,
    so the driver does not send it to moto: only a refused connect still reaches the client.
    """


def drained_reply(fault_kind: Optional[str]) -> Reply:
    """What a :class:`SendDrained` step gets: ``refused`` when the connect is refused, else the client's
    own failure (``drained``), whatever S3 would answer; a pure rule any driver (moto's, a fleet's) shares."""
    return Reply(error="refused") if fault_kind == "refused" else Reply(error="drained")


def one_put() -> Machine:
    """A single PUT with no retry loop: success on 2xx, failure otherwise (used by local-disk designs' object tier)."""
    reply = yield Send("PUT")
    assert reply is not None
    if reply.error:
        return Outcome(False, f"object store: {reply.error}")
    if 200 <= int(reply.status or 0) <= 299:
        return Outcome(True)
    return Outcome(False, f"object store: HTTP {reply.status}")


def transport(reply: Reply) -> bool:
    """True when the request got no HTTP answer (refused, timed out, hung and reset)."""
    return reply.error is not None


__all__ = ["Design", "Edge", "Fact", "GRADES", "Ids", "Machine", "Outcome", "Reply", "Send", "SendDrained", "Sleep",
           "drained_reply", "one_put", "transport"]
