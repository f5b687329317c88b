"""The fleet's fast path (:mod:`blobedu.fleet.fastpath`) changes nothing but the speed.

With ``Fleet.fast = False`` every final dot runs as the slow path's nested generators; with it on,
a dot whose S3 fault cannot change while it runs goes from its plan.  For random fleets (faults of
every kind, windows that open and close mid-loop, receiver and data-store faults, crashes, versions,
maxRetries, timeouts, latencies, verify, real and idealised senders, connection caps, S3 capacity)
both must give the same :class:`FleetResult` (every field but the wall time) and the same record of
every message: each session's times and replies, each copy's fate, the fate and delivery time.
The search is derandomised: the same examples on every run.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blobedu.fleet import Fleet, FleetConfig
from blobedu.fleet.receivers import Receivers
from blobedu.store import StoreConfig
from blobedu.versions import behaviour

H = 3600
S3_KINDS = ("503", "500", "refused", "timeout", "429", "403", "lost-write")
VERSIONS = ("0.7.3", "0.8.5", "0.12.5", "0.15.5", "0.16.1", "0.16.18")


@st.composite
def fleets(draw):
    """A random fleet scenario: ``(faults, FleetConfig)``."""
    version = draw(st.sampled_from(VERSIONS))
    store = StoreConfig(version=version,
                        max_retries=draw(st.sampled_from([None, None, 3])) if behaviour(version).max_retries_range else None,
                        verify=draw(st.sampled_from([None, False])) if version.startswith("0.16") else None,
                        timeout=draw(st.sampled_from([None, None, 10.0])),
                        latency=draw(st.sampled_from([0.0, 0.0, 0.0, 0.0, 0.25, 5.0])))
    faults = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(S3_KINDS))
        start = draw(st.one_of(st.sampled_from([0, 60, H]), st.integers(0, 6 * H)))
        length = draw(st.one_of(st.sampled_from([1, 30, 300, H]), st.integers(1, 6 * H)))
        faults.append(f"{kind}@{start}" if draw(st.integers(0, 9)) == 0 else f"{kind}@{start}-{start + length}")
    receiver = draw(st.sampled_from(["stalwart", "stalwart", "stalwart", "wal"]))
    node = ["crash", "disk-full"] + (["datastore-down", "commit-fail"] if receiver == "stalwart" else ["disk-loss"])
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(node))
        at = draw(st.integers(0, 4 * H))
        faults.append(f"{kind}@{at}-{at + draw(st.integers(1, 2 * H))}" if kind != "crash" and kind != "disk-loss"
                      else f"{kind}@{at}.37")
    real = draw(st.booleans())
    kw = dict(store=store, receiver=receiver, messages=draw(st.integers(1, 120)),
              over=float(draw(st.sampled_from([86400, 86400, 6 * H, 600, 0]))),
              senders=draw(st.sampled_from([(("stalwart", 1.0),), (("postfix", 1.0),), (("exim", 2.0), ("postfix", 1.0)),
                                            (("stalwart", 40.0), ("postfix", 40.0), ("exim", 20.0))])),
              s3_capacity=draw(st.sampled_from([None, None, None, 2.0])),
              queue_runs=draw(st.sampled_from(["server", "message"])))
    if real:
        kw.update(sending_servers=draw(st.sampled_from([1, 3, 100])), max_connections=draw(st.sampled_from([8192, 3])),
                  phases=draw(st.sampled_from(["spread", "aligned"])))
        return faults, FleetConfig.real(**kw)
    return faults, FleetConfig(**kw)


def _record(fleet: Fleet) -> tuple:
    result = fleet.run()
    summary = result.to_dict()
    summary.pop("wall_seconds")
    detail = [(m.index, m.sender, m.fate, m.delivered_at, m.released_at, m.sender_bounced, m.in_s3, m.open_dots,
               [(s.t, s.deadline, s.reply, s.ended, s.receiver_reply, s.receiver_replied_at) for s in m.sessions],
               [(c.t, c.durable_at, c.mailbox_at, c.bounced_at, c.lost_at, c.in_spool, c.told) for c in m.copies])
              for m in result.detail]
    return summary, detail, fleet.steps - fleet.skipped


def _both(faults, config):
    slow = Fleet(faults, config)
    slow.fast = False
    return _record(Fleet(faults, config)), _record(slow)


@settings(max_examples=50, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
@given(scenario=fleets())
def test_fast_path_gives_the_same_result(scenario):
    faults, config = scenario
    fast, slow = _both(faults, config)
    assert fast[0] == slow[0], f"faults={faults} config={config}"
    assert fast[1] == slow[1], f"faults={faults} config={config}"
    # the same kernel steps that ran a process: the same wake-ups, in the same order (the fast path
    # leaves out wake-ups that could only be skipped: a deadline its plan's reply is sure to beat)
    assert fast[2] == slow[2]


R = FleetConfig.real
#: fixed cases over a day, one per kind of fault the fast path meets or must leave to the slow path
FIXED = [
    (["refused@6h-12h"], R(messages=300)),
    (["refused@6h-12h"], FleetConfig(messages=300)),
    (["503@6h-12h"], R(messages=200, store=StoreConfig(max_retries=10))),
    (["timeout@6h-12h"], R(messages=200, store=StoreConfig(version="0.15.5"))),
    (["timeout@6h"], R(messages=100, store=StoreConfig(version="0.15.5"))),
    (["timeout@6h-12h"], R(messages=200)),
    (["refused@6h-12h", "crash@8h", "crash@32400.37"], R(messages=300)),
    (["lost-write@1h-3h", "503@2h-4h"], R(messages=200, store=StoreConfig(verify=False))),
    (["datastore-down@1h-2h", "commit-fail@3h-4h", "refused@2h-5h"], R(messages=200)),
    (["refused@0-2h"], R(messages=300, over=6 * H, senders=(("postfix", 1.0),), max_connections=5)),
    (["503@1h-2h"], R(messages=200, store=StoreConfig(latency=2.0))),
    (["refused@1h-9h"], FleetConfig(messages=200, queue_runs="message", store=StoreConfig(version="0.12.5"))),
    ([], R(messages=200, phases="aligned")),
    (["503@21600-21900"], R(messages=300, jitter="full", jitter_seed=7)),  # a random backoff: the slow path
]


@pytest.mark.parametrize("faults, config", FIXED)
def test_fast_path_gives_the_same_result_fixed(faults, config):
    fast, slow = _both(faults, config)
    assert fast == slow


def test_fast_path_is_taken(monkeypatch):
    """A day with a 6 h refusal on 0.16.18 (the benchmark's scenario): no final dot goes the slow way."""
    slow_dots = []
    original = Receivers._final_dot
    monkeypatch.setattr(Receivers, "_final_dot", lambda self, m, s: (slow_dots.append(s), original(self, m, s)))
    fleet = Fleet(["refused@6h-12h"], FleetConfig.real(messages=400))
    result = fleet.run()
    assert result.smtp_sessions > 400 and slow_dots == []
    fleet = Fleet(["refused@6h-12h"], FleetConfig.real(messages=400))
    fleet.fast = False
    assert fleet.run().smtp_sessions == result.smtp_sessions and len(slow_dots) == result.smtp_sessions


def test_a_fault_edge_inside_a_store_loop_goes_the_slow_way():
    """A 503 storm that ends while a loop is backing off: the loop meets two faults, so no plan fits it."""
    config = FleetConfig(messages=50, over=600.0, store=StoreConfig(max_retries=10))
    fast, slow = _both(["503@0-300"], config)
    assert fast == slow
    assert any(r[2] and r[2].startswith("250") for m in fast[1] for r in m[8])
