"""Views of the designs side by side: notebook 08's table (each cell a real run) and its two-design panel.

Nothing here decides behaviour: every cell is a :func:`blobedu.delivery.deliver` run of one design
through one fault plan, with the same sender, and the words are read off its trace.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from ..durations import format_duration
from ..errors import BlobeduError
from . import NAMES, design
from .design import GRADES

#: The five columns of notebook 08's table: the same fault plans for every design.
SCENARIOS: dict[str, tuple[str, ...]] = {
    "refused 1 h": ("refused@0-1h",),
    "503 storm 1 h": ("503@0-1h",),
    "silent S3 1 h": ("timeout@0-1h",),
    "lost write 1 h": ("lost-write@0-1h",),
    "receiver disk loss at 10 min": ("disk-loss@10m",),
}
#: Custody holders in the words of the table (receiver memory is only a moment, so it is left out).
HOLDERS = {"sender queue": "sender", "S3": "S3", "spool": "spool", "local disk": "local disk",
           "one of two stores": "ONE of two stores", "MongoDB": "MongoDB"}


def holders(trace) -> str:
    """Who held the copy, in order: ``sender → S3``; a copy lost with its holder says so."""
    seen: list[str] = []
    for span in sorted(trace.custody, key=lambda c: c["from"]):
        name = HOLDERS.get(span["holder"])
        if name is None:
            continue
        if any(word in (span.get("note") or "") for word in ("lost", "kept nothing", "discarded")):
            name += " (lost)"
        if not seen or seen[-1] != name:
            seen.append(name)
    return " → ".join(seen) or "nobody"


def fate(trace) -> str:
    """The fate in a few words: ``delivered 1h02m``, ``BOUNCED at 4s (554)``, ``LOST after a 250``, with copies."""
    if trace.fate == "delivered":
        text = f"delivered {format_duration(trace.delivered_at)}"
        if trace.copies > 1:
            text += f", {trace.copies} COPIES"
        return text
    if trace.fate == "bounced":
        bounce = next((d for d in trace.dsns if d["kind"] == "failed"), None)
        code = next((s.reply.split()[0] for s in reversed(trace.sessions) if s.reply[:1] == "5"), None)
        return ("BOUNCED" + (f" at {format_duration(bounce['t'])}" if bounce else "")
                + (f" ({code})" if code else ""))
    return "LOST after a 250" if trace.copies else "LOST"


def run(name: str, faults: Sequence[str], sender: str = "stalwart", endpoint=None):
    """One delivery of the sample message through design ``name``."""
    from ..delivery import DeliveryConfig, deliver

    design(name)
    return deliver(list(faults), DeliveryConfig(receiver=name, sender=sender), endpoint=endpoint)


def outcome_table(names: Sequence[str] = NAMES, scenarios: Mapping[str, Sequence[str]] = SCENARIOS,
                  sender: str = "stalwart") -> list[dict[str, Any]]:
    """One row per design: for each scenario, ``fate · who held the copy``, each from a real run."""
    from ..endpoint import InProcessEndpoint

    rows = []
    with InProcessEndpoint() as endpoint:
        for name in names:
            row: dict[str, Any] = {"design": name}
            for label, faults in scenarios.items():
                endpoint.reset()
                trace = run(name, faults, sender, endpoint)
                row[label] = f"{fate(trace)} · {holders(trace)}"
            rows.append(row)
    return rows


def render_outcomes(rows: Sequence[Mapping[str, Any]], scenarios: Sequence[str] = tuple(SCENARIOS)) -> str:
    """The outcome table as text, one block per design (five columns would not fit a notebook's width)."""
    width = max(len(s) for s in scenarios)
    blocks = []
    for row in rows:
        lines = [f"{row['design']} ({design(row['design']).label})"]
        lines += [f"  {s:<{width}}  {row[s]}" for s in scenarios]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def read_not_run(names: Sequence[str] = NAMES) -> str:
    """What each model rests on: how many facts were read in code, in docs, seen in an experiment, or are unverified."""
    lines = []
    for n in names:
        counts = {g: 0 for g in ("code", "docs", "experiment", "unverified")}
        for f in design(n).facts:
            counts[f.grade] += 1
        lines.append(f"{n:<14} " + "  ".join(f"{g} {c}" for g, c in counts.items()))
    return "\n".join(lines)


def unverified(names: Sequence[str] = NAMES) -> str:
    """Every fact a model uses that nobody confirmed (documentation-only facts included), with why."""
    return "\n".join(f"{n:<14} {f.what}  [{f.grade}: {f.source}]" for n in names for f in design(n).facts
                     if f.grade in ("unverified", "docs"))


def promises(names: Sequence[str] = NAMES) -> list[dict[str, str]]:
    """What each design's 250 promises, and when that promise breaks (from the design modules)."""
    return [{"design": n, "after its 250": design(n).promise, "broken when": design(n).broken_when} for n in names]


# -- the two-design panel --------------------------------------------------------------------------------
PANEL_DEFAULTS: dict[str, Any] = {"top": "stalwart", "bottom": "maddy", "faults": "refused@0-1h",
                                  "sender": "stalwart", "scale": "auto"}


def run_pair(values: Mapping[str, Any]):
    """The same faults through two designs: ``({"top": trace, "bottom": trace}, two lines)``, or ``(None, message)``."""
    from ..widgets import _merged, fault_specs, problem, shared_endpoint

    try:
        values = _merged(values, PANEL_DEFAULTS)
        faults = fault_specs(values)
        traces = {}
        for slot in ("top", "bottom"):
            name = str(values[slot])
            design(name)
            if any(f.startswith(("datastore-down", "commit-fail")) for f in faults) and name != "stalwart":
                raise BlobeduError("datastore-down and commit-fail are faults of Stalwart's data store")
            # one moto endpoint a slot, kept between redraws and emptied before each run, as 04's panel does
            # (starting moto for every run cost about a fifth of a redraw)
            traces[slot] = run(name, faults, str(values["sender"]), shared_endpoint(f"pair:{slot}"))
    except BlobeduError as exc:
        return None, problem(str(exc))
    lines = [f"{values[slot]}: {fate(traces[slot])} · copy: {holders(traces[slot])}" for slot in ("top", "bottom")]
    return traces, "\n".join(lines)


def pair_lanes(traces: Mapping[str, Any], scale: str = "auto"):
    """Both designs' timelines on one time axis, each titled with its verdict line."""
    from .. import plots

    longest = max(plots.delivery_lanes(t, scale=scale).horizon for t in traces.values())
    timelines = {slot: plots.delivery_lanes(t, scale=scale, horizon=longest) for slot, t in traces.items()}
    axis = timelines["top"].axis
    c = traces["top"].config
    title = (f"the same faults through two designs: top, {c['receiver']}; bottom, {traces['bottom'].config['receiver']}"
             f" · sender {c['sender']} · faults: {', '.join(c.get('faults', [])) or 'none'}")
    return [plots.Timeline(title, f"{t.config['receiver']}: {fate(t)} · copy: {holders(t)}", tl.horizon, axis,
                           tl.lanes, tl.outage, tl.xlabel)
            for t, tl in ((traces[s], timelines[s]) for s in ("top", "bottom"))]


def pair_panel(**defaults: Any):
    """Notebook 08's panel: pick two designs, write the faults; both run, one above the other."""
    from ..schedules import SENDERS
    from ..widgets import Panel, _dropdown, _faults_box, _merged

    values = _merged(defaults, PANEL_DEFAULTS)
    controls = {
        "top": _dropdown("top", NAMES, values["top"], "230px"),
        "bottom": _dropdown("bottom", NAMES, values["bottom"], "230px"),
        "sender": _dropdown("sender", SENDERS, values["sender"], "200px"),
        "scale": _dropdown("time axis", ("auto", "linear", "symlog"), values["scale"], "200px"),
        "faults": _faults_box(values["faults"]),
    }
    return Panel(controls, [["top", "bottom"], ["sender", "scale"], ["faults"]], run_pair, pair_lanes)


# -- notebook 08's slider: two designs, one fault at a time (blobedu.frames.Frames) -------------------------
#: The slider's positions: one fault plan each, from the one a retry loop outlasts to the one nobody sees.
DUEL_FAULTS: dict[str, tuple[str, ...]] = {
    "refused 2 s": ("refused@0-2s",),
    "refused 1 h": ("refused@0-1h",),
    "one 503 (50 ms)": ("503@0-50ms",),
    "503 storm 1 h": ("503@0-1h",),
    "silent S3 1 h": ("timeout@0-1h",),
    "lost write 1 h": ("lost-write@0-1h",),
}
DUEL = ("stalwart", "maddy")
DUEL_SENDER = "postfix"


def duel_run(label: str, names: Sequence[str] = DUEL, sender: str = DUEL_SENDER) -> dict[str, Any]:
    """One slider position: the fault plan ``DUEL_FAULTS[label]`` through each design, one real delivery each."""
    from ..endpoint import InProcessEndpoint

    traces = {}
    with InProcessEndpoint() as endpoint:
        for name in names:
            endpoint.reset()
            traces[name] = run(name, DUEL_FAULTS[label], sender, endpoint)
    return traces


def duel_verdict(label: str, traces: Mapping[str, Any]) -> str:
    """One line: each design's fate and who held the copy."""
    return f"{label}: " + "; ".join(f"{n} {fate(t)} · copy: {holders(t)}" for n, t in traces.items())


def duel_headline(traces: Mapping[str, Any]) -> str:
    """What to notice in one frame: do the two designs end alike?"""
    fates = {n: fate(t) for n, t in traces.items()}
    bounced = [n for n, f in fates.items() if f.startswith("BOUNCED")]
    lost = [n for n, f in fates.items() if f.startswith("LOST")]
    if lost:
        return f"{' and '.join(lost)} answered 250 and S3 kept nothing: the message is gone"
    if bounced and len(bounced) < len(fates):
        kept = [n for n in fates if n not in bounced]
        return f"the same fault: {' and '.join(bounced)} bounced the message, {' and '.join(kept)} delivered it"
    if bounced:
        return "both bounced it"
    return "both delivered it: the fault was short enough, or a 4xx left it with the sender"


def duel_draw(label: str, traces: Mapping[str, Any]):
    """Both deliveries one above the other on one time axis: the replies, who held the copy, the outcome."""
    from .. import plots

    longest = max(plots.delivery_lanes(t).horizon for t in traces.values())
    timelines = [plots.delivery_lanes(t, horizon=longest, lanes="sender", headline=duel_headline(traces))
                 for t in traces.values()]
    shown = [plots.Timeline(tl.title, f"{n} ({design(n).version}): {fate(t)} · copy: {holders(t)}", tl.horizon,
                            timelines[0].axis, tl.lanes, tl.outage, tl.xlabel)
             for (n, t), tl in zip(traces.items(), timelines)]
    sender = next(iter(traces.values())).config["sender"]
    return plots.draw_stack(shown, f"{duel_headline(traces)} · fault: {', '.join(DUEL_FAULTS[label])} · "
                                   f"sender {sender}")


def duel_frames(value: str = "refused 1 h"):
    """Notebook 08's carrying figure: a slider over :data:`DUEL_FAULTS`, each frame two real deliveries."""
    from ..frames import Frames

    return Frames(list(DUEL_FAULTS), duel_run, duel_draw, description="S3 fault", value=value, verdict=duel_verdict)


def grade_rows(names: Sequence[str] = NAMES) -> list[dict[str, Any]]:
    """:func:`read_not_run` as table rows: per design, how many facts were read in code, in docs, run, unconfirmed."""
    rows = []
    for n in names:
        row: dict[str, Any] = {"design": n}
        row.update({g: sum(f.grade == g for f in design(n).facts) for g in GRADES})
        rows.append(row)
    return rows


def unverified_rows(names: Sequence[str] = NAMES) -> list[dict[str, str]]:
    """:func:`unverified` as table rows."""
    return [{"design": n, "fact": f.what, "grade": f.grade, "source": f.source} for n in names
            for f in design(n).facts if f.grade in ("unverified", "docs")]


__all__ = ["DUEL", "DUEL_FAULTS", "DUEL_SENDER", "duel_draw", "duel_frames", "duel_headline", "duel_run",
           "duel_verdict", "grade_rows", "unverified_rows",
           "HOLDERS", "PANEL_DEFAULTS", "SCENARIOS", "fate", "holders", "outcome_table", "pair_lanes", "pair_panel",
           "promises", "read_not_run", "render_outcomes", "run", "run_pair", "unverified"]
