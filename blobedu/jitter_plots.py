"""Notebook 01's jitter counterfactual, drawn: N writers' requests per second, today's loop beside full jitter.

Drawing only: every number comes from :func:`blobedu.jitter.storm` runs passed in.  Served requests
and 503s get their own rows (never one axis for both); the storm is a grey band.
"""

from __future__ import annotations

from typing import Mapping, Optional

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .durations import format_duration
from .jitter import StormRun
from .plots import OKABE_ITO, OUTAGE_COLOR, new_figure


def storm_figure(runs: Mapping[str, StormRun], title: Optional[str] = None, caption: Optional[str] = None) -> Figure:
    """One column per run: requests S3 served (top) and answered 503 (bottom) in each second."""
    last = max(int(r.last_end) + 2 for r in runs.values())
    fig = new_figure(10.5, 4.4)  # shows itself as a PNG in Jupyter
    axes = fig.subplots(2, len(runs), sharex=True, sharey="row", squeeze=False)
    for col, (label, r) in enumerate(runs.items()):
        served, failed = [0] * last, [0] * last
        for t, status in r.requests:
            (served if status < 300 else failed)[int(t)] += 1
        top, bottom = axes[0][col], axes[1][col]
        for ax in (top, bottom):
            ax.axvspan(0, r.storm_seconds, color=OUTAGE_COLOR, alpha=0.25, lw=0)
            ax.grid(alpha=0.3)
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        top.bar(range(last), served, width=1.0, align="edge", color=OKABE_ITO["bluish green"], lw=0)
        bottom.bar(range(last), failed, width=1.0, align="edge", color=OKABE_ITO["vermillion"], lw=0)
        top.set_title(f"{label}\n{r.stored:,} stored, {r.failed:,} got a 451; {len(r.requests):,} requests; "
                      f"the last done at {format_duration(r.last_end)}", fontsize=9)
        bottom.set_xlabel("seconds")
    axes[0][0].set_ylabel("requests served\nin each second", fontsize=9)
    axes[1][0].set_ylabel("requests answered\n503 in each second", fontsize=9)
    fig.suptitle(title or "The same storm, the same writers: today's loop and full jitter", fontsize=11,
                 fontweight="bold")
    if caption:
        fig.get_layout_engine().set(rect=(0, 0.04, 1, 0.96))
        fig.text(0.01, 0.003, caption, fontsize=7.5, color="#555555", ha="left", va="bottom")
    return fig


__all__ = ["storm_figure"]
