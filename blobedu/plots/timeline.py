"""The plain data a plot draws: the visual language (styles), bars, marks, lanes, the time axis.

Nothing here reads a trace or draws; see the package docstring (:mod:`blobedu.plots`) for the
whole design.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterable, NamedTuple, Optional, Union

import numpy as np
from matplotlib.scale import SymmetricalLogTransform

from ..durations import format_duration
from ..errors import BlobeduError

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
    "2xx": Style("2xx / 250: accepted", _C["bluish green"], "o"),
    # a 200 to a PUT that S3 did not keep: not a success, so not the success green
    "2xx-lost": Style("200, but S3 did not keep the write", _C["yellow"], "o", edge="black"),
    "4xx": Style("4xx: S3 429/403/404, SMTP 451/452", _C["orange"], "D", size=7),
    "5xx": Style("5xx", _C["vermillion"], "s", size=7),
    "refused": Style("connection refused / dropped", _C["black"], "X", edge="white", size=9),
    "timeout": Style("timeout (line: time waited)", _C["reddish purple"], "v", size=9),
    # a request this version never gives up on (v0.8.2-v0.15.x's timeout bounds only the connect)
    "hung": Style("no answer, never given up on", _C["reddish purple"], "v", hollow=True, edge=_C["reddish purple"],
                  size=9),
    "late": Style("reply after the sender hung up", _C["bluish green"], "o", edge=_C["bluish green"], hollow=True,
                  size=10),
    # S3 state (bars)
    "s3-up": Style("S3 up", _C["bluish green"], edge=_C["bluish green"]),
    "s3-5xx": Style("S3 answers 5xx", _C["vermillion"], hatch="//", edge="white"),
    "s3-4xx": Style("S3 answers 429/403", _C["orange"], hatch="\\\\", edge="black"),
    "s3-refused": Style("S3 refuses connections", _C["black"], hatch="xx", edge="white"),
    "s3-timeout": Style("S3 silent (timeouts)", _C["reddish purple"], hatch="..", edge="black"),
    "s3-lost-write": Style("S3 loses writes (200, not kept)", _C["yellow"], hatch="++", edge="black"),
    "sender-s3-down": Style("sender's own S3 down", _C["black"], hatch="//", edge="white"),
    # the receiver's own disk (bars)
    "disk-full": Style("receiver disk full (ENOSPC)", _C["vermillion"], hatch="xx", edge="black"),
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
    # the holders of notebook 08's other designs (blobedu/servers/receivers.py)
    "one of two stores": Style("copy in ONE of two stores", _C["bluish green"], hatch="//", edge="black"),
    "local disk": Style("copy on the receiver's local disk", _C["reddish purple"], hatch="xx", edge="black"),
    "MongoDB": Style("copy in MongoDB (GridFS)", _C["yellow"], edge="black"),
    # outcomes and events (marks)
    "mailbox": Style("in the mailbox / stored", _C["bluish green"], "*", size=13),
    "local-fail": Style("local delivery failed (retried)", _C["vermillion"], "x", edge=_C["vermillion"], size=7),
    "dsn-delayed": Style('"delayed" DSN', _C["orange"], "^", size=9),
    "bounce": Style("bounce (DSN to the author)", _C["vermillion"], "X", size=11),
    # a DSN the sender's own blob store could not write: send_dsn ignores queue()'s result (dsn.rs:54-59)
    "dsn-dropped": Style("DSN dropped: never sent", _C["vermillion"], "X", hollow=True, edge=_C["vermillion"],
                         size=11),
    "failed": Style("the store call failed (S3Error)", _C["vermillion"], "X", size=11),
    "node": Style("receiver crash / disk loss", _C["black"], "p", edge="white", size=10),
    "lost": Style("LOST: acknowledged, no copy kept anywhere", _C["vermillion"], "*", hollow=True,
                  edge=_C["vermillion"], size=13),
    # schedules
    "queued": Style("message waiting in the sender queue", _C["blue"], edge=_C["blue"], alpha=0.3),
    "attempt": Style("delivery attempt (fails)", _C["black"], "|", edge=_C["black"], size=13),
    "no-more-tries": Style("queued, but no try left before the bounce", _C["vermillion"], hatch="//",
                           edge=_C["vermillion"], alpha=0.35),
}
OUTAGE_LEGEND = "S3 outage (fault window)"

#: Progressive figures (teaching.md, 1): the lanes a figure draws, by what it teaches, top to bottom.
#: The first figure a reader meets shows only who holds the copy and the replies; each later notebook
#: adds the lanes it teaches.  Pass one to ``Timeline.only`` or to ``plot_delivery(..., lanes=...)``.
LANE_SETS: dict[str, tuple[str, ...]] = {
    # 00: who holds the copy (sender queue, receiver memory, S3) and the replies
    "copy": ("smtp", "custody:sender queue", "custody:receiver memory", "custody:S3"),
    # 01: the store loop (a PUT trace): S3's state, the requests, the backoff sleeps, the outcome
    "retry": ("s3", "requests:", "sleeps", "outcome"),
    # 02: the verify loop inside a delivery: the PUT/HEAD requests, sleeps, the reply, the copies, the mailbox
    "verify": ("requests:", "sleeps", "smtp", "custody:sender queue", "custody:S3", "outcome"),
    # 03: the sender's schedule decides the fate: the copies, the replies, the DSNs
    "sender": ("smtp", "custody:sender queue", "custody:receiver memory", "custody:S3", "outcome"),
    # 04: a spool on the receiver's disk
    "spool": ("smtp", "disk", "custody:sender queue", "custody:receiver memory", "custody:spool", "custody:S3",
              "outcome"),
    # 05: sessions, timeouts and the retries inside them
    "sessions": ("requests:PUT", "sleeps", "smtp", "custody:sender queue", "custody:receiver memory", "custody:S3",
                 "outcome"),
}


# -- plain data: what a plot draws ---------------------------------------------------------------
class Bar(NamedTuple):
    """Something that lasts: ``[start, end)`` on the clock; ``open`` when it still lasts at the end."""

    start: float
    end: float
    label: str
    kind: str
    annotate: bool = False
    open: bool = False
    row: Optional[int] = None  # a row fixed by the caller (one store loop a row); None: stacked when overlapping


class Mark(NamedTuple):
    """Something that happens at ``t`` (a request, a reply, a DSN); ``duration`` draws a line after it."""

    t: float
    label: str
    kind: str
    annotate: bool = False
    duration: float = 0.0
    row: int = 0  # the row in its lane: store loops that run at the same time each get their own


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
    #: What to notice, in words (the bold title); empty: the subtitle (the verdict) is the title.
    #: With a headline, the verdict and the configuration go into the small caption under it.
    headline: str = ""

    def caption(self) -> str:
        """The small print under the bold title: the verdict (when a headline took its place) and the configuration."""
        return " · ".join(part for part in ((self.subtitle if self.headline else ""), self.title) if part)

    def heading(self) -> str:
        """The bold title: the headline, or the verdict."""
        return self.headline or self.subtitle

    def only(self, keys: Union[str, Iterable[str]], headline: Optional[str] = None) -> "Timeline":
        """The same timeline with only the lanes named by ``keys``, in that order (a progressive figure).

        A key names a lane (``"custody:S3"``) or every lane with that prefix (``"requests:"``); keys
        whose lane this trace does not have (no HEAD request, no disk fault) are skipped, so one lane
        set serves every run.  ``keys`` may instead name a lane set of :data:`LANE_SETS` (``"spool"``).
        The legend follows: it lists only what the kept lanes draw.
        """
        if isinstance(keys, str):
            if keys not in LANE_SETS:
                raise KeyError(f"no lane set {keys!r}; lane sets: {', '.join(LANE_SETS)}")
            keys = LANE_SETS[keys]
        keys = list(keys)
        chosen: list[Lane] = []
        for key in keys:
            for lane in self.lanes:
                if (lane.key == key or (key.endswith(":") and lane.key.startswith(key))) and lane not in chosen:
                    chosen.append(lane)
        if not chosen:
            raise KeyError(f"none of the lanes {keys} is in this timeline; lanes: {', '.join(self.keys())}")
        return replace(self, lanes=chosen, headline=self.headline if headline is None else headline)

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
