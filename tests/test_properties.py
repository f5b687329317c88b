"""Property-based tests: random fault schedules, versions and maxRetries against in-process moto.

The expected backoff sequences are written out from shared/stalwart-facts.md §1, and a small
reference model of mod.rs's loop (also written from the facts, not from blobedu.policy) predicts
every request of every run.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from blobedu.clock import VirtualClock
from blobedu.faults import Fault
from blobedu.store import S3BlobStore, StoreConfig

from conftest import fresh_blob

# version -> (retries?, range drawn from, backoff sequence, verify supported, transport retry, what the
# timeout bounds: "request" (reqwest) or "connect" (hyper 0.14, v0.8.2-v0.15.x; facts §1, revision 2))
FIXED = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0] + [64.0] * 100
BUGGY = [65536.0] * 106
ROWS = {
    "0.8.1": dict(retries=False, range=None, backoff=[], verify=False, transport=0, bounds="request"),
    "0.9.0": dict(retries=False, range=None, backoff=[], verify=False, transport=0, bounds="connect"),
    "0.10.2": dict(retries=False, range=None, backoff=[], verify=False, transport=0, bounds="connect"),
    "0.10.3": dict(retries=True, range=(0, 10), backoff=BUGGY, verify=False, transport=0, bounds="connect"),
    "0.11.1": dict(retries=True, range=(0, 10), backoff=BUGGY, verify=False, transport=0, bounds="connect"),
    "0.11.2": dict(retries=True, range=(0, 10), backoff=FIXED, verify=False, transport=0, bounds="connect"),
    "0.15.5": dict(retries=True, range=(0, 10), backoff=FIXED, verify=False, transport=0, bounds="connect"),
    "0.16.0": dict(retries=True, range=(1, 10), backoff=FIXED, verify=False, transport=1, bounds="request"),
    "0.16.1": dict(retries=True, range=(1, 10), backoff=FIXED, verify=False, transport=1, bounds="request"),
    "0.16.2": dict(retries=True, range=(1, 10), backoff=FIXED, verify=True, transport=1, bounds="request"),
    "0.16.18": dict(retries=True, range=(1, 10), backoff=FIXED, verify=True, transport=1, bounds="request"),
}
HORIZON = 30 * 86400.0  # a put that hangs for good runs to the model's horizon
KINDS = ["500", "503", "429", "403", "refused", "timeout", "lost-write"]
TIMEOUT = 30.0
TRANSPORT = ("refused", "timeout", "hung")

#: Hand-picked cases every run includes: the deepest backoff, the 18-hour bug, overlapping windows.
DEEP_503 = ("0.16.18", 10, None, 0.0, [Fault("503", 0.0, None)])
BUG_ERA = ("0.10.3", 10, None, 0.5, [Fault("500", 0.0, 70000.0)])
OVERLAP = ("0.16.2", 5, True, 0.0, [Fault("503", 0.0, 100.0), Fault("lost-write", 2.0, 9.0),
                                   Fault("refused", 50.0, 60.0), Fault("429", 60.0, 70.0)])
TRANSPORT_THEN_5XX = ("0.16.0", 2, None, 5.0, [Fault("timeout", 0.0, 31.0), Fault("503", 31.0, 33.0)])
HUNG_THEN_RESET = ("0.15.5", 3, None, 0.5, [Fault("timeout", 2.0, 90.0), Fault("503", 0.0, 2.0)])
HUNG_FOR_GOOD = ("0.9.0", None, None, 0.0, [Fault("timeout", 0.0, None)])

SETTINGS = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@st.composite
def faults(draw):
    """0-4 faults with windows in 0-600 s, biased towards the first seconds, where the requests are."""
    out = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(KINDS))
        start = draw(st.one_of(st.just(0.0), st.integers(0, 10).map(float),
                               st.floats(0, 600, allow_nan=False, allow_infinity=False)))
        length = draw(st.one_of(st.none(), st.integers(1, 200).map(float),
                                st.floats(0.001, 600, allow_nan=False, allow_infinity=False)))
        end = None if length is None else min(600.0, start + length)
        if end is not None and end <= start:
            end = None
        out.append(Fault(kind, start, end))
    return out


@st.composite
def scenarios(draw):
    version = draw(st.sampled_from(list(ROWS)))
    row = ROWS[version]
    max_retries = None
    if row["range"] is not None:  # the default, any value in range, or the top of the range
        lo, hi = row["range"]
        max_retries = draw(st.one_of(st.none(), st.integers(lo, hi), st.just(hi)))
    verify = draw(st.sampled_from([None, True, False] if row["verify"] else [None, False]))
    latency = draw(st.sampled_from([0.0, 0.5, 5.0]))
    return version, max_retries, verify, latency, draw(faults())


def run(endpoint, version, max_retries, verify, latency, fault_list):
    clock = VirtualClock()
    store = S3BlobStore(StoreConfig(version=version, max_retries=max_retries, verify=verify, latency=latency,
                                    timeout=TIMEOUT), endpoint, clock, fault_list)
    store.origin = store.clock.now()
    return store, store.put(fresh_blob())


def budget(version, max_retries):
    row = ROWS[version]
    if not row["retries"]:
        return 0
    return 3 if max_retries is None else max_retries


def verify_on(version, verify):
    return ROWS[version]["verify"] if verify is None else bool(verify)


# ---------------------------------------------------------------- a reference model, from the facts
def reference(version, max_retries, verify, latency, fault_list):
    """mod.rs put_blob as the facts describe it. Returns ([(t, method, result)], [(seconds, reason)], outcome)."""
    row = ROWS[version]
    max_r = budget(version, max_retries)
    ver = verify_on(version, verify)
    now, kept = 0.0, False
    requests, sleeps = [], []

    def fault_at(t):
        hit = None
        for f in fault_list:
            if f.start <= t and (f.end is None or t < f.end):
                hit = f  # the last listed active fault wins
        return hit

    class HungForGood(Exception):
        pass

    def send(method):
        nonlocal now, kept
        t, f = now, fault_at(now)
        if f is not None and f.kind == "refused":
            result = "refused"
        elif f is not None and f.kind == "timeout" and row["bounds"] == "connect":
            # never timed out: it hangs until the window ends and the endpoint resets it
            requests.append((t, method, "hung"))
            if f.end is None:
                now = HORIZON
                raise HungForGood()
            now = f.end
            return "hung"
        elif f is not None and f.kind == "timeout":
            result = "timeout"
            now += TIMEOUT
        elif f is not None and f.kind != "lost-write":
            result = int(f.kind)
            now += latency
        else:
            now += latency
            if method == "PUT":
                result = 200
                if f is None:
                    kept = True
            else:  # HEAD
                result = 200 if kept else 404
        requests.append((t, method, result))
        return result

    def request(method):  # rust-s3 retry!: one more try after 1 s on a transport error (v0.16.x)
        result = send(method)
        for n in range(1, row["transport"] + 1):
            if result not in TRANSPORT:
                break
            sleeps.append((float(n * n), "transport-retry"))
            now_add(float(n * n))
            result = send(method)
        return result

    def now_add(seconds):
        nonlocal now
        now += seconds

    retries_left = max_r
    try:
        return loop(request, now_add, max_r, ver, row, requests, sleeps)
    except HungForGood:
        return requests, sleeps, "hung"


def loop(request, now_add, max_r, ver, row, requests, sleeps):
    """mod.rs put_blob's loop proper."""
    retries_left = max_r
    while True:
        result = request("PUT")
        if result in TRANSPORT:
            return requests, sleeps, "failed"
        if 200 <= result <= 299:
            if not ver:
                return requests, sleeps, "stored"
            head = request("HEAD")
            if head in TRANSPORT:
                return requests, sleeps, "failed"
            if 200 <= head <= 299:
                return requests, sleeps, "stored"
            if (head == 404 or 500 <= head <= 599) and retries_left > 0:
                seconds = row["backoff"][max_r - retries_left]
                sleeps.append((seconds, "backoff"))
                now_add(seconds)
                retries_left -= 1
                continue
            return requests, sleeps, "failed"
        if 500 <= result <= 599 and retries_left > 0:
            seconds = row["backoff"][max_r - retries_left]
            sleeps.append((seconds, "backoff"))
            now_add(seconds)
            retries_left -= 1
            continue
        return requests, sleeps, "failed"


# ---------------------------------------------------------------- properties
@SETTINGS
@given(scenarios())
@example(DEEP_503)
@example(BUG_ERA)
@example(OVERLAP)
@example(TRANSPORT_THEN_5XX)
@example(HUNG_THEN_RESET)
@example(HUNG_FOR_GOOD)
def test_put_count_and_outcome(endpoint, scenario):
    version, max_retries, verify, latency, fault_list = scenario
    _, trace = run(endpoint, version, *scenario[1:])
    row = ROWS[version]
    max_r = budget(version, max_retries)

    assert trace.outcome in ("stored", "failed", "hung")
    assert trace.outcome != "hung" or ROWS[version]["bounds"] == "connect"

    puts = [r for r in trace.requests if r.method == "PUT"]
    # Each of the 1 + maxRetries requests Stalwart's loop makes can be doubled by rust-s3's
    # hidden transport retry (v0.16.x), never more.
    assert len(puts) <= (1 + max_r) * (1 + row["transport"])

    # Stalwart's own attempts: PUTs that are not rust-s3's hidden second try.
    timeline = trace.timeline()
    hidden = 0
    for before, item in zip(timeline, timeline[1:]):
        if item["type"] == "sleep" and item["reason"] == "transport-retry":
            assert before["type"] == "request" and before["result"] in TRANSPORT
    for i, item in enumerate(timeline):
        if item["type"] == "request" and i >= 1 and timeline[i - 1]["type"] == "sleep" \
                and timeline[i - 1]["reason"] == "transport-retry":
            assert timeline[i - 2]["method"] == item["method"]
            hidden += item["method"] == "PUT"
    assert len(puts) - hidden <= 1 + max_r

    if not verify_on(version, verify):
        assert all(r.method == "PUT" for r in trace.requests)
    if not row["retries"]:
        assert len(puts) == 1 and trace.sleeps == []


@SETTINGS
@given(scenarios())
@example(DEEP_503)
@example(BUG_ERA)
@example(OVERLAP)
@example(TRANSPORT_THEN_5XX)
@example(HUNG_THEN_RESET)
@example(HUNG_FOR_GOOD)
def test_stored_implies_durable_when_verify_is_on(endpoint, scenario):
    version, max_retries, verify, latency, fault_list = scenario
    _, trace = run(endpoint, *scenario)
    if verify_on(version, verify) and trace.outcome == "stored":
        assert trace.durable is True
        assert (trace.requests[-1].method, trace.requests[-1].result) == ("HEAD", 200)
    if trace.outcome == "stored" and not verify_on(version, verify):
        assert (trace.requests[-1].method, trace.requests[-1].result) == ("PUT", 200)


@SETTINGS
@given(scenarios())
@example(DEEP_503)
@example(BUG_ERA)
@example(OVERLAP)
@example(TRANSPORT_THEN_5XX)
@example(HUNG_THEN_RESET)
@example(HUNG_FOR_GOOD)
def test_backoff_sleeps_are_a_prefix_of_the_versions_sequence(endpoint, scenario):
    version, max_retries, verify, latency, fault_list = scenario
    _, trace = run(endpoint, *scenario)
    row = ROWS[version]
    backoff = [s.seconds for s in trace.sleeps if s.reason == "backoff"]
    assert backoff == row["backoff"][: len(backoff)]
    assert len(backoff) <= budget(version, max_retries)
    transport = [s.seconds for s in trace.sleeps if s.reason == "transport-retry"]
    assert all(s == 1.0 for s in transport)
    if not row["transport"]:
        assert transport == []
    assert {s.reason for s in trace.sleeps} <= {"backoff", "transport-retry"}


@SETTINGS
@given(scenarios())
@example(DEEP_503)
@example(BUG_ERA)
@example(OVERLAP)
@example(TRANSPORT_THEN_5XX)
@example(HUNG_THEN_RESET)
@example(HUNG_FOR_GOOD)
def test_final_answers_and_clock(endpoint, scenario):
    version, max_retries, verify, latency, fault_list = scenario
    _, trace = run(endpoint, *scenario)
    # 429 and 403 are never retried: such an answer is always the last request.
    for r in trace.requests[:-1]:
        assert r.result not in (429, 403)
    # The clock: sleeps plus what each request cost (refused 0, timeout the whole timeout, a hung request
    # its own recorded time to the reset, else latency).
    cost = sum(0.0 if r.result == "refused" else TIMEOUT if r.result == "timeout" else
               r.duration if r.result == "hung" else latency for r in trace.requests)
    assert abs(trace.elapsed - (sum(s.seconds for s in trace.sleeps) + cost)) < 1e-6
    assert trace.requests[0].t == 0.0


@SETTINGS
@given(scenarios())
@example(DEEP_503)
@example(BUG_ERA)
@example(OVERLAP)
@example(TRANSPORT_THEN_5XX)
@example(HUNG_THEN_RESET)
@example(HUNG_FOR_GOOD)
def test_matches_the_reference_model(endpoint, scenario):
    _, trace = run(endpoint, *scenario)
    requests, sleeps, outcome = reference(*scenario)
    assert [(r.method, r.result) for r in trace.requests] == [(m, res) for _, m, res in requests]
    assert [r.t for r in trace.requests] == [t for t, _, _ in requests] or \
        all(abs(a.t - b[0]) < 1e-6 for a, b in zip(trace.requests, requests))
    assert [(s.seconds, s.reason) for s in trace.sleeps] == sleeps
    assert trace.outcome == outcome
