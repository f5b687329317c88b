"""The loopback endpoint: a real moto server on 127.0.0.1, a real refused port, a real silent socket.

The clock test runs one scenario on RealClock and on VirtualClock and checks they agree.

Nothing here may depend on how fast a busy machine runs, only on what cannot happen early: a real
clock never reaches a request sooner than the model's clock does (every sleep and every timeout is
really waited), a silent socket never answers before its timeout, and a refused connect is refused
before any timeout.  So every check on wall time is a lower bound, or compares with a timeout far
away (:data:`LONG`); the clock test's fault windows end just before the next request is due, where
lateness (not earliness) is all that load can add; and every request S3 does answer has a socket
timeout (:data:`REAL_TIMEOUT`) far above how long a loaded machine takes to answer it.
"""

from __future__ import annotations

import socket
import time
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest

from blobedu import clock as clock_module
from blobedu.clock import RealClock, VirtualClock
from blobedu.endpoint import VIRTUAL_SOCKET_TIMEOUT, LoopbackEndpoint, ensure_loopback
from blobedu.errors import BlobeduError
from blobedu.faults import Fault
from blobedu.store import S3BlobStore, StoreConfig

from conftest import fresh_blob

TIMEOUT = 0.3  # seconds: the request timeout where only a silent socket or a refused port is met
REAL_TIMEOUT = 2.0  # seconds: the request timeout on the real clock where moto must answer in time
LONG = 30.0  # seconds: a timeout no answer on loopback comes near, even on a loaded machine


@pytest.fixture(scope="module")
def loopback():
    ep = LoopbackEndpoint()
    for timeout in (TIMEOUT, REAL_TIMEOUT, LONG):  # build the boto3 clients once, outside every timing
        ep.prepare(timeout, real_time=True)
    ep.prepare(TIMEOUT, real_time=False)
    yield ep
    ep.close()


def methods(trace):
    return [(r.method, r.result) for r in trace.requests]


def store_on(loopback, clock, faults=(), version="0.16.18", **config):
    config.setdefault("timeout", TIMEOUT)
    store = S3BlobStore(StoreConfig(version=version, **config), loopback, clock, list(faults))
    store.origin = store.clock.now()
    return store


def test_urls_are_loopback(loopback):
    for url in (loopback.url, loopback.refused_url, loopback.fault_url):
        assert urlparse(url).hostname == "127.0.0.1"
        assert ensure_loopback(url) == url


def test_remote_endpoint_is_refused():
    with pytest.raises(BlobeduError, match="loopback"):
        ensure_loopback("http://192.0.2.1:9000")


def test_refused_is_a_real_refused_tcp_connection(loopback):
    port = urlparse(loopback.refused_url).port
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    reply, wall = loopback.send("PUT", "k-refused", b"x", Fault("refused", 0), LONG, real_time=True)
    assert reply.error == "refused"
    assert wall < LONG  # the kernel's RST came back, long before the socket would have given up


def test_timeout_is_a_real_silent_socket(loopback):
    port = urlparse(loopback.fault_url).port
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nx-blobedu-fault: timeout\r\nContent-Length: 0\r\n\r\n")
        s.settimeout(0.3)
        with pytest.raises(socket.timeout):
            s.recv(1)  # connected, request read, and never a byte back
    reply, wall = loopback.send("PUT", "k-timeout", b"x", Fault("timeout", 0), TIMEOUT, real_time=True)
    assert reply.error == "timeout"
    # it waited out its own timeout, not a longer one (the virtual clock's 30 s, botocore's 60 s
    # default, or the silent server's 600 s); only the lower bound is exact, the upper one has room
    # for any load
    assert TIMEOUT * 0.9 <= wall < VIRTUAL_SOCKET_TIMEOUT


def test_http_fault_is_a_real_http_answer(loopback):
    reply, _ = loopback.send("PUT", "k-503", b"x", Fault("503", 0), TIMEOUT, real_time=True)
    assert reply.status == 503 and "SlowDown" in reply.body


def test_put_through_the_real_server_is_durable(loopback):
    trace = store_on(loopback, VirtualClock()).put(fresh_blob())
    assert methods(trace) == [("PUT", 200), ("HEAD", 200)]
    assert trace.outcome == "stored" and trace.durable is True
    assert trace.key in loopback.keys()


def test_lost_write_on_the_real_server(loopback):
    trace = store_on(loopback, VirtualClock(), ["lost-write@0"], verify=False).put(fresh_blob())
    assert trace.outcome == "stored" and trace.durable is False
    assert not loopback.exists(trace.key)


@pytest.fixture
def real_sleeps(monkeypatch):
    """Every wait RealClock asks of ``time.sleep``, in order (it still really waits)."""
    asked = []

    def sleep(seconds):
        asked.append(seconds)
        time.sleep(seconds)

    monkeypatch.setattr(clock_module, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sleep))
    return asked


def test_refused_on_real_clock_sleeps_one_second_then_fails(loopback, real_sleeps):
    store = store_on(loopback, RealClock(), ["refused@0"], timeout=LONG)
    started = time.monotonic()
    trace = store.put(fresh_blob())
    wall = time.monotonic() - started
    assert methods(trace) == [("PUT", "refused"), ("PUT", "refused")]
    assert [(s.seconds, s.reason) for s in trace.sleeps] == [(1.0, "transport-retry")]
    assert real_sleeps == [1.0]  # the clock really waited the one second, and nothing else
    assert wall >= 1.0
    assert trace.requests[1].t - trace.requests[0].t >= 1.0


# Scenario for both clocks (0.16.18, maxRetries 2, timeout T = REAL_TIMEOUT).  On the model's clock:
#   t=0      PUT  -> timeout (costs T)    sleep 1 s (rust-s3 transport retry)
#   t=T+1    PUT  -> 503                  sleep 1 s (backoff, retry 1 of 2)
#   t=T+2    PUT  -> refused              sleep 1 s (rust-s3 transport retry)
#   t=T+3    PUT  -> 200, HEAD -> 200     stored
# The real clock reaches each request no sooner than the model's (it really waits every timeout and
# sleep) and a busy machine only makes it later, so each window ends just before the next request is
# due (EARLY before it): a request may come up to 1 - EARLY = 0.9 s late and still meet its own fault.
EARLY = 0.1
T = REAL_TIMEOUT
EXPECTED_T = [0.0, T + 1, T + 2, T + 3, T + 3]
SCENARIO = [Fault("timeout", 0.0, T + 1 - EARLY), Fault("503", T + 1 - EARLY, T + 2 - EARLY),
            Fault("refused", T + 2 - EARLY, T + 3 - EARLY)]
EXPECTED = [("PUT", "timeout"), ("PUT", 503), ("PUT", "refused"), ("PUT", 200), ("HEAD", 200)]
EXPECTED_SLEEPS = [(1.0, "transport-retry"), (1.0, "backoff"), (1.0, "transport-retry")]


def test_real_clock_and_virtual_clock_agree(loopback):
    virtual = store_on(loopback, VirtualClock(), SCENARIO, max_retries=2, timeout=T).put(fresh_blob())
    store = store_on(loopback, RealClock(), SCENARIO, max_retries=2, timeout=T)
    started = time.monotonic()
    real = store.put(fresh_blob())
    wall = time.monotonic() - started

    assert methods(virtual) == EXPECTED
    assert methods(real) == methods(virtual)  # each real request met the fault of its own window
    assert [(s.seconds, s.reason) for s in virtual.sleeps] == EXPECTED_SLEEPS
    assert [(s.seconds, s.reason) for s in real.sleeps] == EXPECTED_SLEEPS
    assert virtual.outcome == real.outcome == "stored"
    assert virtual.durable is real.durable is True
    assert [r.t for r in virtual.requests] == pytest.approx(EXPECTED_T, abs=1e-9)
    # the real clock really waited: no request came sooner than on the model's clock (how much later
    # is up to the machine; the results above show each stayed inside its window)
    assert all(r.t >= v - 1e-6 for r, v in zip(real.requests, EXPECTED_T)), [r.t for r in real.requests]
    assert wall >= T + 3
