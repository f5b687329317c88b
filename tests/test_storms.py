"""05's storm slider (maxRetries 10 against 503 storms of each length) and 00's copy-lane outage figure."""

from functools import lru_cache

import pytest

from blobedu import StoreConfig
from blobedu.delivery import DeliveryConfig, deliver
from blobedu.experiments import storm_headline
from blobedu.plots import LANE_SETS, delivery_lanes
from blobedu.schedules import sender_schedule


@lru_cache(maxsize=None)
def _storm(length: str, max_retries: int = 10):
    return deliver([f"503@0-{length}"], DeliveryConfig(store=StoreConfig(max_retries=max_retries), sender="stalwart"))


def test_a_storm_that_ends_inside_the_loop_and_the_wait_is_one_copy_in_the_session():
    t = _storm("4m")
    assert [s.reply.split()[0] for s in t.sessions] == ["250"] and t.copies == 1
    assert storm_headline("4m", t) == "4m of 503s: the 250 reaches the sender in its session, at 4m15s: one copy"


def test_a_storm_that_ends_inside_the_loop_but_past_the_wait_is_two_copies():
    t = _storm("5m")
    wait = sender_schedule("stalwart").final_dot_wait
    first = t.sessions[0]
    assert first.reply == "timeout" and first.receiver_replied_at > wait and first.receiver_reply.startswith("250")
    assert t.copies == 2
    assert storm_headline("5m", t).endswith("250 at 5m19s goes to nobody (1 × timeout): two copies, at 5m19s")


def test_a_storm_past_the_loop_is_one_copy_later_and_its_451_reaches_nobody():
    t = _storm("10m")
    assert t.sessions[0].receiver_reply.startswith("451") and t.sessions[0].reply == "timeout" and t.copies == 1
    assert "loop's 451 at 5m19s goes to nobody (1 × timeout): one copy" in storm_headline("10m", t)


def test_maxretries_10_in_a_1h_storm_no_451_reaches_the_sender_and_it_arrives_later():
    ten, three = _storm("1h"), _storm("1h", 3)
    assert all(s.reply == "timeout" for s in ten.sessions[:-1]) and ten.sessions[-1].reply.startswith("250")
    assert not any(s.reply.startswith("451") for s in ten.sessions)
    assert any(s.reply.startswith("451") for s in three.sessions)
    assert ten.delivered_at > three.delivered_at


@pytest.mark.parametrize("length", ["1m", "4m", "5m", "10m", "1h"])
def test_the_slider_frames_store_loops_never_overlap_in_the_shared_lanes(length):
    """teaching.md's 05 defect: loops drawn over each other in the request and sleep lanes."""
    t = _storm(length)
    ends = [s.receiver_replied_at for s in t.sessions]
    assert all(ends[i] <= t.sessions[i + 1].t for i in range(len(ends) - 1))
    keys = delivery_lanes(t, lanes="sessions").keys()
    assert set(keys) <= set(LANE_SETS["sessions"]) and "smtp" in keys


def test_00s_first_figure_draws_only_who_holds_the_copy_and_the_replies():
    t = deliver(["refused@0-6h"])
    timeline = delivery_lanes(t, lanes="copy")
    assert timeline.keys() == list(LANE_SETS["copy"])
    drawn = {m.kind for lane in timeline.lanes for m in lane.marks} | {b.kind for lane in timeline.lanes for b in lane.bars}
    # the full figure also draws S3's state, the requests, the hidden transport retries and the mailbox
    assert drawn == {"4xx", "2xx", "session", "sender queue", "receiver memory", "S3"}


def test_store_loops_that_overlap_in_time_each_get_their_own_row():
    """teaching.md's 05 defect: a sender that hangs up retries while the receiver's loop still runs."""
    t = deliver(["503@0-15m"], DeliveryConfig(store=StoreConfig(max_retries=10, latency=29), sender="stalwart"))
    first, second = t.sessions[0], t.sessions[1]
    assert second.t < first.receiver_replied_at  # the second loop starts while the first still runs
    timeline = delivery_lanes(t, lanes="sessions")
    puts = timeline.lane("requests:PUT").marks
    row_of = {m.t: m.row for m in puts}
    assert {row_of[r["t"]] for r in first.store["requests"] if r["method"] == "PUT"} == {0}
    assert {row_of[r["t"]] for r in second.store["requests"] if r["method"] == "PUT"} == {1}
    sleeps = timeline.lane("sleeps").bars
    assert {b.row for b in sleeps if first.t <= b.start < first.receiver_replied_at and b.start < second.t} == {0}
    # loops that never overlap keep the lanes' usual single row
    assert {m.row for m in delivery_lanes(_storm("10m"), lanes="sessions").lane("requests:PUT").marks} == {0}
    assert {b.row for b in delivery_lanes(_storm("10m"), lanes="sessions").lane("sleeps").bars} == {None}
