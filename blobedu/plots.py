"""Timelines of what blobedu ran, drawn in lanes, in one visual language for every notebook.

Theory of operation
-------------------
Every plot is made in two steps.  A ``*_lanes`` function reads a trace (never runs anything) and
returns a :class:`Timeline`: plain data, lanes of bars ``(start, end, label)`` and marks
``(t, label)``, the outage windows and the time axis it chose.  :func:`draw` turns any Timeline
into a matplotlib Figure.  Tests assert the Timeline; people look at the Figure; both show the
same thing because the Figure is drawn from nothing else.  Only two functions here run the model,
and their names say so: :func:`delay_curve` and :func:`version_traces`.

The visual language
-------------------
Time runs left to right from the first attempt.  Lanes, top to bottom:

========================  ====================================================================
``S3 endpoint``           the state the fault plan gives S3.  Thin green bar: up.  Full-height
                          hatched bar: a fault, labelled with its kind.  5xx vermillion ``//``;
                          other 4xx (429, 403) orange ``\\\\``; refused black ``xx``; timeout
                          reddish purple ``..``; lost writes yellow ``++``.
``S3 PUT / HEAD / GET``   one mark per request, one lane per method; a line behind a mark is
                          the time the request took (a timeout costs the whole timeout).
``store sleeps``          Stalwart's backoff: solid sky-blue bars.  rust-s3's hidden transport
                          retry (v0.16+): yellow bars hatched ``//``.
``SMTP sessions``         a thin grey bar from connect to reply, the reply mark at its end and
                          its code above (``451 ×5`` is five 451s in a row).  A sender that hung
                          up is a hatched purple bar; a reply the receiver sent after that, to
                          nobody, is a hollow mark.
``copy in …``             custody, who holds a copy of the message: sender queue (blue), receiver
                          memory (orange, dotted: gone on a crash), spool (reddish purple,
                          hatched ``\\\\``), S3 (green).  A bar ending in ``>`` is still held when
                          the trace ends.  Overlapping copies stack (duplicates show as two rows).
``mailbox / DSN``         green star: in the mailbox; orange triangle: "delayed" DSN; vermillion
                          cross: bounce; small vermillion x: a failed local delivery; black
                          pentagon: the receiver crashed or lost its disk.
========================  ====================================================================

Answers, whether from S3 or from SMTP, share one set of marks, so a glance reads the same in
every lane: green circle 2xx, orange diamond 4xx (S3 429/403/404; SMTP 451/452), vermillion
square 5xx, black X refused or dropped, reddish-purple down-triangle timeout.

The light grey band behind all lanes is the S3 outage (the union of the S3 fault windows).

Colours are the Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design"); every colour
also has its own marker shape or hatch, so the plots read in grey scale and for any colour vision.

Time axis: ticks are durations (``format_duration``: 30s, 10m, 1h, 2d).  ``scale="auto"`` is
linear for traces up to 2 hours and symlog beyond (linear up to 1 s, logarithmic after), so a 1 s
backoff and a 3-day expiry fit on one axis; pass ``scale="linear"`` or ``"symlog"`` to choose.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, NamedTuple, Optional, Sequence, Union

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.scale import SymmetricalLogTransform
from matplotlib.ticker import NullLocator

from .durations import format_duration, parse_duration
from .errors import BlobeduError
from .faults import FaultPlan, plan
from .trace import HOLDERS, DeliveryTrace, StoreTrace

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0

#: One Stalwart version per row of :data:`blobedu.versions.VERSIONS`, oldest first (widgets offer these).
REPRESENTATIVE_VERSIONS = ("0.8.1", "0.9.0", "0.10.5", "0.12.3", "0.15.5", "0.16.1", "0.16.18")

# -- the palette and what each kind of thing looks like -----------------------------------------
#: The Okabe-Ito palette.
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish purple": "#CC79A7",
}
_C = OKABE_ITO
GREY = "#8c8c8c"
OUTAGE_COLOR = "#9a9a9a"


@dataclass(frozen=True)
class Style:
    """How one kind of bar or mark looks, and what the legend calls it."""

    legend: str
    color: str
    marker: Optional[str] = None  # None: a bar
    hatch: Optional[str] = None
    edge: str = "black"
    hollow: bool = False
    size: float = 8.0
    alpha: float = 1.0


#: Every kind a Timeline can hold, in legend order.
STYLES: dict[str, Style] = {
    # answers (S3 requests and SMTP replies share them)
    "2xx": Style("2xx / 250: success", _C["bluish green"], "o"),
    "4xx": Style("4xx: S3 429/403/404, SMTP 451/452", _C["orange"], "D", size=7),
    "5xx": Style("5xx", _C["vermillion"], "s", size=7),
    "refused": Style("connection refused / dropped", _C["black"], "X", edge="white", size=9),
    "timeout": Style("timeout (line: time waited)", _C["reddish purple"], "v", size=9),
    "late": Style("reply after the sender hung up", _C["bluish green"], "o", edge=_C["bluish green"], hollow=True,
                  size=10),
    # S3 state (bars)
    "s3-up": Style("S3 up", _C["bluish green"], edge=_C["bluish green"]),
    "s3-5xx": Style("S3 answers 5xx", _C["vermillion"], hatch="//", edge="white"),
    "s3-4xx": Style("S3 answers 429/403", _C["orange"], hatch="\\\\", edge="black"),
    "s3-refused": Style("S3 refuses connections", _C["black"], hatch="xx", edge="white"),
    "s3-timeout": Style("S3 silent (timeouts)", _C["reddish purple"], hatch="..", edge="black"),
    "s3-lost-write": Style("S3 loses writes (200, not kept)", _C["yellow"], hatch="++", edge="black"),
    # sleeps (bars)
    "backoff": Style("Stalwart backoff sleep", _C["sky blue"], edge=_C["blue"]),
    "transport-retry": Style("rust-s3 transport retry sleep", _C["yellow"], hatch="//", edge="black"),
    # SMTP sessions (bars)
    "session": Style("SMTP session", GREY, edge=GREY),
    "session-timeout": Style("sender hung up (final-dot wait)", _C["reddish purple"], hatch="//", edge="black"),
    # custody (bars)
    "sender queue": Style("copy in sender queue", _C["blue"], edge=_C["blue"]),
    "receiver memory": Style("copy in receiver memory (lost on crash)", _C["orange"], hatch="..", edge="black"),
    "spool": Style("copy in local spool", _C["reddish purple"], hatch="\\\\", edge="black"),
    "S3": Style("copy in S3", _C["bluish green"], edge=_C["bluish green"]),
    # outcomes and events (marks)
    "mailbox": Style("in the mailbox / stored", _C["bluish green"], "*", size=13),
    "local-fail": Style("local delivery failed (retried)", _C["vermillion"], "x", edge=_C["vermillion"], size=7),
    "dsn-delayed": Style('"delayed" DSN', _C["orange"], "^", size=9),
    "bounce": Style("bounce / failed", _C["vermillion"], "X", size=11),
    "node": Style("receiver crash / disk loss", _C["black"], "p", edge="white", size=10),
    "lost": Style("stored but NOT in S3", _C["vermillion"], "*", hollow=True, edge=_C["vermillion"], size=13),
    # schedules
    "queued": Style("message waiting in the sender queue", _C["blue"], edge=_C["blue"], alpha=0.3),
    "attempt": Style("delivery attempt (fails)", _C["black"], "|", edge=_C["black"], size=13),
}
OUTAGE_LEGEND = "S3 outage (fault window)"


# -- plain data: what a plot draws ---------------------------------------------------------------
class Bar(NamedTuple):
    """Something that lasts: ``[start, end)`` on the clock; ``open`` when it still lasts at the end."""

    start: float
    end: float
    label: str
    kind: str
    annotate: bool = False
    open: bool = False


class Mark(NamedTuple):
    """Something that happens at ``t`` (a request, a reply, a DSN); ``duration`` draws a line after it."""

    t: float
    label: str
    kind: str
    annotate: bool = False
    duration: float = 0.0


@dataclass
class Lane:
    """One row of a timeline: a stable ``key`` for tests, a ``name`` for people, its bars and marks."""

    key: str
    name: str
    bars: list[Bar] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    height: float = 1.0
    note: str = ""  # shown in the lane when it is empty
    labelled: Optional[bool] = None  # keep room for labels above the marks (None: when a mark has one)

    def spans(self) -> list[tuple[float, float, str]]:
        """The bars as ``(start, end, label)``."""
        return [(b.start, b.end, b.label) for b in self.bars]

    def points(self) -> list[tuple[float, str]]:
        """The marks as ``(t, label)``."""
        return [(m.t, m.label) for m in self.marks]


@dataclass
class Axis:
    """The time axis a timeline chose: scale, unit, ticks with their labels, limits."""

    scale: str
    unit: str
    lo: float
    hi: float
    ticks: list[float]
    labels: list[str]
    linthresh: float = 1.0

    def _f(self, values):
        values = np.asarray(values, dtype=float)
        if self.scale == "symlog":
            return SymmetricalLogTransform(10, self.linthresh, LINSCALE).transform(values)
        if self.scale == "log":
            return np.log10(values)
        return values

    def fraction(self, t: float) -> float:
        """Where ``t`` falls along the axis, 0 at the left edge and 1 at the right."""
        a, b, x = self._f([self.lo, self.hi, t])
        return float((x - a) / (b - a))


@dataclass
class Timeline:
    """Everything one plot draws, as plain data: lanes top to bottom, the outage windows, the axis."""

    title: str
    subtitle: str
    horizon: float
    axis: Axis
    lanes: list[Lane]
    outage: list[tuple[float, float]] = field(default_factory=list)
    xlabel: str = "time since the first attempt"

    def lane(self, key: str) -> Lane:
        """The lane with this key."""
        for lane in self.lanes:
            if lane.key == key:
                return lane
        raise KeyError(f"no lane {key!r}; lanes: {', '.join(l.key for l in self.lanes)}")

    def keys(self) -> list[str]:
        """The lane keys, top to bottom."""
        return [lane.key for lane in self.lanes]

    def kinds(self) -> list[str]:
        """Every bar and mark kind drawn, in legend order."""
        used = {b.kind for lane in self.lanes for b in lane.bars} | {m.kind for lane in self.lanes for m in lane.marks}
        return [k for k in STYLES if k in used]


# -- the time axis -----------------------------------------------------------------------------------
#: How wide the linear part of a symlog axis is, in decades of the log part.
LINSCALE = 0.5
#: Traces up to this long get a linear axis under ``scale="auto"``; longer ones get symlog.
AUTO_LINEAR_MAX = 2 * HOUR
_NICE_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE,
               30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 5 * DAY, 7 * DAY, 14 * DAY,
               30 * DAY)
# symlog tick candidates, most wanted first; a candidate is kept when it does not crowd a kept one
_LOG_TICKS = (0, MINUTE, HOUR, DAY, 1, 10 * MINUTE, 10, 6 * HOUR, 3 * DAY, 2 * DAY, 5 * DAY, 4 * DAY, 7 * DAY,
              30 * DAY, 14 * DAY, 30, 5 * MINUTE, 30 * MINUTE, 12 * HOUR, 2 * HOUR, 3 * HOUR, 5, 2, 2 * MINUTE)
SCALES = ("auto", "linear", "symlog", "log")


def time_unit(span: float) -> str:
    """The unit a span reads best in: ``s`` up to 2 min, ``min`` up to 2 h, ``h`` up to 2 days, then ``d``."""
    if span < 2 * MINUTE:
        return "s"
    if span < 2 * HOUR:
        return "min"
    if span < 2 * DAY:
        return "h"
    return "d"


def time_axis(horizon: float, scale: str = "auto", max_ticks: int = 9, min_gap: float = 0.065,
              linthresh: float = 1.0, start: float = 0.0) -> Axis:
    """The axis for times from ``start`` (0) to ``horizon`` seconds: scale (auto: linear up to 2 h), unit, ticks.

    A symlog axis is linear from 0 to ``linthresh`` seconds and logarithmic after; with ``start`` > 0
    and ``scale="log"`` the axis is purely logarithmic from ``start``.
    """
    if scale not in SCALES:
        raise BlobeduError(f"unknown time scale {scale!r}: {', '.join(SCALES)}")
    horizon = max(float(horizon), 1.0)
    if scale == "auto":
        scale = "linear" if horizon <= AUTO_LINEAR_MAX else "symlog"
    if scale == "log" and start <= 0:  # traces start at 0, which a pure log axis cannot show
        scale = "symlog"
    unit = time_unit(horizon)
    if scale == "linear":
        lo, hi = -0.025 * horizon, horizon * 1.035
        step = next((s for s in _NICE_STEPS if horizon / s <= max_ticks - 1), _NICE_STEPS[-1])
        ticks = [i * step for i in range(int(math.floor(hi / step + 1e-9)) + 1)]
        return Axis("linear", unit, lo, hi, ticks, [format_duration(t) for t in ticks])
    if scale == "log":
        axis = Axis("log", unit, start / 1.6, horizon * 1.6, [], [], linthresh)
    else:
        axis = Axis("symlog", unit, -0.3 * linthresh, horizon * 1.3, [], [], linthresh)
    chosen: list[float] = []
    for c in _LOG_TICKS:
        if not axis.lo <= c <= axis.hi:
            continue
        f = axis.fraction(c)
        if all(abs(f - axis.fraction(k)) >= min_gap for k in chosen):
            chosen.append(float(c))
    axis.ticks = sorted(chosen)
    axis.labels = [format_duration(t) for t in axis.ticks]
    return axis


def _horizon(times: Iterable[Optional[float]]) -> float:
    return max([1.0] + [float(t) for t in times if t is not None])


# -- reading traces into lanes -------------------------------------------------------------------------
def result_kind(result: Union[int, str]) -> str:
    """The mark kind of an S3 result (``200``, ``503``, ``refused``, ``timeout``)."""
    if isinstance(result, int) or str(result).isdigit():
        code = int(result)
        return "2xx" if code < 300 else "4xx" if code < 500 else "5xx"
    return "timeout" if result == "timeout" else "refused"


def reply_code(reply: str) -> str:
    """The short form of an SMTP reply: ``451`` for ``451 4.3.5 ...``; ``timeout``/``refused``/``dropped`` as is."""
    head = reply.split()[0] if reply else "?"
    return head if head.isdigit() else reply


def reply_kind(reply: str) -> str:
    """The mark kind of an SMTP reply."""
    code = reply_code(reply)
    if code.isdigit():
        return "2xx" if code[0] == "2" else "4xx" if code[0] == "4" else "5xx"
    return "timeout" if code == "timeout" else "refused"


def _fault_kind(kind: Optional[str]) -> str:
    if kind is None:
        return "s3-up"
    if kind.isdigit():
        return "s3-5xx" if int(kind) >= 500 else "s3-4xx"
    return f"s3-{kind}"


def s3_state_bars(faults: FaultPlan, horizon: float) -> list[Bar]:
    """The S3 state from the fault plan as bars from 0 to ``horizon``: ``up`` or the fault a request meets."""
    edges = {0.0, float(horizon)}
    for f in faults.s3:
        edges.add(f.start)
        if f.end is not None:
            edges.add(f.end)
    edges_sorted = sorted(e for e in edges if 0.0 <= e <= horizon)
    bars: list[Bar] = []
    for a, b in zip(edges_sorted, edges_sorted[1:]):
        fault = faults.s3_fault_at(a)
        label = "up" if fault is None else fault.kind
        if bars and bars[-1].label == label:
            bars[-1] = bars[-1]._replace(end=b)
        else:
            bars.append(Bar(a, b, label, _fault_kind(None if fault is None else fault.kind), fault is not None))
    return bars


def outage_windows(faults: FaultPlan, horizon: float) -> list[tuple[float, float]]:
    """The union of the S3 fault windows, clipped to ``[0, horizon]``."""
    windows = sorted((f.start, horizon if f.end is None else min(f.end, horizon)) for f in faults.s3
                     if f.start < horizon)
    merged: list[tuple[float, float]] = []
    for a, b in windows:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


_METHODS = ("PUT", "HEAD", "GET", "DELETE")


def _request_lanes(requests: Sequence[dict], annotate: bool) -> list[Lane]:
    present = {r["method"] for r in requests}
    methods = ["PUT"] + [m for m in _METHODS[1:] if m in present] + sorted(present - set(_METHODS))
    lanes = []
    for method in methods:
        marks = [Mark(r["t"], str(r["result"]), result_kind(r["result"]), annotate, r.get("duration") or 0.0)
                 for r in requests if r["method"] == method]
        lanes.append(Lane(f"requests:{method}", f"S3 {method}", marks=marks, note="no requests" if not marks else ""))
    return lanes


def _sleep_lane(sleeps: Sequence[dict], span: float, annotate_all: bool) -> Lane:
    bars = []
    for s in sleeps:
        label = format_duration(s["seconds"]) + (" (rust-s3)" if s["reason"] == "transport-retry" else "")
        show = annotate_all or s["seconds"] >= 0.04 * span
        bars.append(Bar(s["t"], s["t"] + s["seconds"], label, s["reason"], show))
    return Lane("sleeps", "store sleeps", bars=bars, note="no sleeps" if not bars else "")


def _requests_of(trace: StoreTrace) -> list[dict]:
    return trace.to_dict()["requests"]


def put_lanes(trace: StoreTrace, faults=None, scale: str = "auto") -> Timeline:
    """The lanes of one PUT (or GET/DELETE) trace: S3 state, requests by method, sleeps, outcome."""
    d = trace.to_dict()
    fault_plan = plan(faults if faults is not None else trace.faults)
    ends = [r["t"] + r["duration"] for r in d["requests"]] + [s["t"] + s["seconds"] for s in d["sleeps"]]
    ends += [trace.ended] + [f.end if f.end is not None else f.start for f in fault_plan.s3]
    horizon = _horizon(ends)
    axis = time_axis(horizon, scale)
    annotate = len(d["requests"]) <= 16
    lanes = [Lane("s3", "S3 endpoint", bars=s3_state_bars(fault_plan, axis.hi))]
    lanes += _request_lanes(d["requests"], annotate)
    lanes.append(_sleep_lane(d["sleeps"], horizon, annotate_all=len(d["sleeps"]) <= 12))
    if trace.outcome == "stored":
        kind, label = ("mailbox", "stored, durable") if trace.durable else ("lost", "stored, NOT in S3")
    else:
        kind, label = "bounce", f"{trace.outcome}: {(trace.error or '').split(':')[0]}".rstrip(": ")
    lanes.append(Lane("outcome", "outcome", marks=[Mark(trace.ended, label, kind, True)]))
    c = trace.config
    title = (f"{trace.operation.upper()} on Stalwart {trace.version} · maxRetries {c['max_retries']} · "
             f"timeout {format_duration(c['timeout'])} · verify {'on' if c['verify'] else 'off'} · "
             f"latency {format_duration(c['latency'])} · faults: {', '.join(trace.faults) or 'none'}")
    subtitle = f"{trace.outcome} after {format_duration(trace.elapsed)}"
    if trace.error:
        subtitle += f": {trace.error}"
    subtitle += f" · durable in S3: {'yes' if trace.durable else 'no'}" if trace.operation == "put" else ""
    return Timeline(title, subtitle, horizon, axis, lanes, outage_windows(fault_plan, axis.hi),
                    f"time since the first request{_scale_note(axis)}")


def _scale_note(axis: Axis) -> str:
    if axis.scale == "symlog":
        return f" (log scale past {format_duration(axis.linthresh)})"
    return " (log scale)" if axis.scale == "log" else ""


def delivery_lanes(trace: DeliveryTrace, faults=None, scale: str = "auto") -> Timeline:
    """The lanes of one delivery: S3 state, requests, sleeps, SMTP sessions, custody, mailbox and DSNs."""
    c = trace.config
    fault_plan = plan(faults if faults is not None else c.get("faults", []))
    stores = [s.store for s in trace.sessions if s.store]
    requests = [r for st in stores for r in st["requests"]]
    sleeps = [s for st in stores for s in st["sleeps"]]
    times: list[Optional[float]] = [trace.ended]
    times += [s.ended for s in trace.sessions] + [s.receiver_replied_at for s in trace.sessions]
    times += [span["to"] for span in trace.custody] + [span["from"] for span in trace.custody]
    times += [d["t"] for d in trace.dsns] + [e["t"] for e in trace.local] + [e["t"] for e in trace.events]
    times += [r["t"] + r["duration"] for r in requests] + [s["t"] + s["seconds"] for s in sleeps]
    times += [f.end if f.end is not None else f.start for f in fault_plan.faults]
    horizon = _horizon(times)
    # past a day, seconds-long retries are detail for plot_put: the linear part grows to a minute
    axis = time_axis(horizon, scale, linthresh=MINUTE if horizon >= DAY else 1.0)

    lanes = [Lane("s3", "S3 endpoint", bars=s3_state_bars(fault_plan, axis.hi))]
    lanes += _request_lanes(requests, annotate=False)
    if not requests and c.get("receiver") == "wal":
        lanes[-1].note = "the spool's background uploads are not traced request by request"
    lanes.append(_sleep_lane(sleeps, horizon, annotate_all=False))

    smtp = Lane("smtp", "SMTP sessions", height=1.5, note="no sessions")
    for s in trace.sessions:
        timed_out = s.reply == "timeout"
        smtp.bars.append(Bar(s.t, s.ended, reply_code(s.reply), "session-timeout" if timed_out else "session"))
        smtp.marks.append(Mark(s.ended, reply_code(s.reply), reply_kind(s.reply), True))
        if s.receiver_reply and s.receiver_replied_at is not None and s.receiver_reply != s.reply:
            smtp.marks.append(Mark(s.receiver_replied_at, f"{reply_code(s.receiver_reply)} to nobody", "late", True))
    smtp.note = "" if trace.sessions else smtp.note
    lanes.append(smtp)

    holders = list(HOLDERS) + sorted({span["holder"] for span in trace.custody} - set(HOLDERS))
    for holder in holders:
        bars = [Bar(span["from"], axis.hi if span["to"] is None else span["to"], span["note"], holder, False,
                    span["to"] is None) for span in trace.custody if span["holder"] == holder]
        note = "never held a copy"
        if holder == "spool" and c.get("receiver") == "stalwart":
            note = "none: Stalwart has no spool, WAL or blob cache"
        lanes.append(Lane(f"custody:{holder}", f"copy in {holder}", bars=bars, note="" if bars else note))

    outcome = Lane("outcome", "mailbox / DSN", height=1.2)
    for entry in trace.local:
        delivered = entry["result"] == "delivered"
        outcome.marks.append(Mark(entry["t"], "mailbox" if delivered else entry["result"],
                                  "mailbox" if delivered else "local-fail", True))
    for dsn in trace.dsns:
        if dsn["kind"] == "delayed":
            outcome.marks.append(Mark(dsn["t"], "delay DSN", "dsn-delayed", True))
        else:
            by = " (receiver)" if dsn.get("origin") == "receiver" else ""
            outcome.marks.append(Mark(dsn["t"], f"bounce{by}", "bounce", True))
    for event in trace.events:
        if event["what"] in ("crash", "disk-loss", "spool lost"):
            outcome.marks.append(Mark(event["t"], event["what"], "node", True))
    outcome.marks.sort(key=lambda m: m.t)
    outcome.note = "" if outcome.marks else "nothing yet"
    lanes.append(outcome)

    st = c["store"]
    sender = c["sender"] + (f" {c['sender_version']}" if c.get("sender_version") else "")
    title = (f"sender {sender} → receiver {c['receiver']} (Stalwart {st['version']}, maxRetries {st['max_retries']}, "
             f"timeout {format_duration(st['timeout'])}, verify {'on' if st['verify'] else 'off'}) · "
             f"final-dot wait {format_duration(c['data_timeout'])} · faults: {', '.join(c.get('faults', [])) or 'none'}")
    from .text import verdict

    return Timeline(title, verdict(trace), horizon, axis, lanes, outage_windows(fault_plan, axis.hi),
                    f"time since the message was queued at the sender{_scale_note(axis)}")


def schedule_lanes(schedules: Sequence[Any], horizon: float = 5 * DAY, scale: str = "auto") -> Timeline:
    """One lane per sender schedule: its attempts if every one fails, its delay DSNs and when it gives up."""
    from .schedules import attempt_times, sender_schedule

    horizon = parse_duration(horizon)
    axis = time_axis(horizon, scale, linthresh=MINUTE if horizon >= DAY else 1.0)
    lanes = []
    for s in schedules:
        schedule = sender_schedule(s) if isinstance(s, str) else s
        times = attempt_times(schedule, horizon)
        gives_up = schedule.next_attempt(0.0, times) is None
        bounce = None
        if gives_up:
            expiry = schedule.expires_at(0.0)
            bounce = expiry if expiry is not None else times[-1]
        marks = [Mark(t, f"attempt {i}", "attempt") for i, t in enumerate(times, 1)]
        marks += [Mark(w, "delay DSN", "dsn-delayed", True) for w in schedule.warnings(0.0) if w <= horizon]
        if bounce is not None and bounce <= horizon:
            marks.append(Mark(bounce, f"bounce {format_duration(bounce)}", "bounce", True))
        end = bounce if bounce is not None and bounce <= horizon else axis.hi
        bars = [Bar(0.0, end, "queued", "queued", False, end == axis.hi)]
        lanes.append(Lane(f"schedule:{schedule.name}", f"{schedule.name}\n{len(times)} attempts", bars=bars,
                          marks=sorted(marks, key=lambda m: m.t), height=1.2, labelled=True))
    return Timeline(f"attempts until {format_duration(horizon)} or until the sender gives up; "
                    "an arrow: still trying at the end",
                    "When each sender tries again, if every attempt fails",
                    horizon, axis, lanes, [], f"time since the first attempt{_scale_note(axis)}")


def version_lanes(traces: Mapping[str, StoreTrace], scale: str = "auto") -> Timeline:
    """One lane per labelled PUT trace (e.g. one per Stalwart version): its requests and its sleeps."""
    ends = [t.ended for t in traces.values()]
    ends += [s.t + s.seconds for t in traces.values() for s in t.sleeps]
    horizon = _horizon(ends)
    axis = time_axis(horizon, scale)
    lanes = []
    for label, trace in traces.items():
        d = trace.to_dict()
        marks = [Mark(r["t"], f"{r['method']} {r['result']}", result_kind(r["result"]), False, r["duration"])
                 for r in d["requests"]]
        sleep = _sleep_lane(d["sleeps"], horizon, annotate_all=len(d["sleeps"]) <= 8)
        outcome = f"{trace.outcome} after {format_duration(trace.elapsed)}"
        if trace.outcome == "stored" and not trace.durable:
            outcome += ", NOT in S3"
        lanes.append(Lane(f"version:{label}", f"{label}\n{outcome}", bars=sleep.bars, marks=marks, height=1.1))
    faults = sorted({f for t in traces.values() for f in t.faults})
    return Timeline("bars: sleeps between retries · marks: requests, by answer",
                    f"The same PUT on each Stalwart version · faults: {', '.join(faults) or 'none'}", horizon, axis,
                    lanes, [], f"time since the first request{_scale_note(axis)}")


# -- data helpers that run the model (named so) ------------------------------------------------------
def delay_curve(outages: Iterable[Union[str, float]], sender: str = "stalwart", kind: str = "refused",
                config=None) -> list[dict]:
    """Runs :func:`blobedu.delivery.deliver` once per outage ``kind@0-OUTAGE``: outage and delay, in seconds."""
    from .delivery import DeliveryConfig, deliver

    base = config or DeliveryConfig()
    base = replace(base, sender=sender)
    points = []
    for outage in outages:
        seconds = parse_duration(outage)
        faults = [f"{kind}@0-{format_duration(seconds)}"] if seconds > 0 else []
        trace = deliver(faults, base)
        bounce = next((d["t"] for d in trace.dsns if d["kind"] == "failed"), None)
        points.append({"outage": seconds, "delay": trace.delivered_at, "fate": trace.fate, "bounced_at": bounce,
                       "copies": trace.copies, "sessions": len(trace.sessions), "sender": sender})
    return points


def version_traces(faults: Sequence[str] = ("503@0-5",), versions: Sequence[str] = REPRESENTATIVE_VERSIONS,
                   **store_settings: Any) -> dict[str, StoreTrace]:
    """Runs :func:`blobedu.store.put` once per version with the same faults: ``{"Stalwart V": trace}``."""
    from .store import StoreConfig, put

    return {f"Stalwart {v}": put(faults=list(faults), config=StoreConfig(version=v, **store_settings))
            for v in versions}


# -- drawing -----------------------------------------------------------------------------------------
class TimelineFigure(Figure):
    """A Figure that shows itself as a PNG in Jupyter (no pyplot, so it is never shown twice)."""

    timeline: Optional[Timeline] = None

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=100)
        return buf.getvalue()


def new_figure(width: float, height: float) -> TimelineFigure:
    """A fresh constrained-layout figure on the Agg canvas, outside pyplot."""
    fig = TimelineFigure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_base64(fig: Figure, dpi: int = 90) -> str:
    """The figure as a base64 PNG (what a notebook output stores)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


_WIDTH = 11.0
_LANE_INCHES = 0.44
_CHAR_INCHES = 0.075  # about one character of 8-pt text
_LEFT_INCHES = 2.0    # the lane names


def _style_bar(ax, x0, x1, y, h, style: Style, zorder=2, alpha=None):
    ax.barh(y, x1 - x0, left=x0, height=h, color=style.color, hatch=style.hatch, edgecolor=style.edge,
            linewidth=0.6, zorder=zorder, alpha=style.alpha if alpha is None else alpha, align="center")


def _rows(bars: Sequence[Bar]) -> list[int]:
    """Stack overlapping bars: the row each bar goes in, the first whose last bar ended before it starts."""
    ends: list[float] = []
    rows = []
    for b in bars:
        for i, e in enumerate(ends):
            if e <= b.start:
                ends[i] = b.end
                rows.append(i)
                break
        else:
            ends.append(b.end)
            rows.append(len(ends) - 1)
    return rows


def _label_runs(marks: Sequence[Mark], axis: Axis, width_in: float) -> list[tuple[float, str]]:
    """Labels to write: runs of equal labels too close to write each become one ``label ×n``."""
    todo = sorted((m for m in marks if m.annotate), key=lambda m: m.t)
    out: list[tuple[float, str]] = []
    i = 0
    while i < len(todo):
        j = i
        while j + 1 < len(todo) and todo[j + 1].label == todo[i].label:
            j += 1
        run = todo[i:j + 1]
        w = (len(run[0].label) + 1) * _CHAR_INCHES / width_in
        fits = all(axis.fraction(b.t) - axis.fraction(a.t) >= w for a, b in zip(run, run[1:]))
        if fits or len(run) == 1:
            out += [(m.t, m.label) for m in run]
        else:
            out.append((run[0].t, f"{run[0].label} ×{len(run)}"))
        i = j + 1
    return out


def _place(labels: Sequence[tuple[float, str]], axis: Axis, width_in: float, levels: int):
    """Give each label a level and an alignment so that none overlaps; a label with no room is left out."""
    taken: list[list[tuple[float, float]]] = [[] for _ in range(levels)]
    placed = []
    frac = [axis.fraction(t) for t, _ in labels]
    wide = [(len(text) + 1) * _CHAR_INCHES / width_in for _, text in labels]
    for i, (t, text) in enumerate(labels):
        f, w = frac[i], wide[i]
        # centred over its mark; ending at it when the next label is close; starting at it as a fallback
        crowded = i + 1 < len(labels) and frac[i + 1] - f < (w + wide[i + 1]) / 2
        order = ("right", "center", "left") if crowded else ("center", "left", "right")
        done = False
        for level in range(levels):
            for ha in order:
                x0 = f if ha == "left" else f - w if ha == "right" else f - w / 2
                x1 = x0 + w
                if x0 < -0.02 or x1 > 1.03:  # a little overhang past the axis is fine
                    continue
                if all(x1 <= a or x0 >= b for a, b in taken[level]):
                    taken[level].append((x0, x1))
                    placed.append((t, text, level, ha))
                    done = True
                    break
            if done:
                break
    return placed


def draw(timeline: Timeline, ax=None) -> Figure:
    """Draw a :class:`Timeline` in lanes; returns the Figure (a new one unless ``ax`` is given)."""
    total = sum(lane.height for lane in timeline.lanes)
    if ax is None:
        n_kinds = len(timeline.kinds()) + (1 if timeline.outage else 0)
        legend_rows = math.ceil(n_kinds / 4)
        fig = new_figure(_WIDTH, total * _LANE_INCHES + 1.25 + 0.24 * legend_rows)
        ax = fig.add_subplot()
        own = True
    else:
        fig, own = ax.figure, False
    if isinstance(fig, TimelineFigure):
        fig.timeline = timeline
    axis = timeline.axis
    width_in = max(fig.get_figwidth() - _LEFT_INCHES - 0.4, 3.0) if own else fig.get_figwidth() * 0.6
    x_lo, x_hi = axis.lo, axis.hi
    if axis.scale == "symlog":
        ax.set_xscale("symlog", linthresh=axis.linthresh, linscale=LINSCALE)
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(0, total)

    for a, b in timeline.outage:
        ax.axvspan(a, b, color=OUTAGE_COLOR, alpha=0.16, zorder=0, linewidth=0)

    y_top = total
    yticks, ynames = [], []
    for lane in timeline.lanes:
        h = lane.height
        y0 = y_top - h
        center = y0 + h / 2
        yticks.append(center)
        ynames.append(lane.name)
        ax.axhline(y0, color="#d0d0d0", linewidth=0.6, zorder=1)
        labelled = lane.labelled if lane.labelled is not None else any(m.annotate for m in lane.marks)
        # a lane with labels keeps its marks low and writes the labels above them
        mark_y = y0 + 0.32 * h if labelled else center
        if lane.key == "s3":
            for b in lane.bars:
                style = STYLES[b.kind]
                if b.kind == "s3-up":
                    _style_bar(ax, b.start, b.end, center, 0.18 * h, style, alpha=0.7)
                else:
                    _style_bar(ax, b.start, b.end, center, 0.7 * h, style)
                    _bar_text(ax, axis, b, center, width_in)
        elif lane.bars:
            rows = _rows(lane.bars)
            n = max(rows) + 1
            if labelled:
                row_h, base = min(0.22 * h, 0.5 * h / n), mark_y
            else:
                row_h, base = 0.7 * h / n, y0 + 0.15 * h + 0.35 * h / n
            for b, row in zip(lane.bars, rows):
                style = STYLES[b.kind]
                y = base + row * row_h if not labelled else base
                bh = row_h * (0.85 if not labelled else 1.0)
                if axis.fraction(b.end) - axis.fraction(b.start) < 0.004:
                    ax.plot([b.start], [y], marker="|", markersize=bh * _LANE_INCHES * 72,
                            color=style.color if style.color != GREY else "#555555", markeredgewidth=2.2,
                            zorder=3, linestyle="none")
                else:
                    _style_bar(ax, b.start, b.end, y, bh, style)
                if b.open:
                    ax.plot([b.end], [y], marker=">", color=style.edge if style.edge != "white" else style.color,
                            markersize=7, zorder=4, clip_on=False, linestyle="none")
                if b.annotate:
                    _bar_text(ax, axis, b, y, width_in)
        counts = {k: sum(1 for m in lane.marks if m.kind == k) for k in {m.kind for m in lane.marks}}
        for m in lane.marks:
            style = STYLES[m.kind]
            shrink = 0.65 if counts[m.kind] > 40 else 1.0  # many marks of a kind: smaller ones stay apart
            if m.duration and m.duration > 0:
                ax.plot([m.t, m.t + m.duration], [mark_y, mark_y], color=style.color, linewidth=2, zorder=3)
            ax.plot([m.t], [mark_y], marker=style.marker, markersize=style.size * shrink, linestyle="none",
                    markerfacecolor="white" if style.hollow else style.color,
                    markeredgecolor=style.edge if style.marker not in ("x", "|") else style.color,
                    markeredgewidth=1.6 if style.hollow or style.marker in ("x", "|") else 0.7, zorder=5)
        if labelled:
            levels = 3 if h >= 1.4 else 2
            step = 0.2 * h
            for t, text, level, ha in _place(_label_runs(lane.marks, axis, width_in), axis, width_in, levels):
                ax.text(t, mark_y + 0.2 * h + level * step, text, ha=ha, va="bottom", fontsize=8, zorder=6,
                        clip_on=False)
        if not lane.bars and not lane.marks and lane.note:
            ax.text(0.5, center, lane.note, transform=ax.get_yaxis_transform(), ha="center", va="center",
                    fontsize=8, color="#666666", style="italic")
        y_top = y0

    ax.set_yticks(yticks, ynames, fontsize=9)
    ax.tick_params(axis="y", length=0)
    ax.set_xticks(axis.ticks, axis.labels, fontsize=9)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.grid(axis="x", color="#e4e4e4", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)
    ax.set_xlabel(timeline.xlabel, fontsize=9)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    handles = _legend_handles(timeline)
    if own:
        ax.set_title(timeline.subtitle, loc="left", fontsize=11, fontweight="bold")
        fig.suptitle(timeline.title, x=0.01, ha="left", fontsize=8.5, color="#444444")
        fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)), fontsize=8,
                   frameon=False)
    else:
        ax.set_title(timeline.subtitle, loc="left", fontsize=10)
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    return fig


def _bar_text(ax, axis: Axis, b: Bar, y: float, width_in: float) -> None:
    """Write a bar's label inside it when it fits, else just after it."""
    w = (len(b.label) + 1) * _CHAR_INCHES / width_in
    f0, f1 = axis.fraction(b.start), axis.fraction(min(b.end, axis.hi))
    box = dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.85)
    if f1 - f0 >= w:
        mid = _from_fraction(axis, (f0 + f1) / 2)
        ax.text(mid, y, b.label, ha="center", va="center", fontsize=8, zorder=6, bbox=box)
    elif f1 + w < 1.0:
        ax.text(b.end, y, " " + b.label, ha="left", va="center", fontsize=8, zorder=6, bbox=box)


def _from_fraction(axis: Axis, f: float) -> float:
    """The time at fraction ``f`` of the axis (inverse of :meth:`Axis.fraction`)."""
    if axis.scale == "linear":
        return axis.lo + f * (axis.hi - axis.lo)
    if axis.scale == "log":
        return float(10 ** (math.log10(axis.lo) + f * (math.log10(axis.hi) - math.log10(axis.lo))))
    tr = SymmetricalLogTransform(10, axis.linthresh, LINSCALE)
    a, b = tr.transform(np.array([axis.lo, axis.hi]))
    return float(tr.inverted().transform(np.array([a + f * (b - a)]))[0])


def _legend_handles(timeline: Timeline) -> list:
    handles: list = []
    for kind in timeline.kinds():
        s = STYLES[kind]
        if s.marker is None:
            handles.append(Patch(facecolor=s.color, hatch=s.hatch, edgecolor=s.edge if s.hatch else s.color,
                                 label=s.legend))
        else:
            handles.append(Line2D([], [], marker=s.marker, linestyle="none", markersize=min(s.size, 9),
                                  markerfacecolor="white" if s.hollow else s.color,
                                  markeredgecolor=s.edge if s.marker not in ("x", "|") else s.color,
                                  markeredgewidth=1.4 if s.hollow or s.marker in ("x", "|") else 0.7,
                                  label=s.legend))
    if timeline.outage:
        handles.append(Patch(facecolor=OUTAGE_COLOR, alpha=0.3, label=OUTAGE_LEGEND))
    return handles


# -- the public plots ---------------------------------------------------------------------------------
def plot_put(trace: StoreTrace, ax=None, scale: str = "auto") -> Figure:
    """One PUT's retry loop in lanes: S3 state, requests, backoff sleeps, outcome."""
    return draw(put_lanes(trace, scale=scale), ax)


def plot_delivery(trace: DeliveryTrace, faults=None, ax=None, scale: str = "auto") -> Figure:
    """One message's journey in lanes: S3, requests, sleeps, SMTP sessions, custody, mailbox and DSNs."""
    return draw(delivery_lanes(trace, faults, scale), ax)


def plot_schedules(schedules: Sequence[Any] = ("stalwart", "postfix", "exim", "rfc5321"),
                   horizon: Union[str, float] = 5 * DAY, ax=None, scale: str = "auto") -> Figure:
    """The senders' attempt times side by side, if every attempt fails, up to ``horizon``."""
    return draw(schedule_lanes(schedules, horizon, scale), ax)


def plot_versions(traces: Mapping[str, StoreTrace], ax=None, scale: str = "auto") -> Figure:
    """Several PUT traces (e.g. from :func:`version_traces`) one lane each, on one time axis."""
    return draw(version_lanes(traces, scale), ax)


#: Series styles for curves: colour, marker and line style all differ.
SERIES = (
    (_C["blue"], "o", "-"), (_C["vermillion"], "s", "--"), (_C["bluish green"], "^", ":"),
    (_C["reddish purple"], "D", "-."), (_C["orange"], "v", "-"), (_C["sky blue"], "P", "--"),
)


def delay_series(points: Union[Sequence[dict], Mapping[str, Sequence[dict]]]) -> dict[str, dict[str, list]]:
    """The curves a delay plot draws: per series, delivered ``(outage, delay)`` and bounced ``(outage, at)``."""
    if isinstance(points, Mapping):
        groups = dict(points)
    else:
        groups = {}
        for p in points:
            groups.setdefault(p.get("sender", "delivery"), []).append(p)
    out = {}
    for name, pts in groups.items():
        pts = sorted(pts, key=lambda p: p["outage"])
        out[name] = {
            "delivered": [(p["outage"], p["delay"]) for p in pts if p["fate"] == "delivered"],
            "bounced": [(p["outage"], p["bounced_at"]) for p in pts if p["fate"] == "bounced"],
            "lost": [(p["outage"], p["outage"]) for p in pts if p["fate"] == "lost"],
        }
    return out


def plot_delay_curve(points: Union[Sequence[dict], Mapping[str, Sequence[dict]]], ax=None,
                     scale: str = "auto") -> Figure:
    """Outage length against delivery delay (from :func:`delay_curve`), one curve per sender."""
    series = delay_series(points)
    values = [v for s in series.values() for pairs in s.values() for xy in pairs for v in xy if v is not None]
    positive = [v for v in values if v > 0]
    top = max(values + [1.0])
    if scale == "auto":  # outages from minutes to days: log, unless a zero must show
        scale = "log" if positive and len(positive) == len(values) else "symlog"
    axis = time_axis(top, scale, min_gap=0.085, start=min(positive) if positive else 0.0,
                     linthresh=MINUTE if top >= DAY else 1.0)
    if ax is None:
        fig = new_figure(8.5, 6.2)
        ax = fig.add_subplot()
        own = True
    else:
        fig, own = ax.figure, False
    if axis.scale != "linear":
        kw = {"linthresh": axis.linthresh, "linscale": LINSCALE} if axis.scale == "symlog" else {}
        ax.set_xscale(axis.scale, **kw)
        ax.set_yscale(axis.scale, **kw)
    ax.set_xlim(axis.lo, axis.hi)
    ax.set_ylim(axis.lo, axis.hi)
    diag = np.geomspace(max(axis.lo, 1e-3), axis.hi, 200)
    ax.plot(diag, diag, color=GREY, linestyle=(0, (4, 3)), linewidth=1, zorder=1,
            label="delivered the moment S3 is back")
    for (name, s), (color, marker, line) in zip(series.items(), SERIES * 4):
        if s["delivered"]:
            xs, ys = zip(*s["delivered"])
            ax.plot(xs, ys, color=color, marker=marker, linestyle=line, linewidth=1.6, markersize=7,
                    markeredgecolor="black", markeredgewidth=0.5, label=f"{name}: delivered", zorder=3)
        if s["bounced"]:
            xs, ys = zip(*s["bounced"])
            ax.plot(xs, ys, color=color, marker="X", linestyle="none", markersize=11, markeredgecolor="black",
                    markeredgewidth=0.8, zorder=4, label=f"{name}: bounced (y = when)")
        if s["lost"]:
            xs, ys = zip(*s["lost"])
            ax.plot(xs, ys, color=color, marker="*", linestyle="none", markersize=13, markerfacecolor="white",
                    markeredgewidth=1.5, zorder=4, label=f"{name}: LOST after a 250")
    ax.set_xticks(axis.ticks, axis.labels, fontsize=9)
    ax.set_yticks(axis.ticks, axis.labels, fontsize=9)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_locator(NullLocator())
    ax.grid(color="#e4e4e4", linewidth=0.6)
    ax.set_axisbelow(True)
    note = _scale_note(axis)
    ax.set_xlabel(f"S3 outage length{note}", fontsize=9)
    ax.set_ylabel(f"time until the receiver's 250{note}", fontsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    # delay >= outage, so the lower right is always empty: the legend goes there
    ax.legend(loc="lower right", fontsize=8, frameon=True, framealpha=0.9, edgecolor="#dddddd")
    ax.set_title("How long an S3 outage delays a message, by sending server", loc="left",
                 fontsize=11 if own else 10, fontweight="bold" if own else "normal")
    return fig
