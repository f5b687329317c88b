"""The fleet's views and panel, headless: values to a scenario, verdicts, figures drawn from results."""

from __future__ import annotations

import pytest

from blobedu.fleet import FleetConfig, run
from blobedu.fleet_plots import (FLEET_DEFAULTS, _plateau, by_sender_rows, burst_rows, compare_figure, delay_figure,
                                 delays, describe, fleet_panel, fleet_scenario_from_values, fleet_verdict, headline,
                                 jitter_rows, outage_headline, outage_run, recovery_figure, run_fleet_panel,
                                 series_figure)


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
    assert len(series_figure(result).axes) == 3  # no spool panel for Stalwart, no 503 panel without 503s
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


def _texts(fig):
    return [t.get_text() for t in fig.texts] + [ax.get_title() for ax in fig.axes] + \
        [t.get_text() for ax in fig.axes for t in ax.texts]


def test_titles_say_what_to_notice_and_captions_hold_no_command_line(result):
    fig = series_figure(result)
    words = " ".join(_texts(fig))
    assert "@" not in words and "stalwart:40" not in words  # no fault specs or --senders strings
    assert headline(result) in fig._suptitle.get_text()
    assert "Stalwart 40 %" in describe(result) and "from 6h to 12h" in describe(result)


def test_panels_follow_what_the_run_has():
    wal = run(["refused@6h-12h"], FleetConfig(messages=300, receiver="wal"))
    assert [ax.get_ylabel() for ax in series_figure(wal).axes][-1].startswith("spool")
    capped = run(["refused@6h-12h"], FleetConfig(messages=600, s3_capacity=2))
    assert capped.s3_slowdowns > 0
    labels = [ax.get_ylabel() for ax in series_figure(capped).axes]
    assert any("503 SlowDown" in label for label in labels) and not any("spool" in label for label in labels)
    assert sum(capped.series["s3_peak_slowdowns_per_s"]) >= max(capped.recovery["slowdowns"]) > 0


def test_count_axes_have_whole_number_ticks():
    few = run(["refused@6h-12h"], FleetConfig(messages=4))
    fig = series_figure(few)
    fig.canvas.draw()
    for ax in fig.axes:
        if "MiB" in ax.get_ylabel():
            continue
        assert all(float(t).is_integer() for t in ax.get_yticks()), ax.get_ylabel()


def test_the_backlog_plateau_is_found_and_annotated(result):
    assert _plateau([0, 1, 2, 3, 4, 5], [0, 5, 3, 3, 3, 0], after=1.5) == (2, 4, 3)
    assert _plateau([0, 1, 2], [0, 0, 0], after=0) is None
    notes = [t.get_text() for t in series_figure(result).axes[0].texts]
    assert any("waiting" in n for n in notes)


def test_a_zoom_never_cuts_before_the_drain_ends(result):
    fig = compare_figure({"a": result}, hours=(11.5, 14))
    end = (result.drain["s3_back_at"] + result.drain["sender_backlog_seconds"]) / 3600
    assert fig.axes[0].get_xlim()[1] >= end > 14


def test_recovery_figure_and_jitter_rows_side_by_side():
    runs = {j: run(["refused@6h-12h"], FleetConfig(messages=600, s3_capacity=2, jitter=j)) for j in ("none", "full")}
    fig = recovery_figure(runs, seconds=30)
    assert len(fig.axes) == 4
    rows = jitter_rows(runs)
    assert [r["run"] for r in rows] == ["none", "full"] and rows[0]["503 SlowDown"] != rows[1]["503 SlowDown"]
    with pytest.raises(Exception):
        recovery_figure({"no outage": run([], FleetConfig(messages=10))})


def test_the_outage_slider_frames_are_real_runs():
    short, long = outage_run("1h", messages=200), outage_run("2d", messages=200)
    assert short.s3_windows == [("refused", 6 * 3600.0, 7 * 3600.0)]
    assert long.fates["bounced"] > 0 == short.fates["bounced"]
    assert outage_headline("2d", long).startswith("S3 down 2d:") and "bounce" in outage_headline("2d", long)


def test_the_delay_figure_counts_first_session_deliveries_as_on_time():
    real = run(["refused@6h-12h"], FleetConfig.real(messages=400))
    fig = delay_figure(real)
    on_time = sum(1 for d in delays(real) if d <= 60)
    assert 0 < on_time < 400 and fig._suptitle.get_text().startswith(f"{on_time:,} delivered within 1m")


def test_a_node_fault_is_described_in_words():
    lost = run(["refused@6h-12h", "disk-loss@11h"], FleetConfig(messages=50, receiver="wal"))
    text = describe(lost)
    assert "@" not in text and "the receiver's disk is lost at 11h" in text
    assert "@" not in " ".join(_texts(series_figure(lost)))


@pytest.mark.parametrize("receiver", ["stalwart", "wal"])
def test_the_panels_fixed_layout_keeps_every_label_inside_the_figure_and_off_the_next_axes(receiver):
    """The panel's redraws use fixed margins, not the constrained layout: nothing may be cut or overlap."""
    import matplotlib

    from blobedu.fleet_plots import series_figure
    from blobedu.plots import PANEL_RC

    result = run(["503@6h-8h"], FleetConfig(messages=300, receiver=receiver))
    fig = series_figure(result, layout="fixed")
    assert fig.get_layout_engine() is None
    with matplotlib.rc_context(PANEL_RC):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        page = fig.bbox
        boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
        for box in boxes + [t.get_window_extent(renderer) for t in fig.texts + [fig._suptitle]]:
            assert page.x0 - 0.5 <= box.x0 and box.x1 <= page.x1 + 0.5 and page.y0 - 0.5 <= box.y0 and box.y1 <= page.y1 + 0.5
        frames = [ax.get_window_extent(renderer) for ax in fig.axes]
        for upper, lower in zip(frames, boxes[1:]):  # stacked top to bottom: no label reaches the axes above
            assert lower.y1 <= upper.y0
        caption = fig.texts[-1].get_window_extent(renderer)
        assert caption.y1 <= boxes[-1].y0 + 0.5  # the caption sits under the time axis' labels


def test_the_headline_counts_one_message_in_the_singular():
    from blobedu.fleet_plots import headline

    one = run(["503@6h-7h"], FleetConfig.real(messages=10))  # 2.4 h apart: one at a time, held for its session
    assert one.peaks["sender_backlog"] == 1
    assert headline(one).startswith("1 message waits at the senders' queues at most")
    many = run(["refused@6h-12h"], FleetConfig(messages=100))
    assert headline(many).startswith(f"{many.peaks['sender_backlog']:,} messages wait at")
