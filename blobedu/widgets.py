"""ipywidgets panels: change a fault, a version or a setting, and the timeline and the verdict follow.

Theory of operation
-------------------
Everything a panel decides lives in plain functions that take a ``values`` dict (control name to
value, the way the widgets hold them: durations as text like ``"1h"``) and need no browser:

* :func:`fault_specs` reads the faults box, one ``KIND@START[-END]`` spec a line, so several faults
  (an S3 window *and* a receiver event) run at once; :func:`blobedu.faults.parse` is the one judge
  of a line, and each bad line gets its own message naming it (:func:`fault_problems`);
* :func:`put_scenario_from_values`, :func:`scenario_from_values`, :func:`verify_scenario_from_values`
  and :func:`compare_scenario_from_values` turn values into faults and a
  :class:`~blobedu.store.StoreConfig` or :class:`~blobedu.delivery.DeliveryConfig` (one per design
  for the side-by-side panel), raising :class:`~blobedu.errors.BlobeduError` with a readable
  message for anything wrong (a bad duration, verify on 0.16.1, maxRetries outside the version's
  range, an unavailable receiver);
* the ``run_*_panel`` functions run the model and return ``(trace, verdict)``, or ``(None, message)``
  when the values are wrong, so a panel never raises at a reader.  They share one in-process moto
  endpoint (:func:`shared_endpoint`), emptied before each run: starting moto is a fifth of a redraw.

:class:`Panel` is only wiring.  It reads its controls into a values dict, calls its runner, draws
the trace with :mod:`blobedu.plots` into an ``ipywidgets.Image`` as a PNG, and writes the verdict
(a bad value shows there, once; the figure is then hidden).  What a redraw costs was measured
before it was cut (``benchmarks/redraw.py``): the model's run (about a third, mostly boto3 calls
into moto), building the figure and rasterising it (constrained layout alone was a third of the
drawing).  So panels share one moto endpoint, draw with the fixed layout of
:func:`blobedu.plots.draw` (one artist per kind of mark, not per mark), unhinted text
(:data:`blobedu.plots.PANEL_RC`) and zlib level 1, and send the PNG as an Image widget's binary
value: in the browser, swapping an ``<img>`` source costs less than re-rendering an Output area.
``Panel.timings`` keeps the last redraw's split (run, draw, encode, in ms).
Sliders and text boxes use ``continuous_update=False``, so a change runs the model once, when the
slider is released or the text is committed (Enter or leaving the box; a Textarea on leaving it).

The fault picker (#19 item 3): every panel with a faults box also gets a :class:`FaultPicker`, a
fault-kind dropdown with a start and a length slider, for the common case of one fault; the typed
box moves under an "advanced" accordion.  The box stays the one truth the runner reads: moving the
picker writes its one fault into the box (:func:`picked_spec`, the very spec the parser would
normalise the typed text to), and writing the box (typing, ``faults=``, :meth:`Panel.update`) moves
the picker (:func:`picker_choice`), or sets it to "as typed" for what it cannot show (several
faults, a status it does not list, a bad line, whose message the verdict shows once).

Three more panels than the PUT and delivery ones: :func:`verify_panel` (notebook 02: a lost-write
window, verifyAfterWrite, the version) and :func:`compare_panel` (notebook 04: the same faults
through Stalwart's receiver and a write-ahead spool, two timelines on one time axis, one verdict
line each with who held the copy when; its ``case`` presets fill the faults box).

A stored notebook shows the default figure even without a widget kernel: the saved widget state
holds the Image's PNG, and the panel's own display bundle carries the same PNG next to the widget
view, for renderers that cannot draw widgets (GitHub, nbviewer).
"""

from __future__ import annotations

import base64
import html
import re
from collections import Counter
from typing import Any, Callable, Mapping, Optional

import ipywidgets as widgets
import matplotlib

from . import plots
from .durations import format_duration, parse_duration
from .errors import BlobeduError
from .faults import DATASTORE_KINDS, RECEIVER_KINDS, S3_KINDS, Fault, _exact, parse
from .versions import LATEST, behaviour

SENDERS = ("stalwart", "postfix", "exim", "rfc5321")
RECEIVERS = ("stalwart", "wal")
VERIFY_CHOICES = (("version default", "default"), ("on", "on"), ("off", "off"))
#: The slider's range: wide enough to step outside 0.16's 1-10 and see the message.
MAX_RETRIES_SLIDER = (0, 20)
#: What the faults box shows as a hint: every kind, one spec a line.
FAULTS_HINT = ("one fault a line, KIND@START[-END]: 503@0-1h, refused@0-4d, timeout@0-10m, lost-write@0-1s, "
               "429@0-10m, crash@30m, disk-loss@30m, disk-full@0-1h")

PUT_DEFAULTS: dict[str, Any] = {
    "faults": "503@0-5s", "version": LATEST, "max_retries": 3, "timeout": "30s",
    "verify": "default", "latency": "0", "scale": "auto",
}
DELIVERY_DEFAULTS: dict[str, Any] = dict(
    PUT_DEFAULTS, faults="503@0-1h", sender="stalwart", receiver="stalwart", data_timeout="",
)
#: Notebook 02's panel: a lost-write window against verifyAfterWrite, by version.
VERIFY_DEFAULTS: dict[str, Any] = {
    "version": LATEST, "verify": "on", "lost_from": "0", "lost_until": "1s", "max_retries": 3, "scale": "auto",
}
VERIFY_VERSIONS = ("0.16.1", "0.16.2", LATEST)
#: Notebook 04's side-by-side panel: the cases it teaches, as fault lists.
COMPARE_PRESETS: dict[str, str] = {
    "S3 outage only": "refused@0-1h",
    "S3 outage + receiver crash": "refused@0-1h\ncrash@30m",
    "S3 outage + disk loss": "refused@0-1h\ndisk-loss@30m",
    "disk full (S3 up)": "disk-full@0-1h",
}
CUSTOM = "custom (edit the faults)"
#: The accordion that holds the typed faults box under the fault picker.
ADVANCED_TITLE = "advanced: type the faults (several at once, one KIND@START[-END] a line)"
_FAULTS_NOTE = ('<span style="color:#555555; font-size: 90%">one fault a line, <code>KIND@START[-END]</code>;<br>'
                "click outside the box (or press Tab) to run it</span>")
#: The side-by-side panel's spool choice: the one-disk spool alone, or with the fair WAL below it.
SPOOLS = ("one disk", "one disk + fair WAL")
COMPARE_DEFAULTS: dict[str, Any] = {
    "preset": "S3 outage + disk loss", "faults": COMPARE_PRESETS["S3 outage + disk loss"], "sender": "stalwart",
    "scale": "auto", "spools": SPOOLS[0],
}
#: The two designs the side-by-side panel runs: (receiver, what the verdict calls it).
DESIGNS = (("stalwart", "Stalwart (no spool)"), ("wal", "write-ahead spool"))
#: The fair WAL (blobedu.spool.FAIR: 3 replicas, an uploader with backoff), a third design on request.
FAIR_WAL = ("wal-fair", "fair WAL (3 replicas, backoff)")
ALL_DESIGNS = DESIGNS + (FAIR_WAL,)


def design_config(key: str, sender: str = "stalwart"):
    """The DeliveryConfig of one design of :data:`ALL_DESIGNS` (the fair WAL is ``wal`` with spool options)."""
    import dataclasses

    if key not in dict(ALL_DESIGNS):
        raise BlobeduError(f"unknown design {key!r}: {', '.join(dict(ALL_DESIGNS))}")
    _, config = scenario_from_values({"faults": "", "sender": sender, "receiver": "wal" if key == FAIR_WAL[0] else key})
    if key == FAIR_WAL[0]:
        from .spool import FAIR

        config = dataclasses.replace(config, spool=FAIR)
    return config


def _designs_in(traces: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(k, name) for k, name in ALL_DESIGNS if k in traces]


# -- values to a scenario: plain functions -----------------------------------------------------------
def _merged(values: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(defaults)
    if unknown:
        raise BlobeduError(f"unknown control {', '.join(sorted(unknown))}: the controls are {', '.join(defaults)}")
    return {**defaults, **values}


def _duration(name: str, text: Any, allow_empty: bool = False) -> Optional[float]:
    if text is None or (isinstance(text, str) and not text.strip()):
        if allow_empty:
            return None
        raise BlobeduError(f"{name} is empty: write a duration like 0, 30s, 2m, 1h, 3d")
    try:
        return parse_duration(text.strip() if isinstance(text, str) else text)
    except BlobeduError as exc:
        raise BlobeduError(f"{name}: {exc}") from None


def fault_lines(text: Any) -> list[str]:
    """The fault specs a faults box holds: one a line (commas also separate), blank lines skipped."""
    if text is None:
        return []
    if isinstance(text, (list, tuple)):
        text = "\n".join(str(t) for t in text)
    return [part.strip() for line in str(text).splitlines() for part in line.split(",") if part.strip()]


def fault_problems(text: Any, receiver_faults: bool = True) -> list[str]:
    """One message per bad line of a faults box, naming the line; ``[]`` when every line parses."""
    problems = []
    for n, line in enumerate(fault_lines(text), 1):
        try:
            fault = parse(line)  # the one parser decides what is valid
        except BlobeduError as exc:
            problems.append(f"fault line {n} ({line}): {str(exc).replace(f'bad fault {line!r}: ', '')}")
            continue
        if not receiver_faults and fault.kind in RECEIVER_KINDS:
            problems.append(f"fault line {n} ({line}): a PUT has no receiver, so {fault.kind} cannot apply: "
                            "use the delivery panel")
    return problems


def fault_specs(values: Mapping[str, Any], receiver_faults: bool = True) -> list[str]:
    """The fault specs the faults box holds, normalised (``503@0s-1h``); raises one error listing each bad line."""
    text = values.get("faults", "")
    problems = fault_problems(text, receiver_faults)
    if problems:
        raise BlobeduError("\n".join(problems))
    return [parse(line).spec() for line in fault_lines(text)]


def _max_retries(value: Any) -> Optional[int]:
    if value is None or value == "default" or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or (
            isinstance(value, str) and not re.fullmatch(r"-?[0-9]{1,18}", value.strip())):
        # ASCII digits only: int() would also take "1_0", Arabic-Indic or full-width digits
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise BlobeduError(f"maxRetries must be a whole number in ASCII digits, got {shown}")
    return int(value)


def _verify(value: Any) -> Optional[bool]:
    if value in (None, "default"):
        return None
    if value in (True, "on"):
        return True
    if value in (False, "off"):
        return False
    raise BlobeduError(f"verify must be 'default', 'on' or 'off', got {value!r}")


def store_config_from_values(values: Mapping[str, Any]):
    """The receiver's :class:`~blobedu.store.StoreConfig` from the controls, checked against its version."""
    from .store import StoreConfig

    version = str(values.get("version", LATEST))
    b = behaviour(version)
    retries = _max_retries(values.get("max_retries"))
    if retries == 0 and b.max_retries_range is None:
        retries = None  # "0 retries" on a version that never retries says the same thing
    config = StoreConfig(version=version, max_retries=retries,
                         timeout=_duration("timeout", values.get("timeout"), allow_empty=True),
                         verify=_verify(values.get("verify")),
                         latency=_duration("latency", values.get("latency", "0"), allow_empty=True) or 0.0)
    config.resolved()  # version range checks, with their own messages
    return config


def put_scenario_from_values(values: Mapping[str, Any]):
    """``(faults, StoreConfig)`` for the PUT panel; raises :class:`BlobeduError` on bad values."""
    values = _merged(values, PUT_DEFAULTS)
    faults = fault_specs(values, receiver_faults=False)
    return faults, store_config_from_values(values)


def _receiver_available(receiver: str) -> None:
    if receiver == "wal":
        import importlib.util

        if importlib.util.find_spec("blobedu.spool") is None:
            raise BlobeduError("the wal receiver (blobedu.spool) is not available in this installation")


def scenario_from_values(values: Mapping[str, Any]):
    """``(faults, DeliveryConfig)`` for the delivery panel; raises :class:`BlobeduError` on bad values."""
    from .delivery import DeliveryConfig

    values = _merged(values, DELIVERY_DEFAULTS)
    faults = fault_specs(values)
    store = store_config_from_values(values)
    config = DeliveryConfig(store=store, sender=str(values["sender"]), receiver=str(values["receiver"]),
                            data_timeout=_duration("final-dot wait", values["data_timeout"], allow_empty=True))
    config.check()
    _receiver_available(config.receiver)
    return faults, config


def verify_scenario_from_values(values: Mapping[str, Any]):
    """``(faults, DeliveryConfig)`` for notebook 02's panel: one lost-write window, verify on or off."""
    values = _merged(values, VERIFY_DEFAULTS)
    start = _duration("lost writes from", values["lost_from"])
    end = _duration("until", values["lost_until"], allow_empty=True)
    spec = f"lost-write@{format_duration(start)}" + (f"-{format_duration(end)}" if end is not None else "")
    try:
        parse(spec)
    except BlobeduError as exc:
        raise BlobeduError(f"the lost-write window: {str(exc).replace(f'bad fault {spec!r}: ', '')}") from None
    return scenario_from_values({"faults": spec, "version": values["version"], "verify": values["verify"],
                                 "max_retries": values["max_retries"]})


def compare_scenario_from_values(values: Mapping[str, Any]):
    """``(faults, {receiver: DeliveryConfig})`` for notebook 04's panel: the same faults, both designs."""
    values = _merged(values, COMPARE_DEFAULTS)
    faults = fault_specs(values)
    if values["spools"] not in SPOOLS:
        raise BlobeduError(f"spools: {_shown(values['spools'])} is not one of {', '.join(SPOOLS)}")
    keys = [k for k, _ in DESIGNS] + ([FAIR_WAL[0]] if values["spools"] == SPOOLS[1] else [])
    return faults, {k: design_config(k, values["sender"]) for k in keys}


def problem(message: str) -> str:
    """How a panel shows values it cannot run."""
    return f"⚠ cannot run this: {message}"


def put_verdict(trace) -> str:
    """One line for a PUT: e.g. ``stored after 7s, 5 requests (4 PUT + 1 HEAD), durable in S3``."""
    n = len(trace.requests)
    methods = Counter(r.method for r in trace.requests)
    detail = " + ".join(f"{count} {method}" for method, count in methods.items())
    head = f"{trace.outcome} after {format_duration(trace.elapsed)}, {n} request{'' if n == 1 else 's'}"
    head += f" ({detail})" if detail else ""
    if trace.outcome == "stored":
        return head + (", durable in S3" if trace.durable else ", NOT in S3: the write was lost and nobody noticed")
    return head + (f", not stored: {trace.error}" if trace.error else ", not stored")


#: Who can hold the copy that counts, in the words a verdict uses (receiver memory is only a moment).
_KEEPERS = {"sender queue": "sender", "spool": "spool", "S3": "S3"}


def custody_line(trace) -> str:
    """Who held the message when: ``sender 0s-1h02m → S3 from 1h02m``; a spool lost with its disk says so."""
    spans = sorted((c for c in trace.custody if c["holder"] in _KEEPERS),
                   key=lambda c: (c["from"], float("inf") if c["to"] is None else c["to"]))
    merged: list[list] = []
    for c in spans:
        if merged and merged[-1][0] == c["holder"] and (merged[-1][2] is None or c["from"] <= merged[-1][2]):
            merged[-1][2] = None if c["to"] is None or merged[-1][2] is None else max(merged[-1][2], c["to"])
            merged[-1][3] = c["note"]
            continue
        merged.append([c["holder"], c["from"], c["to"], c["note"]])
    parts = []
    for holder, a, b, note in merged:
        name = _KEEPERS[holder]
        if b is None:
            parts.append(f"{name} from {format_duration(a)}")
        elif b == a:  # held for a moment: the sender letting go at once, a spool entry uploaded at once
            parts.append(f"{name} until {format_duration(a)}" if a == 0 else f"{name} at {format_duration(a)}")
        else:
            parts.append(f"{name} {format_duration(a)}-{format_duration(b)}" + (" (disk lost)" if "disk lost" in note
                                                                               else ""))
    return " → ".join(parts) or "nobody"


def design_verdict(trace, name: str) -> str:
    """One line per design: delivered and when, lost, or bounced; then who held the copy when."""
    if trace.fate == "delivered":
        head = f"delivered after {format_duration(trace.delivered_at)}"
    elif trace.fate == "bounced":
        bounce = next((d for d in trace.dsns if d["kind"] == "failed"), None)
        head = "bounced" + (f" at {format_duration(bounce['t'])}" if bounce else "") + ", author told"
    else:
        loss = next((e for e in trace.events if e["what"] == "disk-loss" and e.get("lost")), None)
        head = "LOST" + (f" at {format_duration(loss['t'])}" if loss else "") + " after a 250, author never told"
    return f"{name}: {head} · copy: {custody_line(trace)}"


def verify_verdict(trace) -> str:
    """Notebook 02's verdict: the delivery's line, the accepting session's store loop, and what came after."""
    from .text import verdict

    lines = [verdict(trace)]
    accepted = next((s for s in trace.sessions if s.reply.startswith("250") and s.store), None)
    if accepted is not None:
        requests = accepted.store["requests"]
        loop = ", ".join(f"{r['method']} {r['result']}" for r in requests)
        reputs = sum(1 for r in requests if r["method"] == "PUT") - 1
        lines.append(f"the 250's store loop: {loop}" + (f" ({reputs} re-PUT{'s' if reputs != 1 else ''} after a "
                                                        "HEAD 404)" if reputs > 0 else ""))
        failures = [e for e in trace.local if e["result"] != "delivered"]
        if failures and not accepted.durable_at_reply:
            bounce = next((d for d in trace.dsns if d["kind"] == "failed"), None)
            after = ""
            if bounce and trace.fate == "bounced":
                after = f", bounced by the {bounce['origin']} at {format_duration(bounce['t'])}"
            elif bounce:
                after = f", then the {bounce['origin']}'s bounce at {format_duration(bounce['t'])} was lost too"
            lines.append(f"after it: a 250 for a blob that is not in S3, then local delivery: "
                         f"'{failures[0]['result']}' × {len(failures)}{after}")
        elif trace.fate == "delivered":
            lines.append(f"after it: the blob is in S3, in the mailbox at {format_duration(trace.mailbox_at)}")
    return "\n".join(lines)


# -- running the model: one endpoint for every panel run ----------------------------------------------
_ENDPOINTS: dict[str, Any] = {}


def shared_endpoint(name: str = "panel"):
    """One in-process moto endpoint per ``name`` for every panel run, emptied before each run.

    Starting moto costs about 40 ms, a fifth of a redraw.  Each endpoint has its own bucket, so the
    side-by-side panel's two designs (one endpoint each) can run at the same time.
    """
    from .endpoint import InProcessEndpoint

    endpoint = _ENDPOINTS.get(name)
    if endpoint is None or not endpoint._open:
        endpoint = _ENDPOINTS[name] = InProcessEndpoint()
    else:
        endpoint.reset()
    return endpoint


def _put(faults, config):
    from .store import S3BlobStore

    store = S3BlobStore(config, shared_endpoint(), None, faults)
    store.origin = store.clock.now()
    return store.put(b"Subject: hello\r\n\r\nA message body.\r\n")


def _deliver(faults, config, endpoint: str = "panel"):
    from .delivery import deliver

    return deliver(faults, config, endpoint=shared_endpoint(endpoint))


def _deliver_both(faults, configs: Mapping[str, Any]) -> dict[str, Any]:
    """Each design's delivery, one after the other (each run has its own event loop, virtual clock and bucket).

    One after the other, not in threads: the runs are CPU-bound Python, so threads only contend for
    the GIL.  Measured on 04's fair-WAL panel (its three designs through its 4 cases, 6 rounds each
    way, alternating): 124 ms median in threads, 83 ms one after the other; the spool's nine real fsyncs
    a run are too short on this disk for threads to hide them (benchmarks/redraw.py).
    """
    return {r: _deliver(faults, configs[r], f"design:{r}") for r in configs}


def run_put_panel(values: Mapping[str, Any]):
    """Run the PUT the controls describe: ``(trace, verdict)``, or ``(None, message)`` for bad values."""
    try:
        faults, config = put_scenario_from_values(values)
        trace = _put(faults, config)
    except BlobeduError as exc:
        return None, problem(str(exc))
    return trace, put_verdict(trace)


def run_panel(values: Mapping[str, Any]):
    """Run the delivery the controls describe: ``(trace, verdict)``, or ``(None, message)`` for bad values."""
    from .text import verdict

    try:
        faults, config = scenario_from_values(values)
        trace = _deliver(faults, config)
    except BlobeduError as exc:
        return None, problem(str(exc))
    return trace, verdict(trace)


def sender_verdict(trace) -> str:
    """The verdict with the scenario it answers: ``sender postfix, Stalwart 0.16.18, maxRetries 10: delivered …``.

    A panel that sits under a cell must say which sender it ran: the same faults give another answer
    with another sender's final-dot wait and queue (notebook 05, issue #17.6).
    """
    from .text import verdict

    c = trace.config
    st = c["store"]
    retries = f"maxRetries {st['max_retries']}" if behaviour(st["version"]).retries else "no retries"
    return f"sender {c['sender']}, Stalwart {st['version']}, {retries}: {verdict(trace)}"


def run_panel_naming_sender(values: Mapping[str, Any]):
    """:func:`run_panel`, whose verdict names the sender and the receiver's settings (:func:`sender_verdict`)."""
    trace, text = run_panel(values)
    return (trace, text) if trace is None else (trace, sender_verdict(trace))


def run_verify_panel(values: Mapping[str, Any]):
    """Run notebook 02's scenario: ``(trace, verdict)``, or ``(None, message)`` for bad values."""
    try:
        faults, config = verify_scenario_from_values(values)
        trace = _deliver(faults, config)
    except BlobeduError as exc:
        return None, problem(str(exc))
    return trace, verify_verdict(trace)


def run_compare_panel(values: Mapping[str, Any]):
    """The same faults through both designs: ``({receiver: trace}, two verdict lines)``, or ``(None, message)``."""
    try:
        faults, configs = compare_scenario_from_values(values)
        traces = _deliver_both(faults, configs)
    except BlobeduError as exc:
        return None, problem(str(exc))
    return traces, "\n".join(design_verdict(traces[r], name) for r, name in _designs_in(traces))


def compare_lanes(traces: Mapping[str, Any], scale: str = "auto", lanes: Optional[Any] = None) -> list[plots.Timeline]:
    """The designs' timelines on one time axis (the longest run's), each titled with its verdict.

    ``lanes``: keep only those lanes (keys, or a name in :data:`blobedu.plots.LANE_SETS`), as
    :meth:`blobedu.plots.Timeline.only` does.  Each design's lanes are built once, and again only when a
    longer run stretches its axis.
    """
    designs = _designs_in(traces)
    names = dict(designs)
    own = {r: plots.delivery_lanes(traces[r], scale=scale) for r, _ in designs}
    longest = max(t.horizon for t in own.values())
    timelines = [own[r] if own[r].horizon == longest else plots.delivery_lanes(traces[r], scale=scale, horizon=longest)
                 for r, _ in designs]
    if lanes is not None:
        timelines = [t.only(lanes) for t in timelines]
    axis = timelines[0].axis
    c = traces[designs[0][0]].config
    st = c["store"]
    which = (f"top, Stalwart {st['version']}'s receiver; bottom, a write-ahead spool" if len(designs) == 2 else
             f"top to bottom, Stalwart {st['version']}'s receiver, " + ", ".join(n for _, n in designs[1:]))
    title = (f"the same faults through {'both designs' if len(designs) == 2 else 'each design'}: "
             f"{which} · sender {c['sender']} · faults: {', '.join(c.get('faults', [])) or 'none'}")
    return [plots.Timeline(title, design_verdict(traces[receiver], names[receiver]), timeline.horizon, axis,
                           timeline.lanes, timeline.outage, timeline.xlabel)
            for (receiver, _), timeline in zip(designs, timelines)]


def spool_lanes(traces: Mapping[str, Any], scale: str = "auto") -> list[plots.Timeline]:
    """04's panel and first figure: :func:`compare_lanes` with only the lanes 04 teaches (``LANE_SETS["spool"]``).

    The replies, the receiver's disk (a crash, a disk loss), who holds a copy, and the outcome.  The
    store loop's lanes (S3's state, each PUT and HEAD, the sleeps) are 01's, 02's and 05's lessons: in
    04 they added 10 lanes to a three-design stack and said nothing about where the copy lives
    (teaching.md, principle 1).
    """
    return compare_lanes(traces, scale, lanes="spool")


# -- the widgets -------------------------------------------------------------------------------------
_STYLE = {"description_width": "initial"}


def _text(description: str, value: Any, placeholder: str = "", width: str = "150px") -> widgets.Text:
    return widgets.Text(value=str(value), description=description, placeholder=placeholder,
                        continuous_update=False, style=_STYLE, layout=widgets.Layout(width=width))


def _faults_box(value: Any) -> widgets.Textarea:
    text = "\n".join(fault_lines(value))
    return widgets.Textarea(value=text, description="faults", placeholder=FAULTS_HINT, continuous_update=False,
                            rows=max(2, min(6, len(fault_lines(value)) + 1)), style=_STYLE,
                            layout=widgets.Layout(width="420px"))


def _dropdown(description: str, options, value: Any, width: str = "240px") -> widgets.Dropdown:
    return widgets.Dropdown(options=options, value=value, description=description, style=_STYLE,
                            layout=widgets.Layout(width=width))


def _version_options(chosen: str, versions=None) -> list[tuple[str, str]]:
    versions = list(versions or plots.REPRESENTATIVE_VERSIONS)
    if chosen not in versions:
        versions.append(chosen)
    options = []
    for v in versions:
        try:
            options.append((f"{v}  ({behaviour(v).label})", v))
        except BlobeduError:
            options.append((v, v))
    return options


def _max_retries_slider(value: Any) -> widgets.IntSlider:
    return widgets.IntSlider(value=int(value if value is not None else 3), min=MAX_RETRIES_SLIDER[0],
                             max=MAX_RETRIES_SLIDER[1], description="maxRetries", continuous_update=False,
                             style=_STYLE)


def _verify_value(value: Any) -> str:
    return value if value in ("default", "on", "off") else {True: "on", False: "off"}.get(value, "default")


def _common_controls(values: Mapping[str, Any]) -> dict[str, widgets.Widget]:
    return {
        "faults": _faults_box(values["faults"]),
        "version": _dropdown("Stalwart", _version_options(str(values["version"])), str(values["version"]), "260px"),
        "max_retries": _max_retries_slider(values["max_retries"]),
        "verify": _dropdown("verifyAfterWrite", VERIFY_CHOICES, _verify_value(values["verify"]), "260px"),
        "timeout": _text("timeout", values["timeout"], "30s"),
        "latency": _text("latency", values["latency"], "0"),
        "scale": _dropdown("time axis", ("auto", "linear", "symlog"), values["scale"], "200px"),
    }


# -- the fault picker: a kind, a start and a length instead of typing KIND@START-END (#19 item 3) ---------
#: The kinds the picker offers: every S3 kind (the PUT panel offers only these), then what can happen
#: to the receiving node and its data store.  Any other HTTP status (``502@0-1h``) is typed.
PICKER_S3_KINDS = tuple(S3_KINDS)
PICKER_KINDS = PICKER_S3_KINDS + tuple(DATASTORE_KINDS) + tuple(RECEIVER_KINDS)
#: The picker's two states that are not one fault: an empty faults box, and one it cannot show.
NO_FAULT, TYPED = "none", "typed"
#: The sliders' stops (seconds): seconds for a 503 storm, minutes for a final-dot wait, days for a
#: sender's queue.  A typed value between two stops becomes a stop of its own, so the sliders show it.
START_STOPS = (0.0, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0, 43200.0,
               86400.0, 172800.0, 259200.0)
FOREVER = float("inf")
LENGTH_STOPS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
                14400.0, 21600.0, 43200.0, 86400.0, 100800.0, 172800.0, 259200.0, 345600.0, 432000.0, 518400.0,
                FOREVER)
_PICKER_LABELS = {"500": "500 (Internal Error)", "503": "503 (Slow Down)", "429": "429 (Too Many Requests)",
                  "403": "403 (Forbidden)"}


def picked_fault(kind: str, start: float, length: float) -> Optional[Fault]:
    """The one fault a picker choice means: ``kind`` from ``start`` for ``length`` (a moment for crash and
    disk-loss, whose length does not count; forever when ``length`` is :data:`FOREVER`); None for no fault."""
    if kind in (NO_FAULT, TYPED):
        return None
    if kind in RECEIVER_KINDS and kind not in ("disk-full",):
        return Fault(kind, float(start))
    return Fault(kind, float(start), None if length == FOREVER else float(start) + float(length))


def picked_spec(kind: str, start: float, length: float) -> str:
    """What the picker writes into the faults box: the spec the typed box would normalise to (``503@0s-1h``)."""
    fault = picked_fault(kind, start, length)
    return "" if fault is None else fault.spec()


def picker_choice(text: Any, kinds=PICKER_KINDS) -> tuple[str, Optional[float], Optional[float]]:
    """``(kind, start, length)`` for a faults box the picker can show, else ``(TYPED, None, None)``.

    It can show an empty box (:data:`NO_FAULT`) and exactly one fault of a kind it offers; several
    faults, a status it does not list, or a line the parser refuses stay typed (the typed box wins).
    """
    lines = fault_lines(text)
    if not lines:
        return NO_FAULT, None, None
    if len(lines) > 1:
        return TYPED, None, None
    try:
        fault = parse(lines[0])
    except BlobeduError:
        return TYPED, None, None
    if fault.kind not in kinds:
        return TYPED, None, None
    return fault.kind, fault.start, (FOREVER if fault.end is None else fault.end - fault.start)


def _stops(base, value: Optional[float]) -> list[tuple[str, float]]:
    """A slider's (label, seconds) stops: ``base`` plus ``value``, labelled for people (``1d05h``), exactly
    (``104430s``) where two stops would read the same."""
    values = sorted(set(base) | ({value} if value is not None else set()))
    labels = [format_duration(v) for v in values]
    return [(label if labels.count(label) == 1 else _exact(v), v) for label, v in zip(labels, values)]


class FaultPicker:
    """A fault-kind dropdown and a start and a length slider that write ONE fault into a faults box.

    The box stays the truth: the picker writes it when the reader moves the picker, and follows it
    when the reader (or ``faults=``, or :meth:`Panel.update`) writes it.  A box the picker cannot
    show (several faults, a kind it does not offer, a bad line) sets the dropdown to "as typed" and
    disables the sliders; the panel's verdict shows what is wrong with a bad line, once.
    """

    def __init__(self, box: widgets.Textarea, kinds=PICKER_KINDS) -> None:
        self.faults = box
        self.kinds = tuple(kinds)
        options = ([("no fault", NO_FAULT)] + [(_PICKER_LABELS.get(k, k), k) for k in self.kinds]
                   + [("as typed (see advanced)", TYPED)])
        self.kind = widgets.Dropdown(options=options, value=NO_FAULT, description="fault", style=_STYLE,
                                     layout=widgets.Layout(width="260px"))
        self.start = widgets.SelectionSlider(options=_stops(START_STOPS, None), value=0.0, description="from",
                                             continuous_update=False, style=_STYLE,
                                             layout=widgets.Layout(width="270px"))
        self.length = widgets.SelectionSlider(options=_stops(LENGTH_STOPS, None), value=3600.0,
                                              description="for", continuous_update=False, style=_STYLE,
                                              layout=widgets.Layout(width="270px"))
        self.box = widgets.HBox([self.kind, self.start, self.length])
        self._syncing = False
        self.follow()
        for control in (self.kind, self.start, self.length):
            control.observe(lambda _change: self._moved(), names="value")
        box.observe(lambda _change: self.follow(), names="value")

    def spec(self) -> str:
        """The fault the picker shows, as the spec it writes (``""`` for no fault or a typed box)."""
        return picked_spec(self.kind.value, self.start.value, self.length.value)

    def matches(self) -> bool:
        """True when the picker shows exactly what the faults box holds."""
        kind, start, length = picker_choice(self.faults.value, self.kinds)
        if kind in (NO_FAULT, TYPED):
            return self.kind.value == kind
        return picked_fault(self.kind.value, self.start.value, self.length.value) == \
            picked_fault(kind, start, length)

    def follow(self) -> None:
        """Show what the faults box holds (the typed box wins)."""
        if self._syncing:
            return
        kind, start, length = picker_choice(self.faults.value, self.kinds)
        self._syncing = True
        try:
            if start is not None:
                self.start.options = _stops(START_STOPS, start)
                self.start.value = start
                self.length.options = _stops(LENGTH_STOPS, length)
                self.length.value = length
            self.kind.value = kind
            self._enable()
        finally:
            self._syncing = False

    def _enable(self) -> None:
        kind = self.kind.value
        self.start.disabled = kind in (NO_FAULT, TYPED)
        self.length.disabled = kind in (NO_FAULT, TYPED) or (kind in RECEIVER_KINDS and kind != "disk-full")

    def _moved(self) -> None:
        """The reader moved the picker: write its one fault into the box (which runs the panel once)."""
        if self._syncing:
            return
        self._enable()
        if self.kind.value == TYPED:
            return  # "as typed": the box keeps what it holds
        self._syncing = True
        try:
            self.faults.value = self.spec()
        finally:
            self._syncing = False


class StoredFigure:
    """Mixin for a panel with ``verdict_text`` and ``png``: its display bundle carries both next to the
    widget view, so renderers without widgets (GitHub, nbviewer) still show the verdict and the figure."""

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        if data is None:
            return None
        data["text/plain"] = self.verdict_text
        if self.png:
            data["image/png"] = self.png  # for renderers without widgets: the figure still shows
        return data


class Panel(StoredFigure, widgets.VBox):
    """Controls, a verdict and a timeline figure that follows the controls.

    For tests and notebooks: ``controls`` (by name), ``verdict`` (the HTML widget) and
    ``verdict_text``, ``output`` (the figure: an Image widget), ``trace`` (what the runner returned), ``lanes`` (the
    plotted :class:`~blobedu.plots.Timeline`, or a list of them for a stacked figure), ``figure`` (the
    matplotlib Figure; a stacked one is redrawn in place by the next redraw), ``error``
    (the message when the values cannot run), ``timings`` (wall ms of the last redraw: run, draw,
    encode).  A bad value shows once, in the verdict line; the figure area is then empty.
    """

    def __init__(self, controls: dict[str, widgets.Widget], rows: list[list[str]],
                 runner: Callable[[dict], tuple], lanes_of: Callable[..., Any],
                 on_change: Optional[Callable[["Panel", str], None]] = None,
                 picker_kinds: tuple = PICKER_KINDS) -> None:
        self.controls = controls
        self.runner = runner
        self.lanes_of = lanes_of
        self.on_change = on_change
        self.verdict = widgets.HTML()
        self.output = widgets.Image(format="png", layout=widgets.Layout(display="none"))
        self.verdict_text = ""
        self.error: Optional[str] = None
        self.trace = None
        self.lanes: Any = None
        self.figure = None
        self.png: Optional[str] = None
        self.timings: dict[str, float] = {}
        self._holding = False
        #: The fault picker (kind, start, length) that writes one fault into the faults box, and the
        #: "advanced" accordion that holds the typed box; None for a panel without a faults box.
        self.picker: Optional[FaultPicker] = None
        self.advanced: Optional[widgets.Accordion] = None
        if picker_kinds and isinstance(controls.get("faults"), widgets.Textarea):
            self.picker = FaultPicker(controls["faults"], picker_kinds)
        boxes = []
        for row in rows:
            items = [controls[name] for name in row]
            if "faults" in row:  # a Textarea runs when it loses focus: say so, next to it
                note = widgets.HTML(_FAULTS_NOTE, layout=widgets.Layout(margin="0 0 0 8px"))
                if self.picker is not None:  # the common case is picked; the typed box goes under "advanced"
                    typed = widgets.HBox([controls["faults"], note])
                    self.advanced = widgets.Accordion(children=[typed], selected_index=None)
                    self.advanced.set_title(0, ADVANCED_TITLE)
                    others = [controls[name] for name in row if name != "faults"]
                    boxes.append(widgets.HBox(others + list(self.picker.box.children)) if others
                                 else self.picker.box)
                    boxes.append(self.advanced)
                    continue
                items.append(note)
            boxes.append(widgets.HBox(items))
        super().__init__(boxes + [self.verdict, self.output])
        for name, control in controls.items():
            control.observe(lambda change, name=name: self._changed(name), names="value")
        self.refresh()

    def values(self) -> dict[str, Any]:
        """The controls' current values; maxRetries is None (the version's own) when the version has none."""
        values = {name: control.value for name, control in self.controls.items()}
        if "max_retries" in self.controls and self.controls["max_retries"].disabled:
            values["max_retries"] = None
        return values

    def update(self, **values: Any) -> None:
        """Set several controls at once and run the model once.

        Never raises at a reader: a value a control cannot take shows one clear message in the
        verdict (and in :attr:`error`) instead of the last result, which would no longer match.
        """
        unknown = set(values) - set(self.controls)
        if unknown:
            self._show_problem(problem(f"unknown control {', '.join(sorted(unknown))}: "
                                       f"the controls are {', '.join(self.controls)}"))
            return
        values = {name: "\n".join(fault_lines(v)) if name == "faults" else v for name, v in values.items()}
        self._holding = True
        try:
            for _ in range(2):  # twice: what was set explicitly wins over what a preset filled in
                for name, value in values.items():
                    message = _unsettable(self.controls[name], name, value)
                    if message is None:
                        try:
                            self.controls[name].value = value
                        except Exception:  # noqa: BLE001 - traitlets' TraitError, a TypeError...
                            message = f"{name}: {_shown(value)} is not a value this control can take"
                    if message is not None:
                        self._show_problem(problem(message))
                        return
                    if self.on_change is not None and _ == 0:
                        self.on_change(self, name)  # e.g. a preset fills the faults box
        finally:
            self._holding = False
        self.refresh()

    def _changed(self, name: str) -> None:
        if self._holding:
            return
        if self.on_change is not None:
            self._holding = True
            try:
                self.on_change(self, name)
            finally:
                self._holding = False
        self.refresh()

    def _sync_controls(self) -> None:
        """Grey out what the current choice makes meaningless (no retries before 0.10.3)."""
        if "max_retries" not in self.controls or "version" not in self.controls:
            return
        try:
            no_retries = behaviour(self.controls["version"].value).max_retries_range is None
        except BlobeduError:
            no_retries = False
        self.controls["max_retries"].disabled = no_retries

    def refresh(self) -> None:
        """Run the model for the current values and redraw; bad values show a message instead of raising.

        Whatever happens, the panel ends showing either this run's result or one clear message.
        """
        import time

        try:
            self._sync_controls()
            values = self.values()
            t0 = time.perf_counter()
            trace, text = self.runner(values)
            if trace is None:
                self._show_problem(text)
                return
            t1 = time.perf_counter()
            timeline = self.lanes_of(trace, scale=values.get("scale", "auto"))
            with matplotlib.rc_context(plots.PANEL_RC):
                if isinstance(timeline, list):  # the last stack redrawn in place: the same picture, sooner
                    figure = plots.draw_stack(timeline, figure=self.figure)
                else:
                    figure = plots.draw(timeline, layout="fixed")
                t2 = time.perf_counter()
                png_bytes = plots.png_bytes(figure, dpi=STACK_DPI if isinstance(timeline, list) else 90, fast=True)
            t3 = time.perf_counter()
        except Exception as exc:  # noqa: BLE001 - a reader should see a message, not a traceback in a log
            self._show_problem(problem(_explain(exc)))
            return
        self.trace, self.lanes, self.figure, self.error = trace, timeline, figure, None
        self.png = base64.b64encode(png_bytes).decode("ascii")
        self.timings = {"run": (t1 - t0) * 1e3, "draw": (t2 - t1) * 1e3, "encode": (t3 - t2) * 1e3}
        self.verdict_text = text
        self.verdict.value = "<br>".join(f"<b>{html.escape(line)}</b>" for line in text.splitlines())
        self.output.value = png_bytes
        self.output.layout.display = None

    def _show_problem(self, message: str) -> None:
        self.trace, self.lanes, self.figure, self.png = None, None, None, None
        self.error = self.verdict_text = message
        lines = message.splitlines()
        self.verdict.value = '<span style="color:#D55E00">' + "<br>".join(
            f"<b>{html.escape(line)}</b>" for line in lines) + "</span>"
        self.output.value = b""  # the message shows once, in the verdict line
        self.output.layout.display = "none"



def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _unsettable(control: widgets.Widget, name: str, value: Any) -> Optional[str]:
    """Why ``control`` cannot show ``value`` as given (a slider would silently clamp it), or None."""
    if isinstance(control, widgets.IntSlider):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{name} must be a whole number, got {_shown(value)}"
        if not control.min <= value <= control.max:
            return f"{name} {_shown(value)} is outside this slider's {control.min} to {control.max}"
    return None


def _explain(exc: Exception) -> str:
    """One clear line for an exception a run raised."""
    if isinstance(exc, BlobeduError):
        return str(exc)
    if isinstance(exc, OverflowError):
        return "a value is too large to compute with; use numbers within blobedu's 30-day horizon"
    return f"{type(exc).__name__}: {exc}"


def put_panel(**defaults: Any) -> Panel:
    """The PUT retry loop as a panel (notebook 01): faults, version, maxRetries, timeout, verify, latency."""
    values = _merged(defaults, PUT_DEFAULTS)
    controls = _common_controls(values)
    rows = [["faults"], ["version", "max_retries", "verify"], ["timeout", "latency", "scale"]]
    return Panel(controls, rows, run_put_panel, plots.put_lanes, picker_kinds=PICKER_S3_KINDS)


def delivery_panel(name_sender: bool = False, **defaults: Any) -> Panel:
    """One message's whole journey as a panel (notebooks 00, 03, 05): the PUT controls plus sender and receiver.

    ``name_sender=True`` starts the verdict line with the sender and the receiver's version and
    maxRetries (:func:`sender_verdict`); the figure's caption always names them.
    """
    values = _merged(defaults, DELIVERY_DEFAULTS)
    controls = _common_controls(values)
    controls["sender"] = _dropdown("sender", SENDERS, values["sender"], "200px")
    controls["receiver"] = _dropdown("receiver", RECEIVERS, values["receiver"], "200px")
    controls["data_timeout"] = _text("final-dot wait", values["data_timeout"], "sender's own", "210px")
    rows = [["faults"], ["version", "max_retries", "verify"], ["timeout", "latency", "data_timeout"],
            ["sender", "receiver", "scale"]]
    return Panel(controls, rows, run_panel_naming_sender if name_sender else run_panel, plots.delivery_lanes)


def verify_panel(**defaults: Any) -> Panel:
    """Notebook 02's panel: a lost-write window, verifyAfterWrite on or off, by version, with maxRetries."""
    values = _merged(defaults, VERIFY_DEFAULTS)
    controls = {
        "version": _dropdown("Stalwart", _version_options(str(values["version"]), VERIFY_VERSIONS),
                             str(values["version"]), "260px"),
        "verify": _dropdown("verifyAfterWrite", (("on", "on"), ("off", "off")),
                            "off" if _verify_value(values["verify"]) == "off" else "on", "200px"),
        "lost_from": _text("lost writes from", values["lost_from"], "0", "190px"),
        "lost_until": _text("until", values["lost_until"], "empty: forever", "150px"),
        "max_retries": _max_retries_slider(values["max_retries"]),
        "scale": _dropdown("time axis", ("auto", "linear", "symlog"), values["scale"], "200px"),
    }
    rows = [["version", "verify"], ["lost_from", "lost_until", "max_retries"], ["scale"]]
    return Panel(controls, rows, run_verify_panel, plots.delivery_lanes)


def _normalised(text: Any) -> list[str]:
    """A faults box's specs as the parser writes them (``refused@0s-1h``), or its raw lines if one is bad."""
    try:
        return [parse(line).spec() for line in fault_lines(text)]
    except BlobeduError:
        return fault_lines(text)


def _preset_of(text: Any) -> str:
    """The case whose faults a box holds (the picker's ``refused@0s-1h`` is the same as ``refused@0-1h``), else custom."""
    mine = _normalised(text)
    return next((k for k, v in COMPARE_PRESETS.items() if _normalised(v) == mine), CUSTOM)


def _preset_changed(panel: Panel, name: str) -> None:
    """A preset fills the faults box; editing the faults box makes the preset 'custom' (or the one it matches)."""
    preset, faults = panel.controls["preset"], panel.controls["faults"]
    if name == "preset" and preset.value in COMPARE_PRESETS:
        faults.value = COMPARE_PRESETS[preset.value]
    elif name == "faults":
        preset.value = _preset_of(faults.value)


#: A stack of timelines (04's side-by-side, 08's two designs) is two or three figures tall; at 72 dpi
#: (a screen's own resolution) its PNG has 0.64x the pixels of the single panels' 90 dpi, which is what
#: brought 04's redraw under 300 ms on a quiet machine (benchmarks/redraw.py).
STACK_DPI = 72


def compare_panel(**defaults: Any) -> Panel:
    """Notebook 04's panel: the same faults through Stalwart's receiver and a write-ahead spool, one above the other."""
    values = _merged(defaults, COMPARE_DEFAULTS)
    if "faults" not in defaults and values["preset"] in COMPARE_PRESETS:
        values["faults"] = COMPARE_PRESETS[values["preset"]]
    controls = {
        "preset": _dropdown("case", list(COMPARE_PRESETS) + [CUSTOM], _preset_of(values["faults"]), "330px"),
        "faults": _faults_box(values["faults"]),
        "sender": _dropdown("sender", SENDERS, values["sender"], "200px"),
        "scale": _dropdown("time axis", ("auto", "linear", "symlog"), values["scale"], "200px"),
        "spools": _dropdown("spools", SPOOLS, values["spools"], "280px"),
    }
    rows = [["preset", "sender", "scale"], ["spools"], ["faults"]]
    return Panel(controls, rows, run_compare_panel, spool_lanes, on_change=_preset_changed)


__all__ = [
    "ALL_DESIGNS", "COMPARE_DEFAULTS", "COMPARE_PRESETS", "FAIR_WAL", "SPOOLS", "design_config", "DELIVERY_DEFAULTS", "PUT_DEFAULTS", "Panel", "VERIFY_DEFAULTS",
    "compare_lanes", "compare_panel", "spool_lanes", "compare_scenario_from_values", "custody_line", "delivery_panel",
    "design_verdict", "sender_verdict", "verify_verdict", "fault_lines", "fault_problems", "fault_specs", "put_panel", "put_scenario_from_values",
    "put_verdict", "run_compare_panel", "run_panel", "run_panel_naming_sender", "run_put_panel", "run_verify_panel", "scenario_from_values",
    "shared_endpoint", "store_config_from_values", "verify_panel", "verify_scenario_from_values",
    "FaultPicker", "PICKER_KINDS", "PICKER_S3_KINDS", "picked_fault", "picked_spec", "picker_choice",
]
