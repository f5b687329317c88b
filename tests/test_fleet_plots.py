"""The fleet's views and panel, headless: values to a scenario, verdicts, figures drawn from results."""

from __future__ import annotations

import pytest

from blobedu.fleet import FleetConfig, run
from blobedu.fleet_plots import (FLEET_DEFAULTS, by_sender_rows, burst_rows, compare_figure, delay_figure, delays,
                                 fleet_panel, fleet_scenario_from_values, fleet_verdict, run_fleet_panel, series_figure)


@pytest.fixture(scope="module")
def result():
    return run(["refused@6h-12h"], FleetConfig(messages=600))


def test_defaults_are_a_day_with_a_six_hour_refused_outage():
    faults, config = fleet_scenario_from_values({})
    assert [f.spec() for f in faults] == ["refused@6h-12h"]
    assert config.messages == FLEET_DEFAULTS["messages"] and config.over == 86400 and config.s3_capacity is None


@pytest.mark.parametrize("values, words", [
    ({"capacity": "fast"}, "S3 capacity"), ({"senders": "qmail:1"}, "unknown sender"),
    ({"version": "0.16.99"}, "0.16.99"), ({"max_retries": 11}, "max-retries"), ({"colour": 1}, "unknown control"),
    ({"start": "soon"}, "from"),
])
def test_bad_values_give_a_message_not_an_exception(values, words):
    result, text = run_fleet_panel(values)
    assert result is None and text.startswith("⚠") and words in text


def test_a_version_without_retries_ignores_the_slider():
    _, config = fleet_scenario_from_values({"version": "0.9.0", "max_retries": 7})
    assert config.store.max_retries is None


def test_verdict_names_fates_and_peaks(result):
    text = fleet_verdict(result)
    assert text.startswith("600 messages: 600 delivered")
    assert "held by senders" in text and "MiB in receiver memory" in text


def test_figures_are_drawn_from_the_result(result):
    assert len(series_figure(result).axes) == 4
    assert len(delay_figure(result).axes) == 1
    assert len(compare_figure({"a": result, "b": result}).axes) == 2
    assert len(delays(result)) == result.fates["delivered"]


def test_rows(result):
    rows = by_sender_rows(result)
    assert [r["sender"] for r in rows] == ["stalwart", "postfix", "exim"]
    assert sum(int(r["messages"].replace(",", "")) for r in rows) == 600
    assert burst_rows({"unlimited": result})[0]["503 SlowDown"] == "0"


def test_the_panel_follows_its_controls():
    panel = fleet_panel(messages=300)
    before, png = panel.verdict_text, panel.png
    assert panel.result is not None and png
    panel.update(outage="1d")
    assert panel.result.s3_windows == [("refused", 6 * 3600.0, 30 * 3600.0)]
    assert panel.verdict_text != before and panel.png != png
    panel.update(version="0.9.0")
    assert panel.controls["max_retries"].disabled
    panel.update(capacity="5", receiver="wal")
    assert panel.result.config["s3_capacity"] == 5.0 and panel.result.peaks["spool_bytes"] > 0
    panel.update(outage="none")
    assert panel.result.faults == [] and panel.result.fates["delivered"] == 300
