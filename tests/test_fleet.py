"""The fleet engine's own properties: messages independent without capacity, shifted by arrival, coupled by capacity.

Equality with the real engine (``deliver()``) is ``test_fleet_equivalence.py``; this module checks
what only a fleet has: many messages at once, the S3 capacity that couples them, the senders'
shared queue runs, the series and the summary figures.
"""

from __future__ import annotations

import itertools
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blobedu import spool
from blobedu.edge import answer
from blobedu.errors import BlobeduError
from blobedu.faults import Fault, parse
from blobedu.fleet import (REPLY_QUOTA, _Capacity, REPLY_TEMPFAIL, UPLOAD_RETRY_SECONDS, Fleet, FleetConfig, assign_senders,
                           parse_senders, run)
from blobedu.receiver import REPLY_QUOTA as RECEIVER_QUOTA
from blobedu.receiver import REPLY_TEMPFAIL as RECEIVER_TEMPFAIL
from blobedu.store import StoreConfig

H, D = 3600.0, 86400.0


def test_constants_are_the_receivers_own():
    assert (REPLY_TEMPFAIL, REPLY_QUOTA) == (RECEIVER_TEMPFAIL, RECEIVER_QUOTA)
    assert UPLOAD_RETRY_SECONDS == spool.UPLOAD_RETRY_SECONDS


# -- the request edge: the fleet's S3 answers what moto answers -------------------------------------------
@pytest.mark.parametrize("kind", [None, "refused", "timeout", "lost-write", "500", "503", "429", "403"])
@pytest.mark.parametrize("method", ["PUT", "HEAD", "GET", "DELETE"])
@pytest.mark.parametrize("exists", [False, True])
def test_answer_matches_the_moto_endpoint(endpoint, kind, method, exists):
    key = f"edge-{kind}-{method}-{exists}"
    if exists:
        endpoint.send("PUT", key, b"body")
    fault = Fault(kind, 0.0) if kind else None
    real, _ = endpoint.send(method, key, b"body", fault)
    model, stored = answer(method, fault, exists)
    assert (model.status, model.error) == (real.status, real.error)
    assert stored == (method == "PUT" and kind is None)
    if method == "PUT" and not exists:
        assert endpoint.exists(key) == stored


# -- without capacity, every message is on its own ------------------------------------------------------------
@st.composite
def fleets(draw):
    """A small fleet: random arrivals and senders, a random outage, any receiver design, no capacity."""
    n = draw(st.integers(2, 12))
    arrivals = sorted(draw(st.lists(st.integers(0, 12 * 3600), min_size=n, max_size=n)))
    senders = draw(st.lists(st.sampled_from(["stalwart", "postfix", "exim", "rfc5321"]), min_size=n, max_size=n))
    faults = []
    for _ in range(draw(st.integers(1, 2))):
        start = draw(st.integers(0, 8 * 3600))
        faults.append(f"{draw(st.sampled_from(['refused', '503', 'timeout', 'lost-write']))}@{start}-"
                      f"{start + draw(st.integers(60, 8 * 3600))}")
    if draw(st.booleans()):
        faults.append(f"{draw(st.sampled_from(['crash', 'disk-loss']))}@{draw(st.integers(0, 8 * 3600))}.37")
    store = StoreConfig(version=draw(st.sampled_from(["0.15.5", "0.16.18"])), latency=draw(st.sampled_from([0.0, 0.25, 29.0])))
    config = FleetConfig(store=store, receiver=draw(st.sampled_from(["stalwart", "wal"])),
                         queue_runs=draw(st.sampled_from(["server", "message"])))
    return faults, config, [float(a) for a in arrivals], senders


def _story(m, shift: float = 0.0):
    r = lambda x: None if x is None else round(x + shift, 6)  # noqa: E731
    return ([(r(s.t), s.reply[:3], r(s.ended), (s.receiver_reply or "")[:3], r(s.receiver_replied_at))
             for s in m.sessions],
            [(r(c.t), r(c.mailbox_at), r(c.bounced_at), r(c.lost_at)) for c in m.copies],
            m.fate, r(m.delivered_at))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=fleets())
def test_without_capacity_each_message_behaves_as_it_would_alone(scenario):
    faults, config, arrivals, senders = scenario
    together = Fleet(faults, config, arrivals=arrivals, senders=senders).run()
    for m in together.detail:
        alone = Fleet(faults, config, arrivals=[m.arrival], senders=[m.sender]).run().detail[0]
        assert _story(m) == _story(alone)


def _shifted(faults, by: float):
    """The fault plan as seen from a message that arrives at ``by``: every window moves back by ``by``."""
    out = []
    for f in map(parse, faults):
        end = None if f.end is None else f.end - by
        if end is not None and end <= 0:
            continue
        if f.kind in ("crash", "disk-loss") and f.start - by < 0:
            continue  # it happened before this message existed
        out.append(Fault(f.kind, f.start - by, end))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=fleets())
def test_each_message_is_a_fleet_of_one_shifted_by_its_arrival(scenario):
    """With each message's queue runs timed from its own arrival, a message at ``a`` is the one at 0, moved by ``a``."""
    faults, config, arrivals, senders = scenario
    config = FleetConfig(store=config.store, receiver=config.receiver, queue_runs="message")
    together = Fleet(faults, config, arrivals=arrivals, senders=senders).run()
    for m in together.detail:
        at_zero = Fleet(_shifted(faults, m.arrival), config, arrivals=[0.0], senders=[m.sender]).run().detail[0]
        assert _story(m) == _story(at_zero, shift=m.arrival)


def test_server_queue_runs_shift_by_whole_runs_only():
    """A Postfix/Exim server's runs are timed from the server's start: a shift of 30 min keeps them, 7 min does not."""
    faults = ["refused@0-3h"]
    config = FleetConfig(queue_runs="server")
    base = Fleet(faults, config, arrivals=[0.0], senders=["exim"]).run().detail[0]
    for shift, same in ((1800.0, True), (420.0, False)):
        m = Fleet(_shifted(faults, -shift), config, arrivals=[shift], senders=["exim"]).run().detail[0]
        assert (_story(m) == _story(base, shift=shift)) is same
    # every retry of a server's messages lands on one of its queue runs
    burst = Fleet(faults, config, arrivals=[0.0, 61.0, 403.0, 999.0], senders=["exim"] * 4).run()
    retries = {s.t for m in burst.detail for s in m.sessions[1:]}
    assert retries and all(t % 1800 == 0 for t in retries)


# -- capacity couples the messages -------------------------------------------------------------------------
def test_capacity_answers_slowdown_and_changes_the_outcome():
    faults = ["refused@1h-3h"]
    free = run(faults, FleetConfig(messages=400, over=6 * H))
    tight = run(faults, FleetConfig(messages=400, over=6 * H, s3_capacity=2.0))
    assert free.s3_slowdowns == 0 and tight.s3_slowdowns > 0
    assert tight.s3_requests > free.s3_requests  # retried 503s are extra requests
    # a capacity far above the load changes nothing at all
    roomy = run(faults, FleetConfig(messages=400, over=6 * H, s3_capacity=1e9))
    assert roomy.to_dict() | {"wall_seconds": 0, "config": 0} == free.to_dict() | {"wall_seconds": 0, "config": 0}


def test_capacity_is_a_token_bucket():
    """2 req/s: two at once from a full bucket, then one every half second; it never saves up more than a second."""
    bucket = _Capacity(2.0)
    assert [bucket.take(0.0) for _ in range(3)] == [True, True, False]
    assert [bucket.take(0.25), bucket.take(0.5), bucket.take(0.5)] == [False, True, False]
    assert [bucket.take(100.0), bucket.take(100.0), bucket.take(100.0)] == [True, True, False]
    slow = _Capacity(0.5)  # below 1 req/s: one request, then one every 2 s
    assert [slow.take(0.0), slow.take(1.0), slow.take(2.0)] == [True, False, True]


def test_many_messages_at_once_meet_the_capacity():
    """Ten messages at one instant against 2 req/s: 503 SlowDown, Stalwart's backoff, and all get in."""
    result = Fleet([], FleetConfig(messages=10, over=0.0, s3_capacity=2.0), arrivals=[0.0] * 10,
                   senders=["stalwart"] * 10).run()
    assert result.s3_slowdowns > 0 and result.fates["delivered"] == 10
    assert result.peaks["s3_requests_per_s"] > 2  # rejected requests are requests too


def test_fates_always_sum_to_messages_and_series_have_one_length():
    for faults, kw in ((["refused@6h-12h"], {}), (["timeout@1h"], {"store": StoreConfig(version="0.15.5")}),
                       (["refused@0-2h", "disk-loss@1h"], {"receiver": "wal"}),
                       (["503@0"], {"s3_capacity": 5.0})):
        result = run(faults, FleetConfig(messages=300, **kw))
        assert sum(result.fates.values()) == 300
        lengths = {len(v) for v in result.series.values()}
        assert lengths == {result.config["samples"]}
        json.dumps(result.to_dict(), allow_nan=False)


def test_a_hung_s3_on_015_piles_up_sessions_and_memory_where_016_answers_451():
    faults = ["timeout@1h-7h"]
    old = run(faults, FleetConfig(messages=1000, store=StoreConfig(version="0.15.5")))
    new = run(faults, FleetConfig(messages=1000))
    assert old.peaks["receiver_sessions"] > 10 * new.peaks["receiver_sessions"]
    assert old.peaks["receiver_memory_bytes"] == old.peaks["receiver_sessions"] * 64 * 1024
    # on 0.16 every failing session ends after 61 s: timeout 30 s, rust-s3's retry after 1 s, 30 s again
    failed = [s for m in new.detail for s in m.sessions if s.receiver_reply == REPLY_TEMPFAIL]
    assert failed and {round(s.receiver_replied_at - s.t, 6) for s in failed} == {61.0}
    # on 0.15 they end only when the window does (7 h), whoever still waits
    hung = [s for m in old.detail for s in m.sessions if s.receiver_reply == REPLY_TEMPFAIL]
    assert hung and {s.receiver_replied_at for s in hung} == {7 * H}


def test_the_wal_spool_grows_and_drains():
    result = run(["refused@2h-8h"], FleetConfig(messages=1000, receiver="wal"))
    # every sender gets its 250 at the instant it sends: none ever holds a message
    assert result.fates["delivered"] == 1000 and result.peaks["sender_backlog"] == 0
    # the spool holds what arrived during the outage: 6 h of a day's 1000 messages
    assert result.peaks["spool_bytes"] == 250 * 64 * 1024
    assert result.drain["spool_seconds"] <= 61 + 1


def test_delay_counts_delivered_mail_only():
    result = run(["refused@0"], FleetConfig(messages=50, over=H))
    assert result.fates["bounced"] == 50 and result.delay["max"] is None
    result = run([], FleetConfig(messages=50, over=H))
    assert result.fates["delivered"] == 50 and result.delay["max"] == 0


def test_assign_senders_keeps_the_shares():
    names = assign_senders((("stalwart", 40), ("postfix", 40), ("exim", 20)), 100)
    assert names.count("stalwart") == 40 and names.count("postfix") == 40 and names.count("exim") == 20
    assert names[:5] == ["stalwart", "postfix", "exim", "stalwart", "postfix"]


@pytest.mark.parametrize("text, message", [
    ("stalwart", "NAME:SHARE"), ("qmail:3", "unknown sender"), ("stalwart:0", "more than 0"),
    ("exim:1,exim:2", "twice"), ("exim:-1", "NAME:SHARE"),
])
def test_parse_senders_errors(text, message):
    with pytest.raises(BlobeduError, match=message):
        parse_senders(text)


@pytest.mark.parametrize("kw, message", [
    ({"messages": 0}, "messages"), ({"messages": 200_001}, "messages"), ({"s3_capacity": 0.0}, "capacity"),
    ({"s3_capacity": math.inf}, "capacity"), ({"size": 0}, "size"), ({"receiver": "spool"}, "receiver"),
    ({"over": -1.0}, "over"), ({"queue_runs": "never"}, "queue_runs"),
])
def test_config_errors(kw, message):
    with pytest.raises(BlobeduError, match=message):
        FleetConfig(**kw).check()


def test_a_crash_ends_sessions_hung_for_good():
    """0.15 on a silent S3 that never returns: sessions hang until a crash ends them all (and frees their memory)."""
    fleet = Fleet(["timeout@0", "crash@3000.37"], FleetConfig(store=StoreConfig(version="0.15.5")),
                  arrivals=[0.0, 100.0], senders=["stalwart", "postfix"])
    result = fleet.run()
    sessions = [s for m in result.detail for s in m.sessions]
    before = [s for s in sessions if s.t < 3000.37]
    assert before and all(s.receiver_reply is None for s in before)  # never answered
    assert all(m.open_dots == len([s for s in m.sessions if s.t > 3000.37]) for m in result.detail)
    # memory: one body per open session; all of them gone at the crash
    times, levels = fleet.memory_log.times, list(itertools.accumulate(fleet.memory_log.deltas))
    at_crash = [lvl for t, lvl in zip(times, levels) if t == 3000.37]
    assert at_crash[-1] == 0 and max(lvl for t, lvl in zip(times, levels) if t < 3000.37) == len(before)
    # without the crash nothing ever ends them: at the end every session still holds its body
    alone = Fleet(["timeout@0"], FleetConfig(store=StoreConfig(version="0.15.5")), arrivals=[0.0],
                  senders=["stalwart"]).run()
    assert alone.detail[0].open_dots == len(alone.detail[0].sessions) and alone.fates["bounced"] == 1


# -- real senders (issue #21) -------------------------------------------------------------------------------
def _servers(result_fleet):
    return [srv for group in result_fleet.servers.values() for srv in group]


@pytest.mark.parametrize("kind, limit", [("postfix", 20), ("exim", 5), ("stalwart", 25)])
def test_each_server_keeps_to_its_mtas_session_limit(kind, limit):
    """300 messages at once to one server each: never more sessions than the MTA's limit, and the limit is reached."""
    fleet = Fleet(["503@0-2h"], FleetConfig(messages=300, over=0.0, senders=((kind, 1.0),), sending_servers=1,
                                            store=StoreConfig(latency=2.0)))
    fleet.run()
    (server,) = _servers(fleet)
    assert server.peak == limit


def test_postfix_starts_at_5_and_widens_on_replies():
    """Postfix's window starts at initial_destination_concurrency 5 and grows by one per reply (qmgr_queue.c)."""
    fleet = Fleet([], FleetConfig(messages=100, over=0.0, senders=(("postfix", 1.0),), sending_servers=1,
                                  store=StoreConfig(latency=1.0)))
    r = fleet.run()
    first = sorted(s.t for m in fleet.messages for s in m.sessions)
    assert first[:5] == [0.0] * 5 and first[5] > 0.0  # five at once, the sixth when a reply came
    assert _servers(fleet)[0].peak > 5 and r.fates["delivered"] == 100


def test_postfix_declares_a_refusing_destination_dead_and_defers_without_sessions():
    """Connections refused at the receiver's cap are site failures: the window shrinks and the destination is suspended."""
    faults = ["timeout@0-2h"]
    store = StoreConfig(version="0.15.5")
    fleet = Fleet(faults, FleetConfig(messages=200, over=600.0, senders=(("postfix", 1.0),), sending_servers=1,
                                      store=store, max_connections=3))
    r = fleet.run()
    assert r.sessions_refused > 0 and r.sessions_peak == 3
    server = _servers(fleet)[0]
    assert server.suspended_until > 0  # it was declared dead at least once
    assert r.fates["delivered"] == 200


def test_phases_spread_the_burst_that_aligned_queue_runs_make():
    spread = run(["refused@1h-3h"], FleetConfig.real(messages=2000, over=4 * H, senders=(("postfix", 1.0),)))
    aligned = run(["refused@1h-3h"], FleetConfig.real(messages=2000, over=4 * H, senders=(("postfix", 1.0),),
                                                       phases="aligned"))
    assert spread.peaks["s3_requests_per_s"] * 3 < aligned.peaks["s3_requests_per_s"]
    assert spread.fates == aligned.fates


def test_sessions_take_their_set_up_and_transfer_time():
    fleet = Fleet([], FleetConfig(messages=1, over=0.0, sending_servers=1, session_setup=0.5, bandwidth=65536.0))
    m = fleet.run().detail[0]
    (s,) = m.sessions
    assert s.t == 0.0 and s.receiver_replied_at == 1.5  # 0.5 s set-up, 64 KiB at 64 KiB/s, a store with no latency


def test_capacity_reads_and_writes_separately():
    """S3's documented rates: writes and reads have their own limit (3,500 : 5,500), so PUT then HEAD both pass at 1/s."""
    bucket = _Capacity(1.0)
    assert [bucket.take(0.0, "PUT"), bucket.take(0.0, "HEAD"), bucket.take(0.0, "GET"), bucket.take(0.0, "PUT"),
            bucket.take(0.0, "GET")] == [True, True, True, False, False]
    deep = _Capacity(2.0, depth=60.0)
    assert sum(deep.take(0.0, "PUT") for _ in range(200)) == 120


def test_a_run_leaves_the_garbage_collector_as_it_found_it():
    """The fleet pauses the cyclic GC while it makes and runs its messages, and restores it after, even on an error."""
    import gc

    from blobedu.fleet import run

    assert gc.isenabled()
    run(["refused@1h-2h"], FleetConfig.real(messages=20))
    assert gc.isenabled()
    with pytest.raises(BlobeduError):
        run(["refused@1h-2h"], FleetConfig(messages=0))
    assert gc.isenabled()
    Fleet(["refused@1h-2h"], FleetConfig(messages=20)).run()
    assert gc.isenabled()
    gc.disable()
    try:
        run(["refused@1h-2h"], FleetConfig(messages=20))
        assert not gc.isenabled()  # a reader who turned it off keeps it off
    finally:
        gc.enable()
