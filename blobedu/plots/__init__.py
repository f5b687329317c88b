"""
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
``receiver disk``         only when a disk-full fault is set: its window, a vermillion bar hatched
                          ``xx`` (in this model only the spool writes there: its writes fail, ENOSPC).
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

The package
-----------
Three modules, one step each: :mod:`~blobedu.plots.timeline` (the plain data and the visual
language), :mod:`~blobedu.plots.lanes` (traces to Timelines) and :mod:`~blobedu.plots.render`
(Timelines to matplotlib Figures).  Everything is re-exported here, so ``from blobedu.plots import
plot_delivery`` keeps working.
"""

from __future__ import annotations

from .lanes import (_fault_kind, _request_lanes, _scale_note, _sleep_lane, delay_curve, delay_series,
                    delivery_lanes, fate_lanes, outage_windows, put_lanes, reply_code, reply_kind, result_kind, s3_state_bars,
                    schedule_lanes, version_lanes, version_traces)
from .render import (PANEL_RC, SERIES, TimelineFigure, _label_runs, _place, _rows, draw, draw_stack, new_figure, plot_delay_curve,
                     plot_delivery, plot_fates, plot_put, plot_schedules, plot_versions, png_base64, png_bytes)
from .timeline import (AUTO_LINEAR_MAX, DAY, GREY, HOUR, LANE_SETS, LINSCALE, MINUTE, OKABE_ITO, OUTAGE_COLOR, OUTAGE_LEGEND,
                       REPRESENTATIVE_VERSIONS, SCALES, STYLES, Axis, Bar, Lane, Mark, Style, Timeline, _horizon,
                       time_axis, time_unit)

__all__ = [
    "AUTO_LINEAR_MAX", "Axis", "Bar", "DAY", "GREY", "HOUR", "LANE_SETS", "LINSCALE", "Lane", "MINUTE", "Mark", "OKABE_ITO",
    "OUTAGE_COLOR", "OUTAGE_LEGEND", "PANEL_RC", "REPRESENTATIVE_VERSIONS", "SCALES", "SERIES", "STYLES", "Style", "Timeline",
    "TimelineFigure", "delay_curve", "delay_series", "delivery_lanes", "draw", "fate_lanes", "plot_fates", "draw_stack", "new_figure", "outage_windows",
    "plot_delay_curve", "plot_delivery", "plot_put", "plot_schedules", "plot_versions", "png_base64", "png_bytes", "put_lanes",
    "reply_code", "reply_kind", "result_kind", "s3_state_bars", "schedule_lanes", "time_axis", "time_unit",
    "version_lanes", "version_traces",
]
