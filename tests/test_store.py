"""The store driver against in-process moto: durability read back from S3, latency, traces, get/delete."""

from __future__ import annotations

import json

import pytest

from blobedu.clock import VirtualClock
from blobedu.errors import BlobeduError
from blobedu.store import S3BlobStore, StoreConfig, blob_key, put

from conftest import fresh_blob

LOST_WRITE = ("PUT acknowledged with 2xx but object not visibleto read path; "
              "backend may be silently losing writes")
HEAD_FAILED = "HEAD verification failed after PUT"


def methods(trace):
    return [(r.method, r.result) for r in trace.requests]


def make_store(endpoint, version="0.16.18", faults=(), **config):
    store = S3BlobStore(StoreConfig(version=version, **config), endpoint, VirtualClock(), list(faults))
    store.origin = store.clock.now()
    return store


# ---------------------------------------------------------------- durability is read back from moto
def test_clean_put_is_stored_and_durable(endpoint):
    data = fresh_blob()
    trace = make_store(endpoint).put(data)
    assert trace.outcome == "stored" and trace.durable is True and trace.error is None
    assert trace.key == blob_key(data)
    assert endpoint.exists(trace.key)
    assert trace.key in endpoint.keys()


def test_lost_write_without_verify_is_stored_but_not_durable():
    trace = put(fresh_blob(), faults=["lost-write@0"], config=StoreConfig(version="0.16.18", verify=False))
    assert methods(trace) == [("PUT", 200)]
    assert trace.outcome == "stored"
    assert trace.durable is False


@pytest.mark.parametrize("version", ["0.15.5", "0.16.1"])
def test_lost_write_before_verify_existed_goes_unnoticed(endpoint, version):
    trace = make_store(endpoint, version, ["lost-write@0"]).put(fresh_blob())
    assert trace.outcome == "stored" and trace.durable is False


def test_lost_write_with_verify_fails_after_the_budget():
    trace = put(fresh_blob(), faults=["lost-write@0"], config=StoreConfig(version="0.16.18"))
    assert methods(trace) == [("PUT", 200), ("HEAD", 404)] * 4
    assert [s.seconds for s in trace.sleeps] == [1.0, 2.0, 4.0]
    assert trace.outcome == "failed"
    assert trace.error.endswith(LOST_WRITE)
    assert trace.durable is False


def test_lost_write_window_then_verify_recovers(endpoint):
    trace = make_store(endpoint, faults=["lost-write@0-2"]).put(fresh_blob())
    # t=0 PUT lost, HEAD 404, sleep 1; t=1 PUT lost, HEAD 404, sleep 2; t=3 PUT kept.
    assert methods(trace) == [("PUT", 200), ("HEAD", 404)] * 2 + [("PUT", 200), ("HEAD", 200)]
    assert trace.outcome == "stored" and trace.durable is True
    assert trace.elapsed == 3.0


def test_head_5xx_out_of_budget_fails_although_the_object_is_in_s3(endpoint):
    # latency 1 s separates PUT (t=0) from HEAD (t=1); the 503 windows hit only the HEADs.
    store = make_store(endpoint, faults=["503@1-2", "503@4-5"], max_retries=1, latency=1)
    trace = store.put(fresh_blob())
    assert [(r.t, r.method, r.result) for r in trace.requests] == [
        (0.0, "PUT", 200), (1.0, "HEAD", 503), (3.0, "PUT", 200), (4.0, "HEAD", 503)]
    assert trace.outcome == "failed"
    assert trace.error.endswith(HEAD_FAILED)
    assert trace.durable is True  # Stalwart reports failure; the blob is in S3 anyway


def test_head_403_fails_at_once(endpoint):
    trace = make_store(endpoint, faults=["403@1-2"], latency=1).put(fresh_blob())
    assert methods(trace) == [("PUT", 200), ("HEAD", 403)]
    assert trace.error.endswith(HEAD_FAILED)


# ---------------------------------------------------------------- faults at the edge
@pytest.mark.parametrize("status", [429, 403])
def test_non_5xx_fault_fails_at_first_answer(endpoint, status):
    trace = make_store(endpoint, faults=[f"{status}@0"]).put(fresh_blob())
    assert methods(trace) == [("PUT", status)]
    assert trace.outcome == "failed" and trace.durable is False
    assert trace.error.startswith(f"S3Error (code {status})")


def test_fault_window_is_half_open_at_the_store(endpoint):
    trace = make_store(endpoint, "0.15.5", ["503@0-1"]).put(fresh_blob())
    assert methods(trace) == [("PUT", 503), ("PUT", 200)]  # the retry at t=1 is past [0, 1)


def test_last_listed_fault_wins_at_the_store(endpoint):
    trace = make_store(endpoint, "0.15.5", ["503@0-10", "refused@1-2"]).put(fresh_blob())
    assert methods(trace) == [("PUT", 503), ("PUT", "refused")]
    assert trace.outcome == "failed"


def test_fault_windows_count_from_origin(endpoint):
    clock = VirtualClock(start=1000.0)
    store = S3BlobStore(StoreConfig("0.15.5"), endpoint, clock, ["503@0-3"])
    store.origin = clock.now()
    trace = store.put(fresh_blob())
    assert methods(trace) == [("PUT", 503), ("PUT", 503), ("PUT", 200)]
    assert [r.t for r in trace.requests] == [0.0, 1.0, 3.0]


# ---------------------------------------------------------------- latency and timeout
def test_latency_below_timeout_is_spent_per_request(endpoint):
    trace = make_store(endpoint, latency=0.5).put(fresh_blob())
    assert methods(trace) == [("PUT", 200), ("HEAD", 200)]
    assert trace.elapsed == 1.0
    assert [r.duration for r in trace.requests] == [0.5, 0.5]


@pytest.mark.parametrize("latency", [30.0, 45.0])
def test_latency_at_or_above_timeout_is_a_timeout(endpoint, latency):
    # a whole-request timeout (reqwest): v0.5.0-v0.8.1 and v0.16.x (facts §1, revision 2)
    trace = make_store(endpoint, "0.8.1", latency=latency, timeout=30).put(fresh_blob())
    assert methods(trace) == [("PUT", "timeout")]
    assert trace.elapsed == 30.0
    assert trace.outcome == "failed" and trace.durable is False


def test_latency_above_timeout_on_0_16_gets_the_transport_retry(endpoint):
    trace = make_store(endpoint, latency=5, timeout=2).put(fresh_blob())
    assert methods(trace) == [("PUT", "timeout"), ("PUT", "timeout")]
    assert trace.elapsed == 2 + 1 + 2


@pytest.mark.parametrize("fault", ["503@0", "lost-write@0", "500@0"])
def test_latency_at_or_above_timeout_is_a_timeout_even_with_an_http_fault(endpoint, fault):
    """A reply that would arrive after reqwest's whole-request timeout is never seen: it is a timeout.

    Fails while store.py's ``_fault_for`` only turns slow requests into timeouts when no fault is
    active (a 503 or a lost-write 200 'arrives' after the timeout and is acted on).
    """
    trace = make_store(endpoint, "0.8.1", [fault], latency=40, timeout=30).put(fresh_blob())
    assert methods(trace) == [("PUT", "timeout")]
    assert trace.outcome == "failed"
    assert trace.elapsed == 30.0
    # v0.8.2-v0.15.x bound only the connect: the slow answer arrives, and is acted on
    slow = make_store(endpoint, "0.15.5", [fault], latency=40, timeout=30).put(fresh_blob())
    assert slow.requests[0].result != "timeout" and slow.requests[0].duration == 40


def test_refused_costs_nothing_even_when_slow(endpoint):
    trace = make_store(endpoint, "0.15.5", ["refused@0"], latency=40, timeout=30).put(fresh_blob())
    assert methods(trace) == [("PUT", "refused")]
    assert trace.elapsed == 0.0


@pytest.mark.parametrize("config, word", [
    (dict(timeout=0), "timeout"),
    (dict(latency=-1), "latency"),
    (dict(version="0.16.1", verify=True), "verifyAfterWrite"),
    (dict(max_retries=11), "max-retries"),
])
def test_bad_config_raises_before_any_request(config, word):
    with pytest.raises(BlobeduError, match=word):
        put(fresh_blob(), config=StoreConfig(**config))


def test_put_refuses_receiver_faults():
    with pytest.raises(BlobeduError, match="crash"):
        put(fresh_blob(), faults=["crash@30m"])


# ---------------------------------------------------------------- the JSON trace
def test_json_trace_shape():
    trace = put(fresh_blob(), faults=["503@0-5"], config=StoreConfig(version="0.16.18"))
    d = json.loads(trace.to_json())
    assert d == json.loads(json.dumps(trace.to_dict()))
    for key in ("outcome", "error", "elapsed", "requests", "durable"):
        assert key in d
    assert d["outcome"] == "stored" and d["error"] is None and d["durable"] is True
    assert d["elapsed"] == 7.0
    assert [(r["t"], r["method"], r["result"]) for r in d["requests"]] == [
        (0.0, "PUT", 503), (1.0, "PUT", 503), (3.0, "PUT", 503), (7.0, "PUT", 200), (7.0, "HEAD", 200)]
    assert [s["seconds"] for s in d["sleeps"]] == [1.0, 2.0, 4.0]


def test_json_trace_of_a_failure():
    trace = put(fresh_blob(), faults=["refused@0"])
    d = json.loads(trace.to_json())
    assert d["outcome"] == "failed" and d["durable"] is False
    # a summary, not a made-up copy of reqwest's error chain (facts §1, revision 2)
    assert d["error"] == "S3Error [transport error, summarised: connection refused]"
    assert [r["result"] for r in d["requests"]] == ["refused", "refused"]


# ---------------------------------------------------------------- get and delete through moto
def test_get_found_missing_and_failed(endpoint):
    store = make_store(endpoint)
    stored = store.put(fresh_blob())
    assert store.get(stored.key).outcome == "found"
    missing = store.get("no-such-key")
    assert missing.outcome == "not-found" and missing.error is None
    assert methods(missing) == [("GET", 404)]
    failing = make_store(endpoint, faults=["refused@0"])
    trace = failing.get(stored.key)
    assert trace.outcome == "failed"
    assert methods(trace) == [("GET", "refused"), ("GET", "refused")]


def test_delete_retried_on_5xx(endpoint):
    key = make_store(endpoint).put(fresh_blob()).key
    store = make_store(endpoint, faults=["503@0-2"])
    trace = store.delete(key)
    assert methods(trace) == [("DELETE", 503), ("DELETE", 503), ("DELETE", 204)]
    assert [s.seconds for s in trace.sleeps] == [1.0, 2.0]
    assert trace.outcome == "deleted"
    assert not endpoint.exists(key)


def test_store_closes_only_an_endpoint_it_made(endpoint):
    with S3BlobStore(StoreConfig(), endpoint) as store:
        store.put(fresh_blob())
    assert endpoint.exists(make_store(endpoint).put(fresh_blob()).key)  # still open
