"""Drawing a :class:`~blobedu.plots.timeline.Timeline` (or a delay curve) with matplotlib, outside pyplot."""

from __future__ import annotations

import base64
import io
import math
import textwrap
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.scale import SymmetricalLogTransform
from matplotlib.ticker import NullLocator

from ..durations import format_duration
from ..trace import DeliveryTrace, StoreTrace
from .lanes import _scale_note, delay_series, delivery_lanes, fate_lanes, put_lanes, schedule_lanes, version_lanes
from .timeline import (DAY, GREY, LINSCALE, MINUTE, OUTAGE_COLOR, OUTAGE_LEGEND, STYLES, Axis, Bar, Mark, Style,
                       Timeline, _C, time_axis)

# -- drawing -----------------------------------------------------------------------------------------
class TimelineFigure(Figure):
    """A Figure that shows itself as a PNG in Jupyter (no pyplot, so it is never shown twice)."""

    timeline: Optional[Timeline] = None
    #: how many timelines :func:`draw_stack` drew into it (it can redraw as many in place); 0 otherwise
    stacked: int = 0

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=100)
        return buf.getvalue()


def new_figure(width: float, height: float, layout: str = "constrained") -> TimelineFigure:
    """A fresh figure on the Agg canvas, outside pyplot: constrained layout, or ``"fixed"`` (axes placed by hand)."""
    fig = TimelineFigure(figsize=(width, height), layout=None if layout == "fixed" else layout)
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig: Figure, dpi: int = 90, fast: bool = False) -> bytes:
    """The figure as PNG bytes; ``fast``: zlib level 1 (a few % larger, a few ms sooner)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, pil_kwargs={"compress_level": 1} if fast else None)
    return buf.getvalue()


def png_base64(fig: Figure, dpi: int = 90, fast: bool = False) -> str:
    """The figure as a base64 PNG (what a notebook output stores)."""
    return base64.b64encode(png_bytes(fig, dpi, fast)).decode("ascii")


#: matplotlib settings for the panels' redraws: unhinted text rasterises about a fifth faster and
#: reads the same at 90 dpi (glyph outlines are not snapped to the pixel grid, so letters are a
#: little softer).  Used as ``matplotlib.rc_context(PANEL_RC)`` around drawing and encoding.
PANEL_RC = {"text.hinting": "no_hinting"}

_WIDTH = 11.0
_LANE_INCHES = 0.44
_CHAR_INCHES = 0.075  # about one character of 8-pt text
_LEFT_INCHES = 2.0    # the lane names


def _style_bar(ax, x0, x1, y, h, style: Style, zorder=2, alpha=None):
    ax.barh(y, x1 - x0, left=x0, height=h, color=style.color, hatch=style.hatch, edgecolor=style.edge,
            linewidth=0.6, zorder=zorder, alpha=style.alpha if alpha is None else alpha, align="center")


def _rows(bars: Sequence[Bar]) -> list[int]:
    """Stack overlapping bars: the row each bar goes in, the first whose last bar ended before it starts.

    Bars whose caller fixed their rows (``Bar.row``: one store loop a row) keep them.
    """
    if any(b.row is not None for b in bars):
        return [b.row or 0 for b in bars]
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


#: Fixed-layout margins, in inches: what constrained layout found for the panels' timelines, decided
#: once instead of on every redraw (constrained layout is about a third of a redraw's time).
_FIXED_TOP = 0.58      # the figure title and the bold subtitle above the lanes
_FIXED_AXIS = 0.45     # tick labels and the axis label below the lanes
_FIXED_RIGHT = 0.3
_LEGEND_ROW = 0.24
_STACK_GAP = 0.42      # between stacked timelines: the lower one's subtitle


def _legend_rows(n: int) -> int:
    return math.ceil(n / 4)


def _wrap(text: str, width_in: float, char_in: float) -> str:
    """``text`` wrapped to lines that fit ``width_in`` inches at about ``char_in`` inches a character."""
    width = max(20, int(width_in / char_in))
    return "\n".join(textwrap.fill(part, width, break_long_words=False, break_on_hyphens=False)
                     for part in text.splitlines() if part.strip()) if text else ""


_TITLE_CHAR = 0.092    # a character of 11-pt bold text, in inches (generous: a title is never cut)
_CAPTION_CHAR = 0.068  # a character of 8.5-pt text
_TITLE_LINE = 0.22
_CAPTION_LINE = 0.16


def _headings(timeline: Timeline, width_in: float) -> tuple[str, str, float]:
    """The bold title and the small caption, wrapped to the figure, and the inches they need above the lanes."""
    title = _wrap(timeline.heading(), width_in - 0.2, _TITLE_CHAR)
    caption = _wrap(timeline.caption(), width_in - 0.2, _CAPTION_CHAR)
    lines_t = title.count("\n") + 1 if title else 0
    lines_c = caption.count("\n") + 1 if caption else 0
    return title, caption, 0.14 + lines_t * _TITLE_LINE + lines_c * _CAPTION_LINE


def _write_headings(fig, title: str, caption: str, height: float) -> None:
    """The bold title at the figure's top left, the small grey caption under it (fixed layout)."""
    y = height - 0.08
    if title:
        fig.text(0.1 / fig.get_figwidth(), y / height, title, ha="left", va="top", fontsize=11, fontweight="bold",
                 linespacing=1.15)
        y -= (title.count("\n") + 1) * _TITLE_LINE
    if caption:
        fig.text(0.1 / fig.get_figwidth(), (y - 0.03) / height, caption, ha="left", va="top", fontsize=8.5,
                 color="#444444", linespacing=1.2)


def draw(timeline: Timeline, ax=None, layout: str = "constrained") -> Figure:
    """Draw a :class:`Timeline` in lanes; returns the Figure (a new one unless ``ax`` is given).

    The bold title says what to notice (:meth:`Timeline.heading`: the headline, else the verdict); a
    small caption under it carries the configuration (:meth:`Timeline.caption`); both are wrapped to
    the figure's width, never cut.  The legend lists only the kinds the drawn lanes hold.

    ``layout="fixed"`` places the lanes by fixed margins (see :data:`_FIXED_TOP`) instead of
    matplotlib's constrained layout: the same picture for the panels' timelines, drawn faster.
    """
    total = sum(lane.height for lane in timeline.lanes)
    if ax is None:
        n_kinds = len(timeline.kinds()) + (1 if timeline.outage else 0)
        legend_rows = _legend_rows(n_kinds)
        title, caption, head_in = _headings(timeline, _WIDTH)
        bottom = _FIXED_AXIS + _LEGEND_ROW * legend_rows + 0.13
        height = total * _LANE_INCHES + head_in + bottom + 0.1
        fig = new_figure(_WIDTH, height, layout=layout)
        if layout != "fixed":  # constrained layout below the headings, which are placed by hand above it
            fig.set_layout_engine("constrained", rect=(0, 0, 1, 1 - head_in / height))
        if layout == "fixed":
            ax = fig.add_axes((_LEFT_INCHES / _WIDTH, bottom / height, 1 - (_LEFT_INCHES + _FIXED_RIGHT) / _WIDTH,
                               total * _LANE_INCHES / height))
        else:
            ax = fig.add_subplot()
        own = True
    else:
        fig, own = ax.figure, False
    if isinstance(fig, TimelineFigure):
        fig.timeline = timeline
    width_in = max(fig.get_figwidth() - _LEFT_INCHES - 0.4, 3.0) if own else fig.get_figwidth() * 0.6
    drawn = _draw_lanes(ax, timeline, width_in)
    ax.set_xlabel(timeline.xlabel, fontsize=9)
    handles = _legend_handles(timeline, drawn)
    if own:
        _write_headings(fig, title, caption, height)
        if layout == "fixed":
            fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.04 / fig.get_figheight()),
                       ncols=min(4, len(handles)), fontsize=8, frameon=False)
        else:
            fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)), fontsize=8,
                       frameon=False)
    else:
        ax.set_title(_wrap(timeline.heading(), width_in, _CAPTION_CHAR * 1.15), loc="left", fontsize=10)
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    return fig


def draw_stack(timelines: Sequence[Timeline], title: str = "", figure: Optional[Figure] = None) -> Figure:
    """Several Timelines one above the other on one time axis (the first one's), with one legend.

    Each keeps its own lanes and its subtitle (e.g. its verdict); only the lowest shows the tick
    labels and the axis label.  Fixed layout, like ``draw(..., layout="fixed")``.

    ``figure``: a figure an earlier ``draw_stack`` returned, redrawn in place when it holds as many
    timelines (else a new figure is made).  Its axes, spines and ticks are kept and only what the
    timelines draw is replaced: a panel's redraw then creates, and later frees, far fewer matplotlib
    objects.  The picture is the same as a new figure's (tests/test_plots.py compares the PNGs).
    """
    if not timelines:
        raise ValueError("draw_stack needs at least one Timeline")
    axis = timelines[0].axis
    totals = [sum(lane.height for lane in t.lanes) for t in timelines]
    kinds = [k for k in STYLES if any(k in t.kinds() for t in timelines)]
    outage = any(t.outage for t in timelines)
    legend_rows = _legend_rows(len(kinds) + (1 if outage else 0))
    bottom = _FIXED_AXIS + _LEGEND_ROW * legend_rows + 0.13
    lanes_in = [total * _LANE_INCHES for total in totals]
    # the shared caption (the configuration), wrapped, never cut; each timeline's bold verdict above its lanes
    caption = _wrap(title or timelines[0].title, _WIDTH - 0.2, _CAPTION_CHAR)
    fixed_top = _FIXED_TOP + _CAPTION_LINE * caption.count("\n")
    height = fixed_top + sum(lanes_in) + _STACK_GAP * (len(timelines) - 1) + bottom
    reuse = isinstance(figure, TimelineFigure) and figure.stacked == len(timelines)
    if reuse:
        fig = figure
        fig.set_size_inches(_WIDTH, height)
        for legend in list(fig.legends):
            legend.remove()
        for ax in fig.axes:
            _clear_lanes(ax)
    else:
        fig = new_figure(_WIDTH, height, layout="fixed")
        fig.stacked = len(timelines)
    width_in = max(_WIDTH - _LEFT_INCHES - 0.4, 3.0)
    top = height - fixed_top
    drawn: set[str] = set()
    for i, (timeline, h) in enumerate(zip(timelines, lanes_in)):
        shown = Timeline(timeline.title, timeline.subtitle, timeline.horizon, axis, timeline.lanes, timeline.outage,
                         timeline.xlabel)
        # not sharex: every timeline is drawn on the same Axis already (same limits, scale and ticks), and
        # shared axes make each one measure its siblings' tick labels on every draw
        rect = (_LEFT_INCHES / _WIDTH, (top - h) / height, 1 - (_LEFT_INCHES + _FIXED_RIGHT) / _WIDTH, h / height)
        if reuse:
            ax = fig.axes[i]
            ax.set_position(rect)
        else:
            ax = fig.add_axes(rect)
        drawn |= _draw_lanes(ax, shown, width_in)
        # the subtitle (a verdict) starts at the figure's left edge, over the lane names: room for ~100 chars
        axes_in = _WIDTH - _LEFT_INCHES - _FIXED_RIGHT
        # y given: the title sits on the lanes' top edge, where matplotlib's automatic placement puts it
        # too (nothing is drawn above the lanes), without measuring the axes on every draw
        ax.set_title(timeline.subtitle, loc="left", fontsize=10.5, fontweight="bold",
                     x=-(_LEFT_INCHES - 0.1) / axes_in, y=1.0)
        if i < len(timelines) - 1:
            ax.tick_params(axis="x", labelbottom=False)
        else:
            ax.set_xlabel(timeline.xlabel, fontsize=9)
        top -= h + _STACK_GAP
    fig.suptitle(caption, x=0.01, y=1 - 0.06 / height, ha="left", va="top", fontsize=8.5,
                 color="#444444")
    merged = Timeline("", "", axis.hi, axis,
                      [lane for t in timelines for lane in t.lanes], [w for t in timelines for w in t.outage])
    handles = _legend_handles(merged, drawn)
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.04 / height),
               ncols=min(4, len(handles)), fontsize=8, frameon=False)
    fig.timeline = timelines[0]
    return fig


def _clear_lanes(ax) -> None:
    """Remove what :func:`_draw_lanes` drew into ``ax`` (its marks, bars, bands, labels; a symlog scale),
    keeping the axes, spines and ticks for the next timeline."""
    for artist in [*ax.lines, *ax.patches, *ax.collections, *ax.texts]:
        artist.remove()
    if ax.get_xscale() != "linear":
        ax.set_xscale("linear")


def _draw_lanes(ax, timeline: Timeline, width_in: float) -> set[str]:
    """The lanes, the outage band and the time ticks of one Timeline into ``ax`` (no titles, no legend).

    Returns the kinds it drew where a reader can see them: the legend lists those and nothing else.
    """
    drawn: set[str] = set()
    total = sum(lane.height for lane in timeline.lanes)
    axis = timeline.axis
    x_lo, x_hi = axis.lo, axis.hi
    if axis.scale == "symlog":
        ax.set_xscale("symlog", linthresh=axis.linthresh, linscale=LINSCALE)
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(0, total)

    for a, b in timeline.outage:
        ax.axvspan(a, b, color=OUTAGE_COLOR, alpha=0.16, zorder=0, linewidth=0)

    y_top = total
    yticks, ynames, separators = [], [], []
    for lane in timeline.lanes:
        h = lane.height
        y0 = y_top - h
        center = y0 + h / 2
        yticks.append(center)
        ynames.append(lane.name)
        separators.append(y0)
        labelled = lane.labelled if lane.labelled is not None else any(m.annotate for m in lane.marks)
        # a lane with labels keeps its marks low and writes the labels above them
        mark_y = y0 + 0.32 * h if labelled else center
        if lane.key == "s3":
            for b in lane.bars:
                style = STYLES[b.kind]
                drawn.add(b.kind)
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
            # bars of one kind in one row are one collection, ticks (too short to see) one Line2D
            wide: dict[tuple[str, float, float], list[tuple[float, float]]] = {}
            ticks: dict[tuple[str, float, float], list[float]] = {}
            for b, row in zip(lane.bars, rows):
                y = base + row * row_h if not labelled else base
                bh = row_h * (0.85 if not labelled else 1.0)
                if axis.fraction(b.end) - axis.fraction(b.start) < 0.004:
                    ticks.setdefault((b.kind, y, bh), []).append(b.start)
                else:
                    wide.setdefault((b.kind, y, bh), []).append((b.start, b.end - b.start))
            for (kind, y, bh), xs in ticks.items():
                style = STYLES[kind]
                if kind == "session" and lane.marks:
                    continue  # an instant session is its reply mark: a tick under it would not be seen
                drawn.add(kind)
                ax.plot(xs, [y] * len(xs), marker="|", markersize=bh * _LANE_INCHES * 72,
                        color=style.color if style.color != GREY else "#555555", markeredgewidth=2.2,
                        zorder=3, linestyle="none")
            for (kind, y, bh), ranges in wide.items():
                style = STYLES[kind]
                drawn.add(kind)
                ax.broken_barh(ranges, (y - bh / 2, bh), facecolors=style.color, hatch=style.hatch,
                               edgecolors=style.edge, linewidth=0.6, zorder=2, alpha=style.alpha)
            for b, row in zip(lane.bars, rows):
                style = STYLES[b.kind]
                y = base + row * row_h if not labelled else base
                if b.open:
                    ax.plot([b.end], [y], marker=">", color=style.edge if style.edge != "white" else style.color,
                            markersize=7, zorder=4, clip_on=False, linestyle="none")
                if b.annotate:
                    _bar_text(ax, axis, b, y, width_in)
        # one Line2D per kind of mark (and one for their duration lines), not one per mark: a 4-day
        # trace has hundreds of marks, and each artist costs time on every redraw
        by_kind: dict[tuple[str, int], list[Mark]] = {}
        for m in lane.marks:
            by_kind.setdefault((m.kind, m.row), []).append(m)
        n_rows = max((m.row for m in lane.marks), default=0) + 1
        for (kind, row), marks in by_kind.items():
            style = STYLES[kind]
            # store loops that overlap in time each get a row (Mark.row), as stacked bars do
            y_mark = mark_y if n_rows == 1 else y0 + 0.15 * h + 0.35 * h / n_rows + row * 0.7 * h / n_rows
            drawn.add(kind)
            shrink = 0.65 if len(marks) > 40 else 1.0  # many marks of a kind: smaller ones stay apart
            lines = [m for m in marks if m.duration and m.duration > 0]
            if lines:
                xs = [v for m in lines for v in (m.t, m.t + m.duration, np.nan)]
                ax.plot(xs, [y_mark if not np.isnan(x) else np.nan for x in xs], color=style.color, linewidth=2,
                        zorder=3)
            ax.plot([m.t for m in marks], [y_mark] * len(marks), marker=style.marker,
                    markersize=style.size * shrink, linestyle="none",
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

    # the grey line under each lane, all in one collection (an axhline each was an artist per lane); projecting
    # caps, as a Line2D's, so the pixels are the same as before
    ax.hlines(separators, 0, 1, transform=ax.get_yaxis_transform(), colors="#d0d0d0", linewidth=0.6,
              capstyle="projecting", zorder=1)
    ax.set_yticks(yticks, ynames, fontsize=9)
    ax.tick_params(axis="y", length=0)
    ax.set_xticks(axis.ticks, axis.labels, fontsize=9)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.grid(axis="x", color="#e4e4e4", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    return drawn


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


def _legend_handles(timeline: Timeline, drawn: Optional[set] = None) -> list:
    """Legend entries for the kinds drawn (``drawn``, from :func:`_draw_lanes`; default: every kind held)."""
    handles: list = []
    for kind in timeline.kinds():
        if drawn is not None and kind not in drawn:
            continue
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
def plot_put(trace: StoreTrace, ax=None, scale: str = "auto", lanes=None, headline: str = "",
             horizon: Optional[float] = None) -> Figure:
    """One PUT's retry loop in lanes: S3 state, requests, backoff sleeps, outcome.

    ``lanes`` (keys, or a name in :data:`LANE_SETS`) draws only those; ``headline`` is the bold title;
    ``horizon`` (seconds) stretches the time axis, so the frames of a slider share one axis.
    """
    return draw(put_lanes(trace, scale=scale, lanes=lanes, headline=headline, horizon=horizon), ax)


def plot_delivery(trace: DeliveryTrace, faults=None, ax=None, scale: str = "auto", lanes=None,
                  headline: str = "", horizon: Optional[float] = None) -> Figure:
    """One message's journey in lanes: S3, requests, sleeps, SMTP sessions, custody, mailbox and DSNs.

    ``lanes`` (keys, or a name in :data:`LANE_SETS`, e.g. ``"copy"``) draws only those, for a
    progressive figure; ``headline`` is the bold title (what to notice), the verdict going to the caption.
    """
    return draw(delivery_lanes(trace, faults, scale, horizon=horizon, lanes=lanes, headline=headline), ax)


def plot_schedules(schedules: Sequence[Any] = ("stalwart", "postfix", "exim", "rfc5321"),
                   horizon: Union[str, float] = 5 * DAY, ax=None, scale: str = "auto") -> Figure:
    """The senders' attempt times side by side, if every attempt fails, up to ``horizon``."""
    return draw(schedule_lanes(schedules, horizon, scale), ax)


def plot_fates(traces: Mapping[str, DeliveryTrace], outage, horizon=6.5 * DAY, names=None, headline: str = "",
               ax=None) -> Figure:
    """Each sender's fate in one outage, one lane per sender (:func:`~blobedu.plots.lanes.fate_lanes`)."""
    return draw(fate_lanes(traces, outage, horizon, names, headline), ax)


def plot_versions(traces: Mapping[str, StoreTrace], ax=None, scale: str = "auto") -> Figure:
    """Several PUT traces (e.g. from :func:`version_traces`) one lane each, on one time axis."""
    return draw(version_lanes(traces, scale), ax)


#: Series styles for curves: colour, marker and line style all differ.
SERIES = (
    (_C["blue"], "o", "-"), (_C["vermillion"], "s", "--"), (_C["bluish green"], "^", ":"),
    (_C["reddish purple"], "D", "-."), (_C["orange"], "v", "-"), (_C["sky blue"], "P", "--"),
)


def plot_delay_curve(points: Union[Sequence[dict], Mapping[str, Sequence[dict]]], ax=None,
                     scale: str = "auto", title: str = "") -> Figure:
    """Outage length against delivery delay (from :func:`delay_curve`), one curve per sender.

    Each delivered point holds as a flat step to the right until it meets the diagonal (a longer
    outage still catches the same attempt); bounces and losses, which have no 250, sit in a strip
    above the plot.  ``title`` says what to notice (default: what the plot is).
    """
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
    # bounced and lost messages never get a 250, so they have no place on the delay axis: they go in a
    # strip of their own above the plot, at their outage length, labelled with when it happened
    ends = [s["bounced"] + s["lost"] for s in series.values()]
    strip = None
    if any(ends):
        strip = ax.inset_axes((0.0, 1.03, 1.0, 0.09), sharex=ax)
        strip.set_ylim(-0.5, len(series) - 0.5)
        strip.set_yticks([len(series) / 2 - 0.5], ["no 250:"], fontsize=8)
        strip.tick_params(axis="x", labelbottom=False, length=0)
        strip.tick_params(axis="y", length=0)
        for side in ("top", "right", "left"):
            strip.spines[side].set_visible(False)
    n = len(series)
    for i, ((name, s), (color, marker, line)) in enumerate(zip(series.items(), SERIES * 4)):
        # later series are drawn smaller and on top, so a point that coincides with another's stays visible
        size = 9.0 - 6.0 * i / max(n, 2)
        if s["delivered"]:
            xs, ys = zip(*s["delivered"])
            # a staircase, not a slope: a message waits for the sender's next attempt, so each point's delay
            # holds for longer outages until the outage reaches that attempt (the diagonal), then jumps
            px, py = [], []
            for k, (x, y) in enumerate(zip(xs, ys)):
                nxt = xs[k + 1] if k + 1 < len(xs) else x
                px += [x, max(x, min(y, nxt)), np.nan]
                py += [y, y, np.nan]
            ax.plot(px, py, color=color, linestyle=line, linewidth=1.6, zorder=3)
            ax.plot(xs, ys, color=color, marker=marker, linestyle="none", markersize=size,
                    markeredgecolor="black", markeredgewidth=0.5, label=f"{name}: delivered", zorder=3 + i * 0.1)
        if strip is not None and (s["bounced"] or s["lost"]):
            for pairs, mk, what in ((s["bounced"], "X", "bounced"), (s["lost"], "*", "LOST after a 250")):
                if not pairs:
                    continue
                xs, at = zip(*pairs)
                strip.plot(xs, [n - 1 - i] * len(xs), color=color, marker=mk, linestyle="none", markersize=size + 1,
                           markeredgecolor="black" if mk == "X" else color, markeredgewidth=0.8,
                           markerfacecolor="white" if mk == "*" else color)
                ax.plot([], [], color=color, marker=mk, linestyle="none", markersize=9,
                        markerfacecolor="white" if mk == "*" else color,
                        markeredgecolor="black" if mk == "X" else color, label=f"{name}: {what} (strip above)")
                strip.annotate(f"{name}: {format_duration(at[0])}", (xs[0], n - 1 - i), xytext=(-4, 0),
                               textcoords="offset points", ha="right", va="center", fontsize=7, color="#333333")
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
    (strip or ax).set_title(title or "How long an S3 outage delays a message, by sending server", loc="left",
                            fontsize=11 if own else 10, fontweight="bold" if own else "normal")
    return fig
