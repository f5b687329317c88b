"""The hazard atlas as a picture: one release row's cells, found or not (notebook 09's slider).

Nothing here searches or decides: every figure is drawn from an :class:`~blobedu.atlas.Atlas` that
:func:`blobedu.atlas.atlas` computed (each finding already confirmed by a real ``deliver()`` run).
One figure is one release row: a grid with the bad outcomes top to bottom and the receiver designs
left to right; a cell holds the hazard its smallest schedule is an instance of, and that schedule, or
"none found" with how many schedules were tried.  Colours are the Okabe-Ito palette of
:mod:`blobedu.plots`, by what the outcome costs the message; the legend lists only the colours drawn.
"""

from __future__ import annotations

import textwrap

from matplotlib.patches import Patch

from .atlas import OUTCOMES, Atlas, Cell
from .plots import GREY, OKABE_ITO, new_figure

_C = OKABE_ITO
#: What each outcome costs the message, as (colour, legend), most severe first.
SEVERITY = {
    "lost-after-250": (_C["vermillion"], "lost, and nobody told"),
    "lost-untold": (_C["vermillion"], "lost, and nobody told"),
    "hung": (_C["reddish purple"], "a session hangs / a duplicate"),
    "duplicate": (_C["reddish purple"], "a session hangs / a duplicate"),
    "lost-told": (_C["orange"], "bounced or late: the author is told, or it arrives"),
    "delay-over-24h": (_C["orange"], "bounced or late: the author is told, or it arrives"),
}
NONE_FOUND = ("#eeeeee", "none found")
#: How the designs are named in the figure.
DESIGN_NAMES = {"stalwart": "Stalwart's own design\n(no spool: 451 until S3 has it)",
                "wal": "a write-ahead spool\n(250 once on local disk)"}


def row_cells(result: Atlas, version: str, sender: str = "stalwart") -> list[Cell]:
    """The cells of one release row, in the atlas's design order."""
    cells = [c for c in result.cells if c.version == version and c.sender == sender]
    if not cells:
        raise KeyError(f"the atlas has no row for Stalwart {version}; rows: {', '.join(versions(result))}")
    return cells


def versions(result: Atlas) -> list[str]:
    """The release rows of an atlas, oldest first (the slider's values)."""
    return list(dict.fromkeys(c.version for c in result.cells))


def row_headline(result: Atlas, version: str) -> str:
    """What to notice in one release row: what Stalwart's own design can still do to a message."""
    own = next((c for c in row_cells(result, version) if c.receiver == "stalwart"), None)
    if own is None:
        return f"Stalwart {version}"
    found = set(own.findings)
    parts = ["a 250 can lose the message" if "lost-after-250" in found else "no loss after a 250 found"]
    if "hung" in found:
        parts.append("a session can hang")
    if "duplicate" in found:
        parts.append("a duplicate can arrive")
    if "lost-untold" in found:
        parts.append("a bounce can be dropped")
    return f"Stalwart {version}, its own design: " + ", ".join(parts)


def _cell_text(cell: Cell, outcome: str) -> str:
    f = cell.findings.get(outcome)
    if f is not None:
        schedule = ", ".join(f.schedule)
        return f"{f.hazard or 'NEW: no listed hazard'}\n{schedule if len(schedule) <= 44 else schedule[:41] + '...'}"
    if outcome in cell.discrepancies:
        return "UNCONFIRMED by deliver()"
    return f"none found in {cell.tried} schedules"


def plot_atlas_row(result: Atlas, version: str):
    """One release row of the atlas: outcomes top to bottom, designs left to right, a cell per finding."""
    cells = row_cells(result, version)
    outcomes = list(result.outcomes)
    fig = new_figure(11.0, 0.62 * len(outcomes) + 1.9)
    ax = fig.add_subplot()
    used: dict[str, str] = {}
    for j, cell in enumerate(cells):
        for i, outcome in enumerate(outcomes):
            colour, legend = SEVERITY[outcome] if outcome in cell.findings else NONE_FOUND
            used.setdefault(legend, colour)
            ax.fill_between([j + 0.03, j + 0.97], i + 0.06, i + 0.94, color=colour, linewidth=0)
            found = outcome in cell.findings
            ax.text(j + 0.5, i + 0.5, _cell_text(cell, outcome), ha="center", va="center", fontsize=8,
                    color="white" if found and colour == _C["vermillion"] else "black" if found else GREY,
                    fontweight="bold" if found else "normal")
    ax.set_xlim(0, len(cells))
    ax.set_ylim(len(outcomes), 0)
    ax.set_xticks([j + 0.5 for j in range(len(cells))],
                  [DESIGN_NAMES.get(c.receiver, c.receiver) for c in cells], fontsize=9)
    ax.xaxis.tick_top()
    ax.set_yticks([i + 0.5 for i in range(len(outcomes))], outcomes, fontsize=9)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    fig.suptitle(textwrap.fill(row_headline(result, version), 100), fontsize=11, fontweight="bold", x=0.01,
                 ha="left")
    order = list(dict.fromkeys([legend for _, legend in SEVERITY.values()] + [NONE_FOUND[1]]))
    handles = [Patch(facecolor=used[label], label=label) for label in order if label in used]
    fig.legend(handles=handles, loc="outside lower center",
               ncol=len(handles), fontsize=8, frameon=False)
    ax.set_xlabel(f"each cell: the smallest fault schedule found for that outcome, confirmed by a real "
             f"deliver() run · atlas(budget={result.budget}, seed={result.seed}) · the sender: a Stalwart server",
                  fontsize=7, color=GREY)
    return fig


def row_verdict(result: Atlas, version: str) -> str:
    """One line per release row, for renderers without widgets."""
    parts = []
    for cell in row_cells(result, version):
        found = [f"{o} [{cell.findings[o].hazard}]" for o in OUTCOMES if o in cell.findings]
        parts.append(f"{cell.receiver}: {', '.join(found) or 'none found'}")
    return f"Stalwart {version} · " + " · ".join(parts)


__all__ = ["DESIGN_NAMES", "SEVERITY", "plot_atlas_row", "row_cells", "row_headline", "row_verdict", "versions"]
