"""Full jitter, the counterfactual (blobedu.jitter): bounded by Stalwart's cap, seeded, and only a counterfactual."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blobedu import policy
from blobedu.fleet import FleetConfig, run
from blobedu.errors import BlobeduError
from blobedu.jitter import LABEL, FullJitter, jittered, storm
from blobedu.versions import behaviour


@given(k=st.integers(0, 200), seed=st.integers(0, 2**32))
def test_a_jittered_sleep_lies_between_0_and_stalwarts_cap(k, seed):
    base = behaviour().backoff
    s = FullJitter(base, random.Random(seed)).seconds(k)
    assert 0.0 <= s <= base.seconds(k)


@given(seed=st.integers(0, 2**32))
def test_the_same_seed_gives_the_same_sleeps_and_stalwart_stays_exact(seed):
    a, b = jittered(behaviour(), seed), jittered(behaviour(), seed)
    assert [a.backoff.seconds(k) for k in range(10)] == [b.backoff.seconds(k) for k in range(10)]
    assert [behaviour().backoff.seconds(k) for k in range(4)] == [1, 2, 4, 8]  # the row itself is untouched
    assert LABEL in a.label and "not Stalwart" in a.backoff.formula()


def test_sleeps_differ_across_seeds_and_draws():
    draws = {jittered(behaviour(), seed).backoff.seconds(6) for seed in range(20)}
    assert len(draws) == 20


def test_a_version_that_never_retries_is_unchanged():
    b = behaviour("0.9.0")
    assert jittered(b, 1) is b


@settings(max_examples=40, deadline=None)
@given(writers=st.integers(1, 40), storm_s=st.integers(0, 20), retries=st.integers(0, 10),
       capacity=st.one_of(st.none(), st.integers(1, 20)), seed=st.integers(0, 1000))
def test_storm_keeps_the_loops_rules_with_or_without_jitter(writers, storm_s, retries, capacity, seed):
    for jitter in ("none", "full"):
        r = storm(writers, storm_s, jitter, seed=seed, max_retries=retries, capacity=capacity)
        assert r.stored + r.failed == writers
        assert writers <= len(r.requests) <= writers * (1 + retries)  # at most 1 + maxRetries requests each
        assert all(status == 503 for t, status in r.requests if t < storm_s)
        served = {}
        for t, status in r.requests:
            if status == 200:
                served[int(t)] = served.get(int(t), 0) + 1
        assert sum(served.values()) == r.stored
        if capacity is not None:
            assert max(served.values(), default=0) <= capacity
        assert r == storm(writers, storm_s, jitter, seed=seed, max_retries=retries, capacity=capacity)  # seeded


def test_without_jitter_every_writer_retries_in_the_same_second():
    r = storm(50, 5, "none")
    assert sorted(r.per_second().items()) == [(0, 50), (1, 50), (3, 50), (7, 50)]
    assert r.stored == 50 and r.last_end == 7.0


def test_full_jitter_spreads_retries_under_a_capacity_limit():
    today = storm(100, 5, "none", max_retries=10, capacity=10)
    jit = storm(100, 5, "full", seed=0, max_retries=10, capacity=10)
    assert today.failed > 0 and jit.failed < today.failed and jit.last_end < today.last_end


def test_storm_rejects_bad_input():
    with pytest.raises(ValueError):
        storm(0, 5)
    with pytest.raises(ValueError):
        storm(3, 5, jitter="some")


def test_the_policy_loop_runs_unchanged_with_a_jittered_row():
    machine = policy.put(jittered(behaviour(), 3), 3, verify=False)
    step, sleeps = next(machine), []
    while True:
        try:
            if isinstance(step, policy.Sleep):
                sleeps.append(step.seconds)
                step = machine.send(None)
            else:
                step = machine.send(policy.Reply(status=503))
        except StopIteration as done:
            assert not done.value.ok
            break
    assert len(sleeps) == 3 and all(0 <= s <= cap for s, cap in zip(sleeps, (1, 2, 4)))


def test_fleet_jitter_is_off_by_default_and_changes_only_the_store_loop():
    base = dict(messages=300, s3_capacity=2, phases="aligned")
    today = run(["refused@6h-12h"], FleetConfig.real(**base))
    again = run(["refused@6h-12h"], FleetConfig.real(jitter="none", **base))
    jit = run(["refused@6h-12h"], FleetConfig.real(jitter="full", **base))
    assert today.to_dict() | {"wall_seconds": 0} == again.to_dict() | {"wall_seconds": 0}
    assert today.s3_slowdowns > 0 and jit.s3_slowdowns != today.s3_slowdowns
    assert jit.config["jitter"] == "full"
    assert sum(today.series["s3_peak_slowdowns_per_s"]) > 0
    assert sum(today.recovery["slowdowns"]) <= today.s3_slowdowns <= sum(today.recovery["requests"]) + today.s3_requests
    # a refused S3 never reaches the backoff: jitter changes nothing there
    plain = dict(messages=300)
    a = run(["refused@6h-12h"], FleetConfig.real(**plain)).to_dict()
    b = run(["refused@6h-12h"], FleetConfig.real(jitter="full", **plain)).to_dict()
    assert a | {"wall_seconds": 0, "config": 0} == b | {"wall_seconds": 0, "config": 0}


@pytest.mark.parametrize("bad", [{"jitter": "half"}, {"jitter_seed": 1.5}])
def test_fleet_rejects_a_bad_jitter(bad):
    with pytest.raises(BlobeduError):
        FleetConfig(**bad).check()


def test_storm_figure_draws_served_and_503s_on_their_own_rows():
    from blobedu.jitter import TODAY
    from blobedu.jitter_plots import storm_figure

    runs = {TODAY: storm(20, 5, "none", max_retries=5, capacity=4), LABEL: storm(20, 5, "full", max_retries=5, capacity=4)}
    fig = storm_figure(runs, caption="20 writers")
    assert len(fig.axes) == 4 and fig._repr_png_()[:4] == b"\x89PNG"
    served = sum(p.get_height() for p in fig.axes[0].containers[0])
    failed = sum(p.get_height() for p in fig.axes[2].containers[0])
    assert served == runs[TODAY].stored and served + failed == len(runs[TODAY].requests)
