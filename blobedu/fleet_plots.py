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


def _figure(width: float, height: float) -> Figure:
    fig = FleetFigure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _hours(ts: Sequence[float]) -> list[float]:
    return [t / 3600.0 for t in ts]


def _outages(ax, result: FleetResult) -> None:
    """Grey bands where S3 meets a fault (the last S3 change ends the last band)."""
    end = result.series["t"][-1]
    for kind, start, stop in result.s3_windows:
        ax.axvspan(max(0.0, start) / 3600, (end if stop is None else stop) / 3600, color=OUTAGE_COLOR, alpha=0.25,
                   lw=0, label=f"S3: {kind}")


def series_figure(result: FleetResult, title: Optional[str] = None) -> Figure:
    """Four curves over time: held by senders, receiver memory, S3 requests per second, the spool."""
    s = result.series
    x = _hours(s["t"])
    fig = _figure(10.5, 7.2)
    axes = fig.subplots(4, 1, sharex=True)
    panels = [
        ("messages held\nby senders", s["sender_backlog"], _C["blue"], 1.0),
        ("receiver memory\n(MiB)", s["receiver_memory_bytes"], _C["orange"], MIB),
        ("S3 requests\nin one second", s["s3_peak_requests_per_s"], _C["vermillion"], 1.0),
        ("spool (MiB)", s["spool_bytes"], _C["reddish purple"], MIB),
    ]
    for ax, (label, ys, colour, scale) in zip(axes, panels):
        _outages(ax, result)
        ax.plot(x, [y / scale for y in ys], color=colour, lw=1.2, drawstyle="steps-post",
                label="busiest second in each step" if ys is s["s3_peak_requests_per_s"] else None)
        ax.set_ylabel(label, fontsize=9)
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
        if scale == 1.0:  # counts (messages, requests): whole-number ticks, never 0.5 of a message
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    rate_ax = axes[2]
    rate_ax.plot(x, s["s3_requests_per_s"], color=_C["black"], lw=0.9, drawstyle="steps-post",
                 label="average over each step")
    capacity = result.config.get("s3_capacity")
    if capacity:
        rate_ax.axhline(capacity, color=_C["black"], ls="--", lw=1, label=f"capacity {capacity:g} req/s")
    rate_ax.set_ylim(bottom=0)
    rate_ax.legend(fontsize=8, loc="upper right")
    if result.config.get("receiver") != "wal":
        axes[3].text(0.5, 0.5, "Stalwart keeps no spool: until S3 has the blob, the sender keeps the message",
                     transform=axes[3].transAxes, ha="center", va="center", fontsize=9, color="#555555")
    axes[-1].set_xlabel("hours from the first message")
    fig.suptitle(title or _title(result), fontsize=10)
    return fig


def _title(result: FleetResult) -> str:
    c = result.config
    f = result.fates
    senders = ",".join(f"{k}:{v:g}" for k, v in c["senders"].items())
    return (f"{result.messages:,} messages over {format_duration(c['over'])} from {senders} to "
            f"Stalwart {c['store']['version']} ({c['receiver']}); faults {', '.join(result.faults) or 'none'}\n"
            f"{f['delivered']:,} delivered, {f['bounced']:,} bounced, {f['lost']:,} lost, {f['queued']:,} queued")


def delays(result: FleetResult) -> list[float]:
    """Each delivered message's delay in seconds (arrival to a durable copy in the receiver's queue)."""
    return [m.delivered_at - m.arrival for m in result.detail if m.delivered_at is not None]


def delay_figure(result: FleetResult) -> Figure:
    """The delay distribution of delivered mail, and how many bounced, were lost or are still queued."""
    ds = [d / 3600.0 for d in delays(result)]
    fig = _figure(10.5, 3.2)
    ax = fig.subplots()
    late = [d for d in ds if d > 0]
    if late:
        ax.hist(late, bins=60, color=_C["blue"], alpha=0.85)
    ax.set_xlabel("delay (hours) of the messages delivered late")
    ax.set_ylabel("messages")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    d, f = result.delay, result.fates
    on_time = len(ds) - len(late)
    ax.set_title(f"{on_time:,} delivered at once, {len(late):,} late (p50 {_fmt(d['p50'])}, p90 {_fmt(d['p90'])}, "
                 f"p99 {_fmt(d['p99'])}, max {_fmt(d['max'])});  bounced {f['bounced']:,}, lost {f['lost']:,}, "
                 f"queued {f['queued']:,}", fontsize=9)
    return fig


def _fmt(seconds: Optional[float]) -> str:
    return "-" if seconds is None else format_duration(seconds)


def compare_figure(results: Mapping[str, FleetResult], series: Sequence[str] = ("sender_backlog", "receiver_memory_bytes"),
                   hours: Optional[tuple[float, float]] = None) -> Figure:
    """Several runs, one line each, on the same axes: one panel per series."""
    labels = {"sender_backlog": "messages held by senders", "receiver_memory_bytes": "receiver memory (MiB)",
              "s3_requests_per_s": "S3 requests / s", "s3_peak_requests_per_s": "S3 requests in the busiest second",
              "spool_bytes": "spool (MiB)"}
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
            ax.set_xlim(*hours)
    axes[0].legend(fontsize=8, loc="upper right")
    axes[-1].set_xlabel("hours from the first message")
    return fig


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
                     "bounced": f"{count['bounced']:,}", "SMTP sessions": f"{sum(len(m.sessions) for m in mine):,}",
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
            self.png = png_base64(series_figure(result), dpi=72, fast=True)
        self.output.outputs = ({"output_type": "display_data", "data": {"image/png": self.png, "text/plain": text},
                                "metadata": {}},)



def fleet_panel(**defaults: Any) -> FleetPanel:
    """A day of mail through an outage, as a panel (notebook 07)."""
    return FleetPanel(**defaults)
