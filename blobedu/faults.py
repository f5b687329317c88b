"""Fault specs (``503@0-1h``, ``refused@30m``, ``crash@30m``) and which fault a request meets.

A spec is ``KIND@START[-END]``.  START and END are durations on the clock (``7``, ``7s``, ``2m``,
``1h``, ``3d``) counted from the first request.  With no END an S3 fault lasts forever; the window
is half-open, ``[START, END)``.  Several faults can be active at once: a request meets the one
listed *last* among those whose window contains the moment it is sent, so a later ``--fault``
overlays an earlier one.

S3 faults are met at the request edge (:mod:`blobedu.endpoint`); receiver faults are events for
the receivers (:mod:`blobedu.spool`); data-store faults are met by the Stalwart receiver's two
data-store writes around the PUT (reserve, then commit: facts §5 "write order").  Nothing here
talks to moto.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

from .durations import format_duration, parse_duration
from .errors import BlobeduError

#: What the S3 endpoint can do wrong.
S3_KINDS = {
    "refused": "TCP connection refused (S3 down or unreachable)",
    "timeout": "the socket never answers; the request costs the whole timeout",
    "lost-write": "PUT answers 200 but the object is not kept",
    "500": "HTTP 500 Internal Error",
    "503": "HTTP 503 Slow Down / Service Unavailable",
    "429": "HTTP 429 Too Many Requests",
    "403": "HTTP 403 Forbidden",
}
#: What can happen to the receiving node itself.
RECEIVER_KINDS = {
    "crash": "the receiver process dies and restarts at once; its disk survives (a moment: crash@T)",
    "disk-loss": "the receiver's local disk is gone for good (a moment: disk-loss@T)",
    "disk-full": "local writes fail with ENOSPC during the window (disk-full@START-END)",
}
#: What the receiving Stalwart's *data store* (the database that holds queue entries and blob links,
#: not S3) can do wrong.  ``MessageWrapper::queue`` writes it twice: the reservation before the PUT
#: and the commit batch after it (crates/smtp/src/queue/spool.rs@v0.16.18:415-435 and 555-598).
DATASTORE_KINDS = {
    "datastore-down": "every data-store write fails in the window: the reservation (before S3) and the commit",
    "commit-fail": "only the final commit batch fails in the window (after a good PUT: an orphan object)",
}
_POINT_KINDS = {"crash", "disk-loss"}
_SPEC = re.compile(r"^(?P<kind>[a-z0-9-]+)@(?P<start>[^-]+)(?:-(?P<end>.+))?$")


def allowed() -> str:
    """One line naming every fault kind, for error messages and --help."""
    return ", ".join(list(S3_KINDS) + ["any HTTP status 400-599"] + list(RECEIVER_KINDS) + list(DATASTORE_KINDS))


@dataclass(frozen=True)
class Fault:
    """One fault over a window ``[start, end)`` of clock seconds; ``end`` None means forever."""

    kind: str
    start: float
    end: Optional[float] = None

    @property
    def status(self) -> Optional[int]:
        """The HTTP status this fault answers with, or None for refused/timeout/lost-write."""
        return int(self.kind) if self.kind.isdigit() else None

    @property
    def is_s3(self) -> bool:
        """True for faults met at the S3 request edge."""
        return self.kind not in RECEIVER_KINDS and self.kind not in DATASTORE_KINDS

    @property
    def is_datastore(self) -> bool:
        """True for faults met by the receiver's data-store writes (reserve, commit)."""
        return self.kind in DATASTORE_KINDS

    def active(self, t: float) -> bool:
        """True when a request sent at ``t`` meets this fault."""
        return self.start <= t and (self.end is None or t < self.end)

    def spec(self) -> str:
        """The spec text this fault parses from (it parses back to this very fault)."""
        if self.end is None:
            return f"{self.kind}@{_exact(self.start)}"
        return f"{self.kind}@{_exact(self.start)}-{_exact(self.end)}"


def _exact(seconds: float) -> str:
    """``format_duration`` where it parses back to the same value (``30m``, ``1h``), else plain seconds.

    ``format_duration`` rounds for people: 100,921 s prints as ``1d04h``, which is neither exact nor
    a duration the parser takes (found by the hazard atlas, whose windows end on any second).
    """
    text = format_duration(seconds)
    try:
        if parse_duration(text) == seconds:
            return text
    except BlobeduError:
        pass
    return f"{seconds:.6f}".rstrip("0").rstrip(".") + "s"


def parse(spec: str) -> Fault:
    """Parse one ``KIND@START[-END]`` spec into a :class:`Fault`."""
    text = str(spec).strip().lower()
    match = _SPEC.match(text)
    if not match:
        raise BlobeduError(f"bad fault {spec!r}: write KIND@START[-END], e.g. 503@0-5, refused@30m-2h, crash@30m")
    kind = match.group("kind")
    if kind not in S3_KINDS and kind not in RECEIVER_KINDS and kind not in DATASTORE_KINDS:
        if not (kind.isdigit() and 400 <= int(kind) <= 599):
            raise BlobeduError(f"bad fault {spec!r}: unknown kind {kind!r}; allowed: {allowed()}")
    try:
        start = parse_duration(match.group("start"))
        end = parse_duration(match.group("end")) if match.group("end") else None
    except BlobeduError as exc:
        raise BlobeduError(f"bad fault {spec!r}: {exc}") from None
    if kind in _POINT_KINDS and end is not None:
        raise BlobeduError(f"bad fault {spec!r}: {kind} happens at one moment, write {kind}@T")
    if kind == "disk-full" and end is None:
        pass  # a disk that stays full is allowed: the window lasts forever
    if end is not None and end <= start:
        raise BlobeduError(f"bad fault {spec!r}: END must be after START")
    return Fault(kind, start, end)


class FaultPlan:
    """All faults of one scenario; answers which S3 fault a request sent at ``t`` meets."""

    def __init__(self, faults: Iterable[Fault | str] = ()) -> None:
        self.faults: tuple[Fault, ...] = tuple(f if isinstance(f, Fault) else parse(f) for f in faults)

    @property
    def s3(self) -> tuple[Fault, ...]:
        """The faults met at the S3 edge, in the order given."""
        return tuple(f for f in self.faults if f.is_s3)

    @property
    def receiver(self) -> tuple[Fault, ...]:
        """The faults on the receiving node (crash, disk-loss, disk-full; datastore-down, commit-fail), in order."""
        return tuple(f for f in self.faults if not f.is_s3)

    @property
    def datastore(self) -> tuple[Fault, ...]:
        """The data-store faults (datastore-down, commit-fail), in the order given."""
        return tuple(f for f in self.faults if f.is_datastore)

    def s3_fault_at(self, t: float) -> Optional[Fault]:
        """The S3 fault a request sent at ``t`` meets: the last listed whose window holds ``t``."""
        hit = None
        for fault in self.s3:
            if fault.active(t):
                hit = fault
        return hit

    def datastore_fails_at(self, t: float, step: str) -> bool:
        """True when the receiver's data-store write ``step`` ("reserve" or "commit") at ``t`` fails."""
        kinds = {"datastore-down"} if step == "reserve" else {"datastore-down", "commit-fail"}
        return any(f.kind in kinds and f.active(t) for f in self.faults)

    def disk_full_at(self, t: float) -> bool:
        """True when a local write at ``t`` fails with ENOSPC."""
        return any(f.kind == "disk-full" and f.active(t) for f in self.faults)

    def last_s3_change(self) -> float:
        """The last moment the S3 state changes (0 when it never does); forever-faults count their start."""
        edges = [0.0]
        for f in self.s3:
            edges.append(f.start if f.end is None else f.end)
        return max(edges)

    def specs(self) -> list[str]:
        """The faults as spec strings."""
        return [f.spec() for f in self.faults]

    def require_s3_only(self, command: str) -> None:
        """Refuse receiver faults where only the S3 edge exists (``blobedu put``)."""
        if self.receiver:
            kinds = ", ".join(sorted({f.kind for f in self.receiver}))
            raise BlobeduError(f"{command} has no receiver and no data store, so {kinds} cannot apply; "
                               "use blobedu deliver")


def plan(specs: Sequence[str | Fault] | FaultPlan | None) -> FaultPlan:
    """Accept a FaultPlan, a list of specs or Faults, or None."""
    if isinstance(specs, FaultPlan):
        return specs
    return FaultPlan(specs or ())
