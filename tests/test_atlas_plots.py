"""blobedu.atlas_plots: one release row of the hazard atlas as a grid (notebook 09's slider)."""

from __future__ import annotations

import pytest

from blobedu.atlas import OUTCOMES, Atlas, Cell, Finding
from blobedu.atlas_plots import SEVERITY, plot_atlas_row, row_headline, row_verdict, versions


def _cell(version, receiver, found):
    cell = Cell(version, receiver, "stalwart", tried=42)
    for outcome, hazard in found.items():
        cell.findings[outcome] = Finding(version, receiver, "stalwart", outcome, ["refused@0-1s"], "blobedu deliver", hazard)
    return cell


@pytest.fixture(scope="module")
def atlas():
    return Atlas([_cell("0.15.5", "stalwart", {"lost-after-250": "lost-write-after-250", "hung": "silent-s3-hang"}),
                  _cell("0.15.5", "wal", {"lost-after-250": "spool-lost-with-disk"}),
                  _cell("0.16.18", "stalwart", {"lost-untold": "dropped-bounce"}),
                  _cell("0.16.18", "wal", {})], list(OUTCOMES), budget=5, seed=22)


def test_the_slider_steps_through_the_release_rows_in_order(atlas):
    assert versions(atlas) == ["0.15.5", "0.16.18"]


def test_the_headline_says_what_stalwarts_own_design_can_do(atlas):
    assert row_headline(atlas, "0.15.5") == ("Stalwart 0.15.5, its own design: a 250 can lose the message, "
                                             "a session can hang")
    assert row_headline(atlas, "0.16.18") == ("Stalwart 0.16.18, its own design: no loss after a 250 found, "
                                              "a bounce can be dropped")
    assert "wal: lost-after-250 [spool-lost-with-disk]" in row_verdict(atlas, "0.15.5")


def test_a_cell_shows_its_hazard_or_how_many_schedules_found_nothing(atlas):
    fig = plot_atlas_row(atlas, "0.16.18")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 2 * len(OUTCOMES)
    assert sum(t.startswith("dropped-bounce\n") for t in texts) == 1
    assert sum(t == "none found in 42 schedules" for t in texts) == 2 * len(OUTCOMES) - 1
    # the legend lists only the colours drawn
    legend = {t.get_text() for t in fig.legends[0].get_texts()}
    assert legend == {SEVERITY["lost-untold"][1], "none found"}


def test_a_row_the_atlas_does_not_have_is_refused(atlas):
    with pytest.raises(KeyError, match="no row"):
        plot_atlas_row(atlas, "0.9.0")
