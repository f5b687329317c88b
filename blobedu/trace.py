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
