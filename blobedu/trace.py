"""Trace records: what happened, as plain JSON-serialisable data. Views read these; nothing here decides."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Union


@dataclass
class RequestRecord:
    """One S3 request: when it was sent, what it was, what came back and how long it took."""

    t: float
    method: str
    result: Union[int, str]
    duration: float
    fault: Optional[str] = None


@dataclass
class SleepRecord:
    """One wait inside the store: Stalwart's ``backoff`` or rust-s3's ``transport-retry``."""

    t: float
    seconds: float
    reason: str


@dataclass
class StoreTrace:
    """Everything one blob operation did, and whether the blob is really in S3 afterwards."""

    operation: str
    version: str
    config: dict[str, Any]
    faults: list[str]
    key: str
    requests: list[RequestRecord] = field(default_factory=list)
    sleeps: list[SleepRecord] = field(default_factory=list)
    outcome: str = ""
    error: Optional[str] = None
    started: float = 0.0
    ended: float = 0.0
    durable: Optional[bool] = None

    @property
    def elapsed(self) -> float:
        """Seconds from the first request to the outcome."""
        return round(self.ended - self.started, 6)

    def timeline(self) -> list[dict[str, Any]]:
        """Requests and sleeps merged in time order, each a dict with a ``type``."""
        items = [dict(type="request", **asdict(r)) for r in self.requests]
        items += [dict(type="sleep", **asdict(s)) for s in self.sleeps]
        return sorted(items, key=lambda e: (e["t"], e["type"] == "sleep"))

    def to_dict(self) -> dict[str, Any]:
        """The trace as a JSON-ready dict (the CLI's ``--json`` object)."""
        return {
            "operation": self.operation,
            "version": self.version,
            "config": self.config,
            "faults": self.faults,
            "key": self.key,
            "outcome": self.outcome,
            "error": self.error,
            "started": round(self.started, 6),
            "elapsed": self.elapsed,
            "requests": [
                {"t": round(r.t, 6), "method": r.method, "result": r.result,
                 "duration": round(r.duration, 6), "fault": r.fault}
                for r in self.requests
            ],
            "sleeps": [{"t": round(s.t, 6), "seconds": s.seconds, "reason": s.reason} for s in self.sleeps],
            "durable": self.durable,
        }

    def to_json(self, **kwargs: Any) -> str:
        """The trace as JSON text."""
        return json.dumps(self.to_dict(), **kwargs)


HOLDERS = ("sender queue", "receiver memory", "spool", "S3")


@dataclass
class CustodySpan:
    """One copy of the message held by ``holder`` from ``start`` until ``end`` (None: still held)."""

    holder: str
    start: float
    end: Optional[float] = None
    note: str = ""


class Custody:
    """Where copies of the message live, over time: the custody timeline."""

    def __init__(self) -> None:
        self.spans: list[CustodySpan] = []

    def hold(self, holder: str, t: float, note: str = "") -> CustodySpan:
        """``holder`` gets a copy at ``t``."""
        span = CustodySpan(holder, t, None, note)
        self.spans.append(span)
        return span

    def release(self, span: Optional[CustodySpan], t: float, note: str = "") -> None:
        """The copy in ``span`` is gone at ``t``."""
        if span is not None and span.end is None:
            span.end = t
            if note:
                span.note = f"{span.note}; {note}" if span.note else note

    def holders_at(self, t: float) -> list[str]:
        """Who holds a copy at ``t``."""
        return sorted({s.holder for s in self.spans if s.start <= t and (s.end is None or t < s.end)})

    def durable_holders_at(self, t: float) -> list[str]:
        """Holders at ``t`` whose copy survives a receiver crash (everything but receiver memory)."""
        return [h for h in self.holders_at(t) if h != "receiver memory"]

    def to_list(self) -> list[dict[str, Any]]:
        """The timeline as JSON-ready dicts ``{holder, from, to, note}``."""
        return [{"holder": s.holder, "from": round(s.start, 6), "to": None if s.end is None else round(s.end, 6),
                 "note": s.note} for s in self.spans]


@dataclass
class SessionRecord:
    """One SMTP delivery attempt as the sender saw it, and what the receiver did with it."""

    t: float
    reply: str
    ended: float
    receiver_reply: Optional[str] = None
    receiver_replied_at: Optional[float] = None
    store: Optional[dict[str, Any]] = None
    durable_at_reply: Optional[bool] = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"t": round(self.t, 6), "reply": self.reply, "ended": round(self.ended, 6),
                "receiver_reply": self.receiver_reply,
                "receiver_replied_at": None if self.receiver_replied_at is None else round(self.receiver_replied_at, 6),
                "durable_at_reply": self.durable_at_reply, "store": self.store}


@dataclass
class DeliveryTrace:
    """Everything one message's journey did: sessions, copies accepted, local delivery, DSNs, custody."""

    config: dict[str, Any]
    fate: str = ""
    sessions: list[SessionRecord] = field(default_factory=list)
    delivered_at: Optional[float] = None
    mailbox_at: Optional[float] = None
    copies: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)
    local: list[dict[str, Any]] = field(default_factory=list)
    dsns: list[dict[str, Any]] = field(default_factory=list)
    custody: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    ended: float = 0.0
    wall_seconds: float = 0.0
    author_told: Optional[bool] = None  # not delivered: whether a bounce can reach the author

    def to_dict(self) -> dict[str, Any]:
        """The trace as a JSON-ready dict (the CLI's ``deliver --json`` object)."""
        return {
            "config": self.config,
            "fate": self.fate,
            "delivered_at": None if self.delivered_at is None else round(self.delivered_at, 6),
            "mailbox_at": None if self.mailbox_at is None else round(self.mailbox_at, 6),
            "copies": self.copies,
            "sessions": [s.to_dict() for s in self.sessions],
            "accepted": self.accepted,
            "local": self.local,
            "dsns": self.dsns,
            "custody": self.custody,
            "events": self.events,
            "ended": round(self.ended, 6),
            "author_told": self.author_told,
        }

    def to_json(self, **kwargs: Any) -> str:
        """The trace as JSON text."""
        return json.dumps(self.to_dict(), **kwargs)
