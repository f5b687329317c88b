"""03's outage slider and 04's disk-loss slider: the runs behind each frame, and what the frames draw."""

from functools import lru_cache

import pytest

from blobedu.durations import format_duration, parse_duration
from blobedu.experiments import (DISK_LOSS_AT, designs_line, designs_through, disk_loss_faults, fate_headline, fate_line,
                                 fates_curves, sender_fates)
from blobedu.plots import LANE_SETS, delay_curve, fate_lanes
from blobedu.tolerance import tolerance


@lru_cache(maxsize=None)
def _fates(outage: str):
    return sender_fates(outage, senders=("stalwart", "postfix"))


def test_a_6h_outage_reaches_a_stalwart_sender_only_at_its_1d04h_try():
    runs = _fates("6h")
    t = fate_lanes(runs, "6h")
    assert t.keys() == ["fate:stalwart", "fate:postfix"]
    assert t.outage == [(0.0, 6 * 3600.0)]
    star = [m for m in t.lane("fate:stalwart").marks if m.kind == "mailbox"]
    assert [m.t for m in star] == [runs["stalwart"].delivered_at]
    assert format_duration(star[0].t) == format_duration(tolerance("stalwart").last_try_at) == "1d04h"
    # Postfix keeps trying about every 70 minutes: it delivers within 2 hours of S3's return
    assert 6 * 3600 < runs["postfix"].delivered_at < 8 * 3600
    assert "a Stalwart 0.16 sender delivers at 1d04h, 22h" in fate_headline("6h", runs)
    assert fate_line("6h", runs).startswith("a 6h outage: Stalwart 0.16: delivered at 1d04h; Postfix: delivered at")


def test_past_the_last_try_a_stalwart_sender_bounces_and_the_gap_is_drawn():
    runs = _fates("2d")
    lane = fate_lanes(runs, "2d").lane("fate:stalwart")
    bounce = [m for m in lane.marks if m.kind == "bounce"]
    assert [m.t for m in bounce] == [tolerance("stalwart").bounce_at]
    gap = [b for b in lane.bars if b.kind == "no-more-tries"]
    assert len(gap) == 1 and gap[0].start == max(s.t for s in runs["stalwart"].sessions) and gap[0].end == bounce[0].t
    assert not [m for m in lane.marks if m.kind == "mailbox"]
    assert fate_headline("2d", runs) == "S3 down for 2d: a Stalwart 0.16 sender bounces at 3d"


def test_the_delay_curve_from_the_slider_runs_is_the_delay_curve():
    curves = fates_curves(["6h"], [_fates("6h")])
    for sender in ("stalwart", "postfix"):
        mine, theirs = curves[sender][0], delay_curve(["6h"], sender=sender)[0]
        assert {k: mine[k] for k in ("outage", "delay", "fate", "bounced_at", "sessions", "sender")} == \
            {k: theirs[k] for k in ("outage", "delay", "fate", "bounced_at", "sessions", "sender")}


def test_disk_loss_faults():
    assert disk_loss_faults("no loss") == ["refused@0-1h"]
    assert disk_loss_faults("30m") == ["refused@0-1h", "disk-loss@30m"]
    assert DISK_LOSS_AT[0] == "no loss"


@pytest.mark.parametrize("at, spool_fate", [("30m", "lost"), ("no loss", "delivered"), ("59m", "lost")])
def test_a_disk_lost_during_the_outage_loses_the_spooled_message_only(at, spool_fate):
    traces = designs_through(disk_loss_faults(at))
    assert traces["stalwart"].fate == "delivered"
    assert traces["wal"].fate == spool_fate
    line = designs_line(traces)
    assert ("LOST at " + at + " after a 250" in line) == (spool_fate == "lost")
    if at != "no loss":
        from blobedu.widgets import compare_lanes

        for t in compare_lanes(traces):
            kept = t.only(LANE_SETS["spool"])
            node = [m for m in kept.lane("disk").marks if m.kind == "node"]
            assert [m.t for m in node] == [parse_duration(at)]  # the disk loss is in the disk lane
            assert not [m for m in kept.lane("outcome").marks if m.kind == "node"]  # not in the mailbox lane


def test_the_disk_loss_caption_says_whether_a_disk_is_lost():
    from blobedu.experiments import disk_loss_caption

    assert "no disk lost" in disk_loss_caption("no loss")
    assert "the receiver's disk lost at 30m" in disk_loss_caption("30m")
