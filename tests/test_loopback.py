"""The loopback endpoint: a real moto server on 127.0.0.1, a real refused port, a real silent socket.

The clock test runs one scenario on RealClock and on VirtualClock and checks they agree. Its fault
windows have edges at least 0.5 s from every request time, so scheduling jitter cannot flip a result.
"""

from __future__ import annotations

import socket
import time
from urllib.parse import urlparse

import pytest

from blobedu.clock import RealClock, VirtualClock
from blobedu.endpoint import LoopbackEndpoint, ensure_loopback
from blobedu.errors import BlobeduError
from blobedu.faults import Fault
from blobedu.store import S3BlobStore, StoreConfig

from conftest import fresh_blob

TIMEOUT = 0.3  # seconds: every request timeout in this file


@pytest.fixture(scope="module")
def loopback():
    ep = LoopbackEndpoint()
    ep.prepare(TIMEOUT, real_time=True)  # build the boto3 clients once, outside every timing
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
    reply, wall = loopback.send("PUT", "k-refused", b"x", Fault("refused", 0), TIMEOUT, real_time=True)
    assert reply.error == "refused"
    assert wall < TIMEOUT  # the kernel's RST comes back at once


def test_timeout_is_a_real_silent_socket(loopback):
    port = urlparse(loopback.fault_url).port
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nx-blobedu-fault: timeout\r\nContent-Length: 0\r\n\r\n")
        s.settimeout(0.3)
        with pytest.raises(socket.timeout):
            s.recv(1)  # connected, request read, and never a byte back
    reply, wall = loopback.send("PUT", "k-timeout", b"x", Fault("timeout", 0), TIMEOUT, real_time=True)
    assert reply.error == "timeout"
    assert TIMEOUT * 0.9 <= wall < TIMEOUT + 1.0


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


def test_refused_on_real_clock_sleeps_one_second_then_fails(loopback):
    store = store_on(loopback, RealClock(), ["refused@0"])
    started = time.monotonic()
    trace = store.put(fresh_blob())
    wall = time.monotonic() - started
    assert methods(trace) == [("PUT", "refused"), ("PUT", "refused")]
    assert [(s.seconds, s.reason) for s in trace.sleeps] == [(1.0, "transport-retry")]
    assert 1.0 <= wall < 2.0


# Scenario for both clocks (0.16.18, maxRetries 2, timeout 0.3 s).  Expected on the model's clock:
#   t=0.0  PUT  -> timeout (costs 0.3 s)    sleep 1 s (rust-s3 transport retry)
#   t=1.3  PUT  -> 503                      sleep 1 s (backoff, retry 1 of 2)
#   t=2.3  PUT  -> refused                  sleep 1 s (rust-s3 transport retry)
#   t=3.3  PUT  -> 200, HEAD -> 200         stored
# Window edges 0.8, 1.8, 2.8 are 0.5 s from every request time.
SCENARIO = [Fault("timeout", 0.0, 0.8), Fault("503", 0.8, 1.8), Fault("refused", 1.8, 2.8)]
EXPECTED = [("PUT", "timeout"), ("PUT", 503), ("PUT", "refused"), ("PUT", 200), ("HEAD", 200)]
EXPECTED_SLEEPS = [(1.0, "transport-retry"), (1.0, "backoff"), (1.0, "transport-retry")]
EXPECTED_T = [0.0, 1.3, 2.3, 3.3, 3.3]


def test_real_clock_and_virtual_clock_agree(loopback):
    virtual = store_on(loopback, VirtualClock(), SCENARIO, max_retries=2).put(fresh_blob())
    store = store_on(loopback, RealClock(), SCENARIO, max_retries=2)
    started = time.monotonic()
    real = store.put(fresh_blob())
    wall = time.monotonic() - started

    assert methods(virtual) == EXPECTED
    assert methods(real) == methods(virtual)
    assert [(s.seconds, s.reason) for s in virtual.sleeps] == EXPECTED_SLEEPS
    assert [(s.seconds, s.reason) for s in real.sleeps] == EXPECTED_SLEEPS
    assert virtual.outcome == real.outcome == "stored"
    assert virtual.durable is real.durable is True
    assert [r.t for r in virtual.requests] == pytest.approx(EXPECTED_T, abs=1e-9)
    assert [r.t for r in real.requests] == pytest.approx(EXPECTED_T, abs=0.4)
    assert 3.3 <= wall < 6.0
