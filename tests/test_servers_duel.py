"""Notebook 08's fault slider (Stalwart beside maddy, one fault per position) and every design's figure."""

import pytest

from blobedu.servers import NAMES, compare


def test_one_503_bounces_at_maddy_and_is_delivered_by_stalwart():
    traces = compare.duel_run("one 503 (50 ms)")
    assert compare.fate(traces["maddy"]).startswith("BOUNCED") and "(554)" in compare.fate(traces["maddy"])
    assert compare.fate(traces["stalwart"]).startswith("delivered")
    assert compare.duel_headline(traces) == ("the same fault: maddy bounced the message, stalwart delivered it")


def test_a_refusal_shorter_than_minio_gos_retries_is_delivered_by_both():
    traces = compare.duel_run("refused 2 s")
    assert all(compare.fate(t).startswith("delivered") for t in traces.values())
    assert compare.duel_headline(traces).startswith("both delivered it")


def test_a_lost_write_is_named_as_lost():
    traces = compare.duel_run("lost write 1 h")
    assert compare.fate(traces["maddy"]) == "LOST after a 250"
    assert compare.duel_headline(traces).startswith("maddy answered 250")


def test_the_slider_has_one_real_run_per_fault():
    frames = compare.duel_frames("refused 1 h")
    assert frames.labels == list(compare.DUEL_FAULTS)
    assert len(frames.pngs) == len(compare.DUEL_FAULTS) and len(set(frames.pngs)) == len(frames.pngs)
    verdicts = [compare.duel_verdict(label, r) for label, r in zip(frames.labels, frames.results)]
    assert "maddy BOUNCED" in verdicts[1] and "maddy delivered" in verdicts[0]


@pytest.mark.parametrize("name", NAMES)
def test_every_design_can_be_drawn_in_the_two_design_panel(name):
    traces, lines = compare.run_pair({"top": "stalwart", "bottom": name, "faults": "refused@0-1h\ndisk-loss@10m"})
    assert traces is not None, lines
    from blobedu import plots

    figure = plots.draw_stack(compare.pair_lanes(traces))
    assert figure.axes


def test_the_two_design_panel_gives_what_a_fresh_run_gives_on_its_kept_endpoints():
    """run_pair keeps one moto endpoint a slot between redraws: each run must still be a fresh run's twin."""
    faults = "refused@0-1h\ndisk-loss@10m"
    for top, bottom in (("tmail", "cyrus"), ("tmail", "james"), ("wal", "stalwart"), ("tmail", "cyrus")):
        traces, _ = compare.run_pair({"top": top, "bottom": bottom, "faults": faults, "sender": "postfix"})
        for slot, name in (("top", top), ("bottom", bottom)):
            alone = compare.run(name, faults.split("\n"), "postfix")
            kept = traces[slot]
            assert kept.fate == alone.fate and compare.holders(kept) == compare.holders(alone), (slot, name)
            assert [(s.reply, s.t) for s in kept.sessions] == [(s.reply, s.t) for s in alone.sessions], (slot, name)
            assert [(c["holder"], c["from"], c["to"]) for c in kept.custody] == \
                [(c["holder"], c["from"], c["to"]) for c in alone.custody], (slot, name)
