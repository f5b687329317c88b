"""The hazard atlas (issue #22): complete, confirmed, reproducible, deterministic, and its command's contract.

The completeness test runs a smaller seeded search than the benchmark's full atlas (``benchmarks/atlas.py``):
the sweep of small schedules, then :data:`BUDGET` random ones per cell, for every release row and design.
Every finding must name a listed hazard; one that names none fails here until it is explained (a new
hazard with its source, or a model bug fixed).
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blobedu import atlas as A
from blobedu.cli import main
from blobedu.clock import VirtualClock
from blobedu.faults import Fault
from blobedu.hazards import HAZARD_IDS
from blobedu.store import S3BlobStore, StoreConfig
from blobedu.versions import VERSIONS, behaviour

BUDGET = 10


@pytest.fixture(scope="module")
def small_atlas():
    return A.atlas(budget=BUDGET, jobs=2)


def _cell(atlas, version, receiver):
    return next(c for c in atlas.cells if c.version == version and c.receiver == receiver)


def test_every_release_row_and_design_is_searched(small_atlas):
    assert [c.version for c in small_atlas.cells[::2]] == list(A.representative_versions())
    assert len(A.representative_versions()) == len(VERSIONS)
    for v in A.representative_versions():
        assert behaviour(v) in VERSIONS
    assert {(c.version, c.receiver) for c in small_atlas.cells} == {
        (v, r) for v in A.representative_versions() for r in A.DESIGNS}


def test_completeness_every_finding_maps_to_a_listed_hazard(small_atlas):
    unexplained = A.unknown_hazards(small_atlas.findings)
    assert not unexplained, "findings no listed hazard explains:\n" + "\n".join(
        f"{f.version} {f.receiver} {f.outcome}: {f.schedule}" for f in unexplained)
    assert small_atlas.findings  # not vacuous


def test_every_minimal_schedule_was_confirmed_by_deliver(small_atlas):
    """A schedule the fleet showed and deliver() did not would be a model bug: there is none."""
    assert {(c.version, c.receiver): c.discrepancies for c in small_atlas.cells if c.discrepancies} == {}


def test_the_atlas_rediscovers_the_known_hazards(small_atlas):
    by = {(f.version, f.receiver, f.outcome): f for f in small_atlas.findings}
    # the lost writes before 0.16.2: a 250, then no blob, on every version without verifyAfterWrite
    for v in A.representative_versions():
        f = by.get((v, "stalwart", "lost-after-250"))
        if behaviour(v).verify_default:
            assert f is None
        else:
            assert f.hazard == "lost-write-after-250" and f.schedule[0].startswith("lost-write@0-")
    # the ~28 h tolerance of a 0.16 Stalwart sender: a 28h02m outage bounces, a 4h02m one waits a day more
    told = by[("0.16.18", "stalwart", "lost-told")]
    window = Fault(*_window(told.schedule[0]))
    assert told.hazard == "short-tolerance" and 28 * 3600 < window.end < 29 * 3600
    late = by[("0.16.18", "stalwart", "delay-over-24h")]
    assert late.hazard == "short-tolerance" and 4 * 3600 < Fault(*_window(late.schedule[0])).end < 5 * 3600
    # the silent-S3 hang exactly on 0.8.2-0.15.x (on 0.10.3-0.11.1 the 18-hour backoff hangs sooner)
    for v in A.representative_versions():
        f, b = by.get((v, "stalwart", "hung")), behaviour(v)
        if not b.hangs_on_silent_s3:
            assert f is None, v
        elif b.backoff is not None and b.backoff.op == "max":
            assert f.hazard == "backoff-18h", v
        else:
            assert f.hazard == "silent-s3-hang" and f.schedule == ["timeout@0-5m"], v
    # the write-ahead spool's loss with its disk
    f = by[("0.16.18", "wal", "lost-after-250")]
    assert f.hazard == "spool-lost-with-disk" and any(s.startswith("disk-loss@") for s in f.schedule)
    # a duplicate past the sender's final-dot wait (the 18-hour backoff of 0.10.3-0.11.1)
    f = by[("0.11.1", "stalwart", "duplicate")]
    assert f.hazard == "duplicate-past-final-dot"
    # a bounce dropped by the sender's own store
    assert by[("0.16.18", "stalwart", "lost-untold")].hazard == "dropped-bounce"


def _window(text: str):
    kind, _, times = text.partition("@")
    start, _, end = times.partition("-")
    from blobedu.durations import parse_duration

    return kind, parse_duration(start), parse_duration(end)


class _Shared:
    """The module's moto endpoint for every ``deliver`` the command runs (starting moto is the slow part):
    emptied instead of closed, so no run reads another's blob."""

    def __init__(self, endpoint):
        self._endpoint = endpoint

    def __getattr__(self, name):
        return getattr(self._endpoint, name)

    def close(self):
        for key in self._endpoint.keys():
            self._endpoint.send("DELETE", key)


def test_each_reproduce_line_shows_its_outcome(small_atlas, endpoint, monkeypatch):
    """Run every distinct ``blobedu deliver`` line of the atlas and read its outcome back from --json."""
    import blobedu.endpoint

    monkeypatch.setattr(blobedu.endpoint, "InProcessEndpoint", lambda: _Shared(endpoint))
    lines = {f.reproduce: f.outcome for f in small_atlas.findings}
    assert len(lines) >= 20
    for line, outcome in lines.items():
        argv = shlex.split(line)
        assert argv[:2] == ["blobedu", "deliver"]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(argv[1:] + ["--json"]) == 0, line
        assert outcome in A.observe(json.loads(out.getvalue())).outcomes(), line


def test_the_same_atlas_on_every_run():
    args = dict(versions=["0.15.5"], receivers=["stalwart"], outcomes=["hung", "lost-told"], budget=8, seed=5)
    one, two = A.atlas(**args), A.atlas(**args)
    assert one.to_list() == two.to_list() and one.table() == two.table()
    assert [f.outcome for f in one.findings] == ["lost-told", "hung"]


def test_shrink_finds_the_smallest_window():
    """The shrinker on a known predicate: a refused window must cover [100, 5000]; the rest is noise."""
    def keeps(s):
        return any(f.kind == "refused" and f.start <= 100 and f.end is not None and f.end > 5000 for f in s.faults)

    start = A.FaultSchedule((Fault("503", 0, 10), Fault("refused", 0, 400000), Fault("crash", 77.37)))
    best = A.shrink(start, keeps)
    assert best.specs() == ("refused@100s-5001s",)


def test_smallest_means_fewest_faults_then_shortest_windows():
    one_long = A.FaultSchedule((Fault("refused", 0, 86400),))
    two_short = A.FaultSchedule((Fault("refused", 0, 1), Fault("crash", 0.37)))
    shorter = A.FaultSchedule((Fault("503", 0, 3600),))
    assert sorted([two_short, one_long, shorter], key=A.FaultSchedule.size) == [shorter, one_long, two_short]


@pytest.mark.parametrize("t, faults", [
    (259200.0, ["refused@3d-259202"]), (259200.0, ["refused@3d-259201"]), (259200.0, ["503@3d-259207"]),
    (259200.0, ["503@3d-259208"]), (100.0, ["lost-write@0-1h"]), (100.0, ["timeout@90-160"]), (100.0, []),
])
def test_the_sender_dsn_write_equals_the_store_against_moto(endpoint, t, faults):
    """The atlas's moto-free sender-store write decides as S3BlobStore does against moto."""
    from blobedu.bounces import dsn_fate
    from blobedu.faults import FaultPlan, parse

    for key in endpoint.keys():
        endpoint.send("DELETE", key)
    store = S3BlobStore(StoreConfig(), endpoint, VirtualClock(t), FaultPlan([parse(f) for f in faults]))
    trace = store.put(f"dsn {t} {faults}".encode())
    assert A.Engines._sender_dsn(t, [parse(f) for f in faults]) == dsn_fate(trace.outcome, trace.durable)


def test_text_table_names_every_cell_and_the_schedules_tried():
    result = A.atlas(versions=["0.16.18"], receivers=["stalwart"], outcomes=["hung", "delay-over-24h"], budget=3)
    text = result.table()
    assert "Stalwart 0.16.18 · receiver stalwart" in text
    assert f"none found in {result.cells[0].tried} schedules" in text.splitlines()[2]
    assert "refused@0-" in text.splitlines()[1] and "[short-tolerance]" in text


def test_json_findings_follow_the_contract():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["atlas", "--stalwart", "0.15.5", "--receiver", "stalwart", "--outcome", "hung",
                     "--budget", "2", "--json"]) == 0
    findings = json.loads(out.getvalue())
    assert [set(f) for f in findings] == [{"version", "receiver", "sender", "outcome", "schedule", "reproduce",
                                           "hazard"}]
    f = findings[0]
    assert (f["version"], f["receiver"], f["outcome"], f["hazard"]) == ("0.15.5", "stalwart", "hung", "silent-s3-hang")
    assert f["hazard"] in HAZARD_IDS and f["reproduce"].startswith("blobedu deliver --stalwart 0.15.5")


names = st.one_of(st.sampled_from(["0.16.18", "0.15.5", "stalwart", "wal", "hung", "duplicate", "postfix", "3"]),
                  st.text(max_size=50), st.sampled_from(["", " ", "0.16.19", "spool", "HUNG", "٠.١٦", "x" * 60, "-1",
                                                         "1" * 30, "１"]))
flags = st.sampled_from(["--stalwart", "--receiver", "--outcome", "--sender", "--budget", "--seed", "--jobs"])


class _Searched(Exception):
    pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=st.lists(st.tuples(flags, names), min_size=1, max_size=3), extra=st.sampled_from([[], ["--json"], ["--nope"]]))
def test_bad_input_exits_2_with_one_line(monkeypatch_session, pairs, extra):
    """Generated names and numbers: a search starts only on valid input; else exit 2 and one line, no traceback."""
    argv = ["atlas"] + [x for pair in pairs for x in pair] + extra
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except _Searched:
            code = "searched"
    if code == "searched":  # then every value was valid
        assert extra != ["--nope"]
        for flag, value in pairs:
            if flag == "--stalwart":
                behaviour(value)
            elif flag in ("--budget", "--seed", "--jobs"):
                assert value.strip().isascii() and value.strip().isdigit()
            else:
                A.check_names([], *{"--receiver": ([value], [], []), "--outcome": ([], [value], []),
                                    "--sender": ([], [], [value])}[flag])
        return
    assert code == 2, argv
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("blobedu: error: ") and out.getvalue() == ""


@pytest.fixture(scope="module")
def monkeypatch_session():
    """No example may start a real search: atlas() raises instead (the parser and the name checks run for real)."""
    real = A.atlas

    def guard(*args, **kwargs):
        raise _Searched

    A.atlas = guard
    yield
    A.atlas = real
