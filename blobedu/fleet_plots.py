"""Views of a fleet run (notebook 07): curves over time, the delay distribution, the recovery burst, and a panel.

Nothing here decides behaviour: every figure is drawn from a :class:`~blobedu.fleet.FleetResult`
(its ``series`` and its per-message ``detail``), and the panel's decisions are plain functions of a
``values`` dict (:func:`fleet_scenario_from_values`, :func:`run_fleet_panel`, :func:`fleet_verdict`),
testable without a browser, as in :mod:`blobedu.widgets`.  :class:`FleetPanel` is wiring only.

Colours are the Okabe-Ito palette of :mod:`blobedu.plots`; S3 outage windows are grey bands.
"""

from __future__ import annotations

import html
from typing import Any, Mapping, Optional, Sequence

import ipywidgets as widgets
import matplotlib
from matplotlib.ticker import MaxNLocator
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .durations import format_duration
from .errors import BlobeduError
from .faults import Fault, parse
from .fleet import FleetConfig, FleetResult, parse_senders, run
from .plots import OKABE_ITO, OUTAGE_COLOR, PANEL_RC, png_base64
from .versions import LATEST, behaviour
from .widgets import StoredFigure, _dropdown, _duration, _max_retries, _version_options, problem

MIB = 2**20
_C = OKABE_ITO


class FleetFigure(Figure):
    """A Figure that shows itself as a PNG in Jupyter (no pyplot, so it is never shown twice)."""

    def _repr_png_(self) -> bytes:
        import io

        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=80)
        return buf.getvalue()


def _figure(width: float, height: float, layout: Optional[str] = "constrained") -> Figure:
    fig = FleetFigure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(fig)
    return fig


#: The panel's figure has fixed margins, in inches (left: two-line axis labels and their ticks;
#: top: the title; bottom: the time axis and the caption; between the stacked axes): the
#: constrained layout measured every tick label on every redraw, a third of the panel's time.
_FIXED_INCHES = {"left": 1.05, "right": 0.2, "top": 0.45, "bottom": 0.72, "gap": 0.3}


def _caption(fig: Figure, text: str) -> None:
    """The configuration, small, under the figure (the constrained layout, if any, keeps room for it)."""
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.set(rect=(0, 0.035, 1, 0.965))
    fig.text(0.01, 0.003, text, fontsize=7.5, color="#555555", ha="left", va="bottom")


def _hours(ts: Sequence[float]) -> list[float]:
    return [t / 3600.0 for t in ts]


def _outages(ax, result: FleetResult) -> None:
    """Grey bands where S3 meets a fault (the last S3 change ends the last band)."""
    end = result.series["t"][-1]
    for kind, start, stop in result.s3_windows:
        ax.axvspan(max(0.0, start) / 3600, (end if stop is None else stop) / 3600, color=OUTAGE_COLOR, alpha=0.25,
                   lw=0, label=_window(kind, start, stop))


def describe(result: FleetResult) -> str:
    """The run's configuration in words, for a figure's small caption (never a command line)."""
    c = result.config
    total = sum(c["senders"].values()) or 1.0
    mix = ", ".join(f"{k.capitalize()} {100 * v / total:.0f} %" for k, v in c["senders"].items())
    servers = (f"{result.sending_servers:,} sending servers" if result.sending_servers
               else "one unlimited sending server per kind")
    outages = "; ".join(_window(kind, start, stop) for kind, start, stop in result.s3_windows) or "S3 never fails"
    s3_kinds = {k for k, _, _ in result.s3_windows}
    other = [_node_fault(f) for f in (parse(spec) for spec in result.faults) if f.kind not in s3_kinds]
    receiver = "a write-ahead spool in front of S3" if c.get("receiver") == "wal" else "no spool"
    extra = []
    if c.get("s3_capacity"):
        extra.append(f"S3 serves {c['s3_capacity']:g} writes a second ({c.get('s3_burst', 1.0):g} s burst)")
    if c.get("jitter") == "full":
        extra.append("store backoff with full jitter (counterfactual, not Stalwart)")
    if c.get("phases") == "aligned" and result.sending_servers:
        extra.append("queue runs in step")
    return (f"{result.messages:,} messages over {format_duration(c['over'])} from {servers} ({mix}) to Stalwart "
            f"{c['store']['version']} ({receiver}); {outages}" + "".join(f"; {e}" for e in extra + other))


def _node_fault(f: Fault) -> str:
    """A fault that is not S3's, in words ("the receiver's disk is lost at 11h")."""
    what = {"disk-loss": "the receiver's disk is lost", "crash": "the receiver crashes"}.get(f.kind, f.kind.replace("-", " "))
    return f"{what} at {format_duration(f.start)}" + ("" if f.end is None or f.end == f.start else
                                                      f" to {format_duration(f.end)}")


def _window(kind: str, start: float, stop: Optional[float]) -> str:
    what = {"refused": "S3 refuses connections", "timeout": "S3 is silent", "503": "S3 answers 503"}.get(kind, f"S3: {kind}")
    return f"{what} from {format_duration(start)}" + ("" if stop is None else f" to {format_duration(stop)}")


def headline(result: FleetResult) -> str:
    """A title that says what to notice: the pile at the senders, how long it takes to clear, what bounced."""
    p, f, d = result.peaks, result.fates, result.drain
    held = p["sender_backlog"]
    text = f"{held:,} message{'' if held == 1 else 's'} wait{'s' if held == 1 else ''} at the senders' queues at most"
    drain = d.get("sender_backlog_seconds")
    if drain is not None and result.s3_windows:
        text += f"; the last leaves {format_duration(drain)} after S3 returns"
    if f["bounced"]:
        text += f"; {f['bounced']:,} bounce{'s' if f['bounced'] == 1 else ''}"
    if f["lost"]:
        text += f"; {f['lost']:,} lost"
    return text


def _plateau(x: Sequence[float], ys: Sequence[float], after: float) -> Optional[tuple[float, float, float]]:
    """The longest stretch after ``after`` where ``ys`` stays at one level above 0: ``(x0, x1, level)``."""
    best, i, n = None, 0, len(ys)
    while i < n:
        j = i
        while j + 1 < n and ys[j + 1] == ys[i]:
            j += 1
        if x[i] >= after and ys[i] > 0 and j > i and (best is None or x[j] - x[i] > best[1] - best[0]):
            best = (x[i], x[j], ys[i])
        i = j + 1
    return best


def _annotate_plateau(ax, x: Sequence[float], ys: Sequence[float], after: float, why: str) -> None:
    found = _plateau(x, ys, after)
    if found is None or found[1] - found[0] < 0.05 * (x[-1] - x[0]):
        return
    x0, x1, level = found
    ax.annotate(f"{level:,.0f} waiting {format_duration((x1 - x0) * 3600)}: {why}", xy=((x0 + x1) / 2, level),
                xytext=(0, 12), textcoords="offset points", ha="center", fontsize=8, color="#333333",
                arrowprops=dict(arrowstyle="-", color="#777777", lw=0.8))


#: Why the senders' backlog sits still after S3 returns: nobody retries until the next scheduled try.
PLATEAU_WHY = "their senders' next tries are hours away"


def series_figure(result: FleetResult, title: Optional[str] = None, caption: Optional[str] = None,
                  hours: Optional[tuple[float, float]] = None, layout: str = "constrained") -> Figure:
    """The day over time, one quantity per panel, only the panels that have something to show.

    Messages held by senders (its longest plateau after S3's return annotated), bodies in the
    receiver's memory, S3 requests in the busiest second of each step, the 503 SlowDown answers on
    their own axis (only when S3's capacity answered any) and the spool (only for the ``wal``
    receiver).  ``title`` says what to notice (default :func:`headline`); the configuration goes in a
    small caption (default :func:`describe`).  The x axis runs to the end of the run: past the drain.
    ``layout="fixed"`` (the panel's redraws) places the axes with fixed margins (:data:`_FIXED_INCHES`).
    """
    s = result.series
    x = _hours(s["t"])
    panels = [("messages held\nby senders", "sender_backlog", _C["blue"], 1.0),
              ("receiver memory\n(MiB)", "receiver_memory_bytes", _C["orange"], MIB),
              ("S3 requests in\nthe busiest second", "s3_peak_requests_per_s", _C["vermillion"], 1.0)]
    if result.s3_slowdowns:
        panels.append(("503 SlowDown\nin one second", "s3_peak_slowdowns_per_s", _C["reddish purple"], 1.0))
    if result.config.get("receiver") == "wal":
        panels.append(("spool (MiB)", "spool_bytes", _C["bluish green"], MIB))
    width, height = 10.5, 1.7 * len(panels) + 1.2
    grid = None  # the constrained layout places the axes
    if layout == "fixed":
        m = _FIXED_INCHES
        each = (height - m["top"] - m["bottom"] - m["gap"] * (len(panels) - 1)) / len(panels)
        grid = {"left": m["left"] / width, "right": 1 - m["right"] / width, "top": 1 - m["top"] / height,
                "bottom": m["bottom"] / height, "hspace": m["gap"] / each}
    fig = _figure(width, height, layout=None if grid else "constrained")
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False, gridspec_kw=grid)[:, 0]
    back = result.drain.get("s3_back_at")
    for ax, (label, name, colour, scale) in zip(axes, panels):
        _outages(ax, result)
        ys = s[name]
        ax.plot(x, [y / scale for y in ys], color=colour, lw=1.2, drawstyle="steps-post")
        ax.set_ylabel(label, fontsize=9)
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0, top=max(1.0, max(ys, default=0) / scale) * 1.25)
        if scale == 1.0:  # counts (messages, requests): whole-number ticks, never 0.5 of a message
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        if name == "sender_backlog" and back is not None:
            _annotate_plateau(ax, x, ys, back / 3600.0, PLATEAU_WHY)
    if hours:
        axes[0].set_xlim(*hours)
    else:
        axes[0].set_xlim(0, x[-1])
    if result.s3_windows:
        axes[0].legend(fontsize=8, loc="upper right")
    axes[-1].set_xlabel("hours from the first message")
    fig.suptitle(title or headline(result), fontsize=11, fontweight="bold")
    _caption(fig, caption or describe(result))
    return fig


def _title(result: FleetResult) -> str:
    """Kept for callers of the old name: the headline, then the configuration in words."""
    return f"{headline(result)}\n{describe(result)}"


def delays(result: FleetResult) -> list[float]:
    """Each delivered message's delay in seconds (arrival to a durable copy in the receiver's queue)."""
    return [m.delivered_at - m.arrival for m in result.detail if m.delivered_at is not None]


#: A message delivered within this many seconds of its arrival was "delivered at once" (its first session,
#: set-up and body included); later than that, it waited for a retry.
ON_TIME_SECONDS = 60.0


def delay_figure(result: FleetResult) -> Figure:
    """The delay distribution of the mail delivered late (after :data:`ON_TIME_SECONDS`), and the rest's fates."""
    ds = [d / 3600.0 for d in delays(result)]
    fig = _figure(10.5, 3.4)
    ax = fig.subplots()
    late = [d for d in ds if d > ON_TIME_SECONDS / 3600.0]
    if late:
        ax.hist(late, bins=60, color=_C["blue"], alpha=0.85)
    ax.set_xlabel(f"delay (hours) of the messages delivered more than {format_duration(ON_TIME_SECONDS)} after they arrived")
    ax.set_ylabel("messages")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    d, f = result.delay, result.fates
    on_time = len(ds) - len(late)
    fig.suptitle(f"{on_time:,} delivered within {format_duration(ON_TIME_SECONDS)}, {len(late):,} later, the latest after "
                 f"{_fmt(d['max'])}",
                 fontsize=11, fontweight="bold")
    ax.set_title(f"delay p50 {_fmt(d['p50'])}, p90 {_fmt(d['p90'])}, p99 {_fmt(d['p99'])}; bounced {f['bounced']:,}, "
                 f"lost {f['lost']:,}, still queued {f['queued']:,}", fontsize=8.5, color="#555555")
    return fig


def _fmt(seconds: Optional[float]) -> str:
    return "-" if seconds is None else format_duration(seconds)


def compare_figure(results: Mapping[str, FleetResult], series: Sequence[str] = ("sender_backlog", "receiver_memory_bytes"),
                   hours: Optional[tuple[float, float]] = None, title: Optional[str] = None,
                   caption: Optional[str] = None) -> Figure:
    """Several runs, one line each, on the same axes: one panel per series.

    ``hours`` zooms in, but never cuts before the last run's senders have let go of their backlog.
    """
    labels = {"sender_backlog": "messages held by senders", "receiver_memory_bytes": "receiver memory (MiB)",
              "s3_requests_per_s": "S3 requests / s", "s3_peak_requests_per_s": "S3 requests in the busiest second",
              "spool_bytes": "spool (MiB)", "receiver_sessions": "sessions open at the receiver",
              "s3_peak_slowdowns_per_s": "503 SlowDown in the busiest second"}
    colours = [_C["blue"], _C["vermillion"], _C["bluish green"], _C["reddish purple"], _C["orange"], _C["black"]]
    fig = _figure(10.5, 2.3 * len(series) + 0.6)
    axes = fig.subplots(len(series), 1, sharex=True, squeeze=False)[:, 0]
    first = next(iter(results.values()))
    for ax, name in zip(axes, series):
        _outages(ax, first)
        scale = MIB if name.endswith("_bytes") else 1.0
        for (label, result), colour in zip(results.items(), colours):
            ax.plot(_hours(result.series["t"]), [y / scale for y in result.series[name]], color=colour, lw=1.4,
                    drawstyle="steps-post", label=label)
        ax.set_ylabel(labels.get(name, name), fontsize=9)
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
        if scale == 1.0:  # counts: whole-number ticks
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if hours:
        axes[0].set_xlim(hours[0], max(hours[1], _drained_by(results.values()) * 1.02))
    axes[0].legend(fontsize=8, loc="upper right")
    axes[-1].set_xlabel("hours from the first message")
    if title:
        fig.suptitle(title, fontsize=11, fontweight="bold")
    if caption:
        _caption(fig, caption)
    return fig


def _drained_by(results) -> float:
    """The hour by which every run's senders let go of what they held when S3 came back (0 if unknown)."""
    ends = [(r.drain["s3_back_at"] + r.drain["sender_backlog_seconds"]) / 3600.0 for r in results
            if r.drain.get("s3_back_at") is not None and r.drain.get("sender_backlog_seconds") is not None]
    return max(ends, default=0.0)


def by_sender_rows(result: FleetResult) -> list[dict[str, str]]:
    """One row per sending server: messages, fates, SMTP sessions, and the delay of its delivered mail."""
    from .fleet import _percentiles

    rows = []
    for name in result.config["senders"]:
        mine = [m for m in result.detail if m.sender == name]
        if not mine:
            continue
        d = _percentiles([m.delivered_at - m.arrival for m in mine if m.delivered_at is not None])
        count = {fate: sum(1 for m in mine if m.fate == fate) for fate in ("delivered", "bounced", "lost", "queued")}
        rows.append({"sender": name, "messages": f"{len(mine):,}", "delivered": f"{count['delivered']:,}",
                     "bounced": f"{count['bounced']:,}", "SMTP sessions": f"{sum(m.session_count for m in mine):,}",
                     "delay p50": _fmt(d["p50"]), "p90": _fmt(d["p90"]), "p99": _fmt(d["p99"]), "max": _fmt(d["max"])})
    return rows


def burst_rows(results: Mapping[str, FleetResult], key: str = "S3 capacity") -> list[dict[str, str]]:
    """One row per run: its label (under ``key``), 503 SlowDown answers, the busiest second, the drain."""
    rows = []
    for label, r in results.items():
        drain = r.drain.get("sender_backlog_seconds")
        rows.append({key: label, "S3 requests": f"{r.s3_requests:,}", "503 SlowDown": f"{r.s3_slowdowns:,}",
                     "busiest second": f"{r.peaks['s3_requests_per_s']:,}",
                     "backlog drained after": "-" if drain is None else format_duration(drain),
                     "delay p99": _fmt(r.delay["p99"]), "bounced": f"{r.fates['bounced']:,}"})
    return rows


def sessions_rows(results: Mapping[str, FleetResult]) -> list[dict[str, str]]:
    """One row per run: the receiver's sessions at most, refused at its cap, the memory their bodies held, fates."""
    return [{"run": label, "sessions at most": f"{r.sessions_peak:,}", "refused at the cap": f"{r.sessions_refused:,}",
             "bodies in memory at most": f"{r.peaks['receiver_memory_bytes'] / 2**20:,.0f} MiB",
             "SMTP sessions": f"{r.smtp_sessions:,}", "delivered": f"{r.fates['delivered']:,}",
             "bounced": f"{r.fates['bounced']:,}"} for label, r in results.items()]


# -- jitter: Stalwart's store backoff today, and a counterfactual with full jitter --------------------------
def jitter_rows(results: Mapping[str, FleetResult]) -> list[dict[str, str]]:
    """One row per run: S3 requests, 503 SlowDown, SMTP sessions (each 451 is one more), the busiest second, the drain."""
    rows = []
    for label, r in results.items():
        drain = r.drain.get("sender_backlog_seconds")
        rows.append({"run": label, "S3 requests": f"{r.s3_requests:,}", "503 SlowDown": f"{r.s3_slowdowns:,}",
                     "SMTP sessions": f"{r.smtp_sessions:,}", "busiest second": f"{r.peaks['s3_requests_per_s']:,}",
                     "backlog drained after": "-" if drain is None else format_duration(drain),
                     "delay p99": _fmt(r.delay["p99"])})
    return rows


def recovery_figure(results: Mapping[str, FleetResult], seconds: int = 120, title: Optional[str] = None,
                    caption: Optional[str] = None) -> Figure:
    """Side by side, one column per run: second by second after S3 returns, the requests S3 served (top)
    and the ones it answered 503 SlowDown (bottom), each on its own axis."""
    n = len(results)
    fig = _figure(10.5, 4.6)
    axes = fig.subplots(2, n, sharex=True, sharey="row", squeeze=False)
    for col, (label, r) in enumerate(results.items()):
        rec = r.recovery
        if not rec:
            raise BlobeduError("recovery_figure needs runs whose S3 comes back (a fault with an end)")
        req, slow = rec["requests"][:seconds], rec["slowdowns"][:seconds]
        served = [a - b for a, b in zip(req, slow)]
        xs = list(range(len(req)))
        top, bottom = axes[0][col], axes[1][col]
        top.bar(xs, served, width=1.0, align="edge", color=_C["bluish green"], lw=0)
        bottom.bar(xs, slow, width=1.0, align="edge", color=_C["vermillion"], lw=0)
        top.set_title(f"{label}\n{sum(slow):,} answered 503 SlowDown, {sum(served):,} served in {seconds} s",
                      fontsize=9)
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        bottom.set_xlabel("seconds after S3 returns")
    axes[0][0].set_ylabel("requests S3 served\nin each second", fontsize=9)
    axes[1][0].set_ylabel("requests answered\n503 SlowDown", fontsize=9)
    fig.suptitle(title or "After the outage, second by second", fontsize=11, fontweight="bold")
    if caption:
        _caption(fig, caption)
    return fig


# -- the outage-length slider (notebook 07's carrying figure) ----------------------------------------------
def outage_run(length: str, messages: int = 2_000, start: str = "6h", **kw) -> FleetResult:
    """One day of mail with real senders through a refused S3 of ``length`` from ``start`` (a frame of 07's slider)."""
    from .durations import parse_duration

    a = parse_duration(start)
    return run([Fault("refused", a, a + parse_duration(length))], FleetConfig.real(messages=messages, **kw))


def outage_headline(length: str, result: FleetResult) -> str:
    """The frame's title: the outage, then what to notice."""
    return f"S3 down {length}: {headline(result)}"


# -- the panel: plain functions of a values dict ------------------------------------------------------------
SENDER_MIXES = ("stalwart:40,postfix:40,exim:20", "stalwart:100", "postfix:100", "exim:100")
OUTAGES = ("none", "1h", "3h", "6h", "12h", "1d", "4d")
FLEET_KINDS = (("connection refused", "refused"), ("timeout (S3 silent)", "timeout"), ("503 Slow Down", "503"))
RATES = (100, 300, 1000, 3000)
CAPACITIES = (("unlimited", ""), ("500 req/s", "500"), ("100 req/s", "100"), ("20 req/s", "20"), ("5 req/s", "5"))
FLEET_DEFAULTS: dict[str, Any] = {
    "messages": 1000, "outage": "6h", "kind": "refused", "start": "6h", "senders": SENDER_MIXES[0],
    "max_retries": 3, "version": LATEST, "receiver": "stalwart", "capacity": "",
}


def fleet_scenario_from_values(values: Mapping[str, Any]) -> tuple[list[Fault], FleetConfig]:
    """``(faults, FleetConfig)`` for the fleet panel: one day of mail; raises :class:`BlobeduError` on bad values."""
    from .store import StoreConfig

    unknown = set(values) - set(FLEET_DEFAULTS)
    if unknown:
        raise BlobeduError(f"unknown control {', '.join(sorted(unknown))}: the controls are {', '.join(FLEET_DEFAULTS)}")
    v = {**FLEET_DEFAULTS, **values}
    faults: list[Fault] = []
    if str(v["outage"]) != "none":
        start = _duration("from", v["start"])
        length = _duration("outage", v["outage"])
        if not length > 0:
            raise BlobeduError("the outage must last more than 0 seconds")
        parse(f"{v['kind']}@0")  # the one parser decides which kinds exist
        faults.append(Fault(str(v["kind"]), start, start + length))
    version = str(v["version"])
    retries = _max_retries(v["max_retries"])
    if behaviour(version).max_retries_range is None:
        retries = None  # the version never retries: the slider says nothing
    capacity = str(v["capacity"]).strip()
    try:
        cap = float(capacity) if capacity else None
    except ValueError:
        raise BlobeduError(f"S3 capacity must be a number of requests per second, got {capacity!r}") from None
    try:
        messages = int(v["messages"])
    except (TypeError, ValueError):
        raise BlobeduError(f"messages per day must be a whole number, got {v['messages']!r}") from None
    config = FleetConfig.real(store=StoreConfig(version=version, max_retries=retries), messages=messages, over=86400.0,
                         senders=parse_senders(str(v["senders"])), receiver=str(v["receiver"]), s3_capacity=cap)
    config.check()
    return faults, config


def fleet_verdict(result: FleetResult) -> str:
    """One line: fates, delays, and the peaks of what piled up."""
    f, d, p = result.fates, result.delay, result.peaks
    return (f"{result.messages:,} messages: {f['delivered']:,} delivered (p50 {_fmt(d['p50'])}, p99 {_fmt(d['p99'])}), "
            f"{f['bounced']:,} bounced, {f['lost']:,} lost; peak {p['sender_backlog']:,} held by senders, "
            f"{p['receiver_memory_bytes'] / MIB:,.1f} MiB in receiver memory, {p['s3_requests_per_s']:,} S3 requests "
            f"in one second" + (f", {result.s3_slowdowns:,} answered 503 SlowDown" if result.s3_slowdowns else "")
            + (f", spool {p['spool_bytes'] / MIB:,.1f} MiB" if p["spool_bytes"] else ""))


def run_fleet_panel(values: Mapping[str, Any]):
    """Run the fleet the controls describe: ``(result, verdict)``, or ``(None, message)`` for bad values."""
    try:
        faults, config = fleet_scenario_from_values(values)
    except BlobeduError as exc:
        return None, problem(str(exc))
    result = run(faults, config)
    return result, fleet_verdict(result)


class FleetPanel(StoredFigure, widgets.VBox):
    """Controls for a day of mail, a one-line verdict and the four curves; ``result``, ``error``, ``verdict_text``."""

    def __init__(self, **defaults: Any) -> None:
        unknown = set(defaults) - set(FLEET_DEFAULTS)
        if unknown:
            raise BlobeduError(f"unknown control {', '.join(sorted(unknown))}: {', '.join(FLEET_DEFAULTS)}")
        v = {**FLEET_DEFAULTS, **defaults}
        self.controls: dict[str, widgets.Widget] = {
            "messages": _dropdown("messages per day", RATES, int(v["messages"]), "220px"),
            "outage": _dropdown("outage", OUTAGES, str(v["outage"]), "170px"),
            "kind": _dropdown("S3", FLEET_KINDS, str(v["kind"]), "240px"),
            "start": _dropdown("from", ("0", "1h", "6h", "12h"), str(v["start"]), "140px"),
            "senders": _dropdown("senders", SENDER_MIXES, str(v["senders"]), "330px"),
            "max_retries": widgets.IntSlider(value=int(v["max_retries"]), min=1, max=10, description="maxRetries",
                                             continuous_update=False, style={"description_width": "initial"}),
            "version": _dropdown("Stalwart", _version_options(str(v["version"])), str(v["version"]), "260px"),
            "receiver": _dropdown("receiver", ("stalwart", "wal"), str(v["receiver"]), "200px"),
            "capacity": _dropdown("S3 capacity", CAPACITIES, str(v["capacity"]), "220px"),
        }
        self.verdict = widgets.HTML()
        self.output = widgets.Output()
        self.result: Optional[FleetResult] = None
        self.error: Optional[str] = None
        self.verdict_text = ""
        self.png: Optional[str] = None
        self._holding = False
        rows = [["messages", "senders"], ["kind", "outage", "start"], ["version", "max_retries"],
                ["receiver", "capacity"]]
        super().__init__([widgets.HBox([self.controls[n] for n in row]) for row in rows] + [self.verdict, self.output])
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self.refresh()

    def values(self) -> dict[str, Any]:
        """The controls' current values."""
        return {name: control.value for name, control in self.controls.items()}

    def update(self, **values: Any) -> None:
        """Set several controls at once and run once."""
        unknown = set(values) - set(self.controls)
        if unknown:
            raise BlobeduError(f"unknown control {', '.join(sorted(unknown))}: {', '.join(self.controls)}")
        self._holding = True
        try:
            for name, value in values.items():
                try:
                    self.controls[name].value = value
                except Exception as exc:  # noqa: BLE001 - traitlets' TraitError: a value the control does not offer
                    raise BlobeduError(f"{name} cannot be {value!r}: {exc}") from None
        finally:
            self._holding = False
        self.refresh()

    def _changed(self, _change) -> None:
        if not self._holding:
            self.refresh()

    def refresh(self) -> None:
        """Run the fleet for the current values and redraw; bad values show a message instead of raising."""
        try:
            self.controls["max_retries"].disabled = behaviour(self.controls["version"].value).max_retries_range is None
        except BlobeduError:
            pass
        try:
            result, text = run_fleet_panel(self.values())
        except Exception as exc:  # noqa: BLE001 - a reader should see a message, not a traceback in a log
            result, text = None, problem(f"{type(exc).__name__}: {exc}")
        self.verdict_text = text
        if result is None:
            self.result, self.error, self.png = None, text, None
            self.verdict.value = f'<span style="color:#D55E00"><b>{html.escape(text)}</b></span>'
            self.output.outputs = ({"output_type": "display_data", "data": {"text/plain": text}, "metadata": {}},)
            return
        self.result, self.error = result, None
        self.verdict.value = f"<b>{html.escape(text)}</b>"
        # drawn and encoded the way the other panels redraw (unhinted text, zlib level 1: benchmarks/redraw.py)
        with matplotlib.rc_context(PANEL_RC):
            self.png = png_base64(series_figure(result, layout="fixed"), dpi=72, fast=True)
        self.output.outputs = ({"output_type": "display_data", "data": {"image/png": self.png, "text/plain": text},
                                "metadata": {}},)



def fleet_panel(**defaults: Any) -> FleetPanel:
    """A day of mail through an outage, as a panel (notebook 07)."""
    return FleetPanel(**defaults)
