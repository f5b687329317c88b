"""ipywidgets panels: change a fault, a version or a setting, and the timeline and the verdict follow.

Theory of operation
-------------------
Everything a panel decides lives in plain functions that take a ``values`` dict (control name to
value, the way the widgets hold them: durations as text like ``"1h"``) and need no browser:

* :func:`fault_specs`, :func:`put_scenario_from_values` and :func:`scenario_from_values` turn
  values into fault specs and a :class:`~blobedu.store.StoreConfig` or
  :class:`~blobedu.delivery.DeliveryConfig`, raising :class:`~blobedu.errors.BlobeduError` with
  a readable message for anything wrong (a bad duration, verify on 0.16.1, maxRetries outside the
  version's range, an unavailable receiver);
* :func:`run_put_panel` and :func:`run_panel` run the model and return ``(trace, verdict)``, or
  ``(None, message)`` when the values are wrong, so a panel never raises at a reader.

:class:`Panel` is only wiring.  It reads its controls into a values dict, calls its runner, draws
the trace with :mod:`blobedu.plots` into an ``ipywidgets.Output`` as a PNG, and writes the
one-line verdict.  Sliders and text boxes use ``continuous_update=False``, so a change runs the
model once, when the slider is released or the text is committed (Enter or leaving the box).

A stored notebook shows the default figure even without a widget kernel: the Output holds the
figure as an ordinary ``image/png`` display, and the panel's own display bundle carries the same
PNG next to the widget view, for renderers that cannot draw widgets (GitHub, nbviewer).
"""

from __future__ import annotations

import html
import re
from collections import Counter
from typing import Any, Callable, Mapping, Optional

import ipywidgets as widgets

from . import plots
from .durations import format_duration, parse_duration
from .errors import BlobeduError
from .faults import RECEIVER_KINDS, parse
from .versions import LATEST, behaviour

#: The fault kinds a PUT panel offers: (what the dropdown shows, the spec kind).
PUT_KINDS = (
    ("no fault", "none"),
    ("503 Slow Down", "503"),
    ("500 Internal Error", "500"),
    ("429 Too Many Requests", "429"),
    ("403 Forbidden", "403"),
    ("connection refused", "refused"),
    ("timeout (S3 silent)", "timeout"),
    ("lost write (200, not kept)", "lost-write"),
)
#: A delivery panel adds the receiver's own faults.
DELIVERY_KINDS = PUT_KINDS + (
    ("receiver crash (at 'from')", "crash"),
    ("receiver disk loss (at 'from')", "disk-loss"),
    ("receiver disk full", "disk-full"),
)
_POINT_KINDS = ("crash", "disk-loss")
SENDERS = ("stalwart", "postfix", "exim", "rfc5321")
RECEIVERS = ("stalwart", "wal")
VERIFY_CHOICES = (("version default", "default"), ("on", "on"), ("off", "off"))
#: The slider's range: wide enough to step outside 0.16's 1-10 and see the message.
MAX_RETRIES_SLIDER = (0, 20)

PUT_DEFAULTS: dict[str, Any] = {
    "kind": "503", "start": "0", "end": "5s", "version": LATEST, "max_retries": 3, "timeout": "30s",
    "verify": "default", "latency": "0", "scale": "auto",
}
DELIVERY_DEFAULTS: dict[str, Any] = dict(
    PUT_DEFAULTS, end="1h", sender="stalwart", receiver="stalwart", data_timeout="",
)


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


def fault_specs(values: Mapping[str, Any]) -> list[str]:
    """The fault specs the controls describe: ``[]`` for no fault, else ``["KIND@START[-END]"]``."""
    kind = str(values.get("kind", "none"))
    if kind == "none":
        return []
    start = _duration("from", values.get("start", "0"))
    end = None if kind in _POINT_KINDS else _duration("until", values.get("end", ""), allow_empty=True)
    if end is not None and end <= start:
        raise BlobeduError(f"the fault ends ({format_duration(end)}) before it starts ({format_duration(start)}): "
                           "'until' must be later than 'from', or empty for a fault that never ends")
    spec = f"{kind}@{format_duration(start)}" + (f"-{format_duration(end)}" if end is not None else "")
    parse(spec)  # the one parser decides what is valid
    return [spec]


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
    faults = fault_specs(values)
    if any(parse(f).kind in RECEIVER_KINDS for f in faults):
        raise BlobeduError("a PUT has no receiver, so crash, disk-loss and disk-full cannot apply: "
                           "use the delivery panel")
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


def run_put_panel(values: Mapping[str, Any]):
    """Run the PUT the controls describe: ``(trace, verdict)``, or ``(None, message)`` for bad values."""
    from .store import put

    try:
        faults, config = put_scenario_from_values(values)
        trace = put(faults=faults, config=config)
    except BlobeduError as exc:
        return None, problem(str(exc))
    return trace, put_verdict(trace)


def run_panel(values: Mapping[str, Any]):
    """Run the delivery the controls describe: ``(trace, verdict)``, or ``(None, message)`` for bad values."""
    from .delivery import deliver
    from .text import verdict

    try:
        faults, config = scenario_from_values(values)
        trace = deliver(faults, config)
    except BlobeduError as exc:
        return None, problem(str(exc))
    return trace, verdict(trace)


# -- the widgets -------------------------------------------------------------------------------------
_STYLE = {"description_width": "initial"}


def _text(description: str, value: Any, placeholder: str = "", width: str = "150px") -> widgets.Text:
    return widgets.Text(value=str(value), description=description, placeholder=placeholder,
                        continuous_update=False, style=_STYLE, layout=widgets.Layout(width=width))


def _dropdown(description: str, options, value: Any, width: str = "240px") -> widgets.Dropdown:
    return widgets.Dropdown(options=options, value=value, description=description, style=_STYLE,
                            layout=widgets.Layout(width=width))


def _version_options(chosen: str) -> list[tuple[str, str]]:
    versions = list(plots.REPRESENTATIVE_VERSIONS)
    if chosen not in versions:
        versions.append(chosen)
    options = []
    for v in versions:
        try:
            options.append((f"{v}  ({behaviour(v).label})", v))
        except BlobeduError:
            options.append((v, v))
    return options


def _common_controls(values: Mapping[str, Any], kinds) -> dict[str, widgets.Widget]:
    return {
        "kind": _dropdown("fault", kinds, values["kind"], "260px"),
        "start": _text("from", values["start"], "0", "130px"),
        "end": _text("until", values["end"], "empty: forever", "160px"),
        "version": _dropdown("Stalwart", _version_options(str(values["version"])), str(values["version"]), "260px"),
        "max_retries": widgets.IntSlider(value=int(values["max_retries"] if values["max_retries"] is not None else 3),
                                         min=MAX_RETRIES_SLIDER[0], max=MAX_RETRIES_SLIDER[1],
                                         description="maxRetries", continuous_update=False, style=_STYLE),
        "verify": _dropdown("verifyAfterWrite", VERIFY_CHOICES, values["verify"] if values["verify"] in
                            ("default", "on", "off") else {True: "on", False: "off"}.get(values["verify"], "default"),
                            "260px"),
        "timeout": _text("timeout", values["timeout"], "30s"),
        "latency": _text("latency", values["latency"], "0"),
        "scale": _dropdown("time axis", ("auto", "linear", "symlog"), values["scale"], "200px"),
    }


class Panel(widgets.VBox):
    """Controls, a one-line verdict and a timeline figure that follows the controls.

    For tests and notebooks: ``controls`` (by name), ``verdict`` (the HTML widget) and
    ``verdict_text``, ``output`` (the figure), ``trace``, ``lanes`` (the plotted
    :class:`~blobedu.plots.Timeline`), ``error`` (the message when the values cannot run).
    """

    def __init__(self, controls: dict[str, widgets.Widget], rows: list[list[str]],
                 runner: Callable[[dict], tuple], lanes_of: Callable[..., plots.Timeline]) -> None:
        self.controls = controls
        self.runner = runner
        self.lanes_of = lanes_of
        self.verdict = widgets.HTML()
        self.output = widgets.Output()
        self.verdict_text = ""
        self.error: Optional[str] = None
        self.trace = None
        self.lanes: Optional[plots.Timeline] = None
        self.figure = None
        self.png: Optional[str] = None
        self._holding = False
        super().__init__([widgets.HBox([controls[name] for name in row]) for row in rows]
                         + [self.verdict, self.output])
        for control in controls.values():
            control.observe(self._changed, names="value")
        self.refresh()

    def values(self) -> dict[str, Any]:
        """The controls' current values; maxRetries is None (the version's own) when the version has none."""
        values = {name: control.value for name, control in self.controls.items()}
        if self.controls["max_retries"].disabled:
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
        self._holding = True
        try:
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
        finally:
            self._holding = False
        self.refresh()

    def _changed(self, change) -> None:
        if not self._holding:
            self.refresh()

    def _sync_controls(self) -> None:
        """Grey out what the current choice makes meaningless (no retries before 0.10.3; no end for a crash)."""
        try:
            no_retries = behaviour(self.controls["version"].value).max_retries_range is None
        except BlobeduError:
            no_retries = False
        self.controls["max_retries"].disabled = no_retries
        self.controls["end"].disabled = self.controls["kind"].value in _POINT_KINDS

    def refresh(self) -> None:
        """Run the model for the current values and redraw; bad values show a message instead of raising.

        Whatever happens, the panel ends showing either this run's result or one clear message.
        """
        try:
            self._sync_controls()
            values = self.values()
            trace, text = self.runner(values)
            if trace is None:
                self._show_problem(text)
                return
            timeline = self.lanes_of(trace, scale=values.get("scale", "auto"))
            figure = plots.draw(timeline)
            png = plots.png_base64(figure)
        except Exception as exc:  # noqa: BLE001 - a reader should see a message, not a traceback in a log
            self._show_problem(problem(_explain(exc)))
            return
        self.trace, self.lanes, self.figure, self.error = trace, timeline, figure, None
        self.verdict_text = text
        self.verdict.value = f"<b>{html.escape(text)}</b>"
        self.png = png
        self.output.outputs = ({"output_type": "display_data",
                                "data": {"image/png": self.png, "text/plain": text}, "metadata": {}},)

    def _show_problem(self, message: str) -> None:
        self.trace, self.lanes, self.figure, self.png = None, None, None, None
        self.error = self.verdict_text = message
        self.verdict.value = f'<span style="color:#D55E00"><b>{html.escape(message)}</b></span>'
        self.output.outputs = ({"output_type": "display_data", "data": {"text/plain": message}, "metadata": {}},)

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        if data is None:
            return None
        data["text/plain"] = self.verdict_text
        if self.png:
            data["image/png"] = self.png  # for renderers without widgets: the figure still shows
        return data


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
    """The PUT retry loop as a panel (notebook 01): fault, version, maxRetries, timeout, verify, latency."""
    values = _merged(defaults, PUT_DEFAULTS)
    controls = _common_controls(values, PUT_KINDS)
    rows = [["kind", "start", "end"], ["version", "max_retries", "verify"], ["timeout", "latency", "scale"]]
    return Panel(controls, rows, run_put_panel, plots.put_lanes)


def delivery_panel(**defaults: Any) -> Panel:
    """One message's whole journey as a panel (notebooks 03-05): the PUT controls plus sender and receiver."""
    values = _merged(defaults, DELIVERY_DEFAULTS)
    controls = _common_controls(values, DELIVERY_KINDS)
    controls["sender"] = _dropdown("sender", SENDERS, values["sender"], "200px")
    controls["receiver"] = _dropdown("receiver", RECEIVERS, values["receiver"], "200px")
    controls["data_timeout"] = _text("final-dot wait", values["data_timeout"], "sender's own", "170px")
    rows = [["kind", "start", "end"], ["version", "max_retries", "verify"], ["timeout", "latency", "data_timeout"],
            ["sender", "receiver", "scale"]]
    return Panel(controls, rows, run_panel, plots.delivery_lanes)


__all__ = [
    "DELIVERY_DEFAULTS", "PUT_DEFAULTS", "Panel", "delivery_panel", "fault_specs", "put_panel", "put_scenario_from_values",
    "put_verdict", "run_panel", "run_put_panel", "scenario_from_values", "store_config_from_values",
]
