"""The receiving Stalwart on the wire: the exact bytes it answers to the final dot (facts §2).

Two harnesses, both wired the way ``blobedu.delivery._journey`` wires a receiver (an
``S3BlobStore`` on an ``InProcessEndpoint``, a ``LoopClock``, a ``Custody``, an events list, a
``random.Random`` and ``schedules.stalwart()``):

* a plain asyncio loop in a background thread, spoken to with a *blocking raw socket* from the test
  thread, so the assertions are on the very bytes that leave the server;
* a looptime loop spoken to with aiosmtplib, for faults whose store loop sleeps (virtual seconds).

Expected strings are copied from shared/stalwart-facts.md §2, not from blobedu.receiver.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import random
import re
import socket
import threading

import aiosmtplib
import looptime
import pytest
from blake3 import blake3

from blobedu import schedules
from blobedu.clock import LoopClock
from blobedu.receiver import StalwartReceiver
from blobedu.store import S3BlobStore, StoreConfig
from blobedu.trace import Custody

from conftest import READY_SECONDS

# facts §2, to the byte (data.rs:829 and just above it)
TEMPFAIL_BYTES = b"451 4.3.5 Unable to accept message at this time.\r\n"
QUEUED_RE = re.compile(rb"250 2\.0\.0 Message queued with id ([0-9a-f]+)\.\r\n")
QUOTA_BYTES = b"452 4.3.1 Mail system full, try again later.\r\n"
# the lost-write error, with the missing space after "visible" that is in Stalwart's source (facts §1)
LOST_WRITE_TEXT = ("PUT acknowledged with 2xx but object not visibleto read path; "
                   "backend may be silently losing writes")

_N = itertools.count(1)


def fresh_body() -> bytes:
    """A body no other test stored (one moto bucket serves the whole module)."""
    return f"Subject: receiver test {next(_N)}\r\n\r\nHello over loopback.\r\n".encode()


def expected_key(body: bytes) -> str:
    """Facts §1: the object key is the Base32 of the blob's BLAKE3 hash (RFC 4648 alphabet here)."""
    return base64.b32encode(blake3(body).digest()).decode().rstrip("=").lower()


def make_receiver(endpoint, loop, faults, version="0.16.18", queue_quota=None, **store):
    """Wire a StalwartReceiver as delivery._journey does; fault windows count from now."""
    clock = LoopClock(loop, origin=loop.time())
    s3 = S3BlobStore(StoreConfig(version=version, **store), endpoint, clock, list(faults))
    s3.origin = 0.0
    custody, events = Custody(), []
    return StalwartReceiver(s3, clock, custody, events, random.Random(7), schedules.stalwart(version), queue_quota)


# -- harness 1: a plain asyncio loop in a thread, a blocking raw socket ---------------------------------
class ThreadedReceiver:
    """A StalwartReceiver served by a real-time asyncio loop running in a background thread."""

    def __init__(self, endpoint, faults, **kwargs) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.receiver = self.call(self._make(endpoint, faults, kwargs))
        self.port = self.call(self.receiver.start())

    async def _make(self, endpoint, faults, kwargs):
        return make_receiver(endpoint, asyncio.get_running_loop(), faults, **kwargs)

    def call(self, coro, timeout: float = READY_SECONDS):
        """Run ``coro`` on the receiver's loop and wait for it (a readiness wait: only a hang reaches the timeout)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _drain(self) -> None:
        while self.receiver.inflight or self.receiver.background:
            await asyncio.gather(*self.receiver.inflight, *self.receiver.background, return_exceptions=True)

    def settle(self) -> None:
        """Wait until the receiver's queue work and local deliveries are done."""
        self.call(self._drain())

    def close(self) -> None:
        async def drain_and_stop():
            await self._drain()
            await self.receiver.stop()

        try:
            self.call(drain_and_stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


def _reply(f) -> list[bytes]:
    """Read one (possibly multi-line) SMTP reply; every line with its CRLF."""
    lines = []
    while True:
        line = f.readline()
        assert line, "the server closed the connection"
        lines.append(line)
        if line[3:4] != b"-":
            return lines


def raw_transaction(port: int, body: bytes) -> dict[str, list[bytes]]:
    """One SMTP transaction over a raw socket; every reply as the bytes received."""
    out: dict[str, list[bytes]] = {}
    with socket.create_connection(("127.0.0.1", port), timeout=READY_SECONDS) as sock, sock.makefile("rb") as f:
        out["banner"] = _reply(f)
        for name, command in (("ehlo", b"EHLO mta.sender.test"), ("mail", b"MAIL FROM:<author@sender.test>"),
                              ("rcpt", b"RCPT TO:<reader@receiver.test>"), ("data", b"DATA")):
            sock.sendall(command + b"\r\n")
            out[name] = _reply(f)
        sock.sendall(body + b".\r\n")
        out["dot"] = _reply(f)
        sock.sendall(b"QUIT\r\n")
        out["quit"] = _reply(f)
    return out


@pytest.fixture
def served(endpoint):
    """``served(faults, **kwargs)`` starts a threaded receiver; all are closed after the test."""
    started: list[ThreadedReceiver] = []

    def start(faults=(), **kwargs) -> ThreadedReceiver:
        r = ThreadedReceiver(endpoint, faults, **kwargs)
        started.append(r)
        return r

    yield start
    for r in started:
        r.close()


# 0.15.5 has no hidden transport retry and 403/429 are never retried: these fail with no sleep at all,
# so a real-time loop answers at once.
@pytest.mark.parametrize("version, fault", [("0.15.5", "refused@0"), ("0.16.18", "403@0"),
                                            ("0.16.18", "429@0"), ("0.10.2", "503@0")])
def test_s3_outage_answers_exactly_451_4_3_5(served, endpoint, version, fault):
    server = served([fault], version=version)
    body = fresh_body()
    replies = raw_transaction(server.port, body)
    assert replies["data"][0].startswith(b"354")
    assert replies["dot"] == [TEMPFAIL_BYTES]
    assert replies["quit"][0].startswith(b"221")
    # no copy anywhere: not in S3, not queued; only the reservation of step 1 was written, for the
    # key of the body behind its Received header (the key the failed PUT used)
    record = server.receiver.data_log[0]
    assert endpoint.keys() == []
    assert server.receiver.accepted == [] and server.receiver.data_store["queue"] == {}
    assert list(server.receiver.data_store["reservations"]) == [record.store["key"]]
    assert record.store["key"] != expected_key(body)
    assert record.reply == TEMPFAIL_BYTES[:-2].decode() and record.durable_at_reply is False
    assert record.store["outcome"] == "failed" and record.store["error"].startswith("S3Error")


def test_success_answers_250_with_the_queue_id_in_hex(served, endpoint):
    server = served([])
    body = fresh_body()
    replies = raw_transaction(server.port, body)
    match = QUEUED_RE.fullmatch(replies["dot"][0])
    assert match and len(replies["dot"]) == 1
    receiver = server.receiver
    (acc,) = receiver.accepted
    assert match.group(1).decode() == f"{acc.queue_id:x}"
    # step 2 stored the body, behind the Received header Stalwart prepends, under its BLAKE3 key
    # (inbound/data.rs:1013-1069@v0.16.18: the queue id in upper-case hex, then the date); step 1
    # reserved it for 120 s; step 3 queued it
    from blobedu.receiver import received_header
    stamped = received_header(acc.queue_id, acc.t) + body
    assert acc.key == expected_key(stamped) and endpoint.keys() == [acc.key]
    assert f"id {acc.queue_id:X};".encode() in stamped
    record = receiver.data_log[0]
    # reserved for 120 s at a moment between the final dot and the reply (a real-time loop: the exact
    # moment depends on how busy the machine is, the order does not)
    assert record.t_dot + 120 <= receiver.data_store["reservations"][acc.key] <= record.replied_at + 120
    assert receiver.data_store["queue"][acc.queue_id]["blob"] == acc.key
    assert acc.durable is True and record.durable_at_reply is True
    assert [r["method"] for r in record.store["requests"]] == ["PUT", "HEAD"]  # verifyAfterWrite on 0.16.18


def test_two_messages_get_two_different_queue_ids(served):
    server = served([])
    first = QUEUED_RE.fullmatch(raw_transaction(server.port, fresh_body())["dot"][0])
    second = QUEUED_RE.fullmatch(raw_transaction(server.port, fresh_body())["dot"][0])
    assert first and second and first.group(1) != second.group(1)


def test_full_queue_quota_answers_452_4_3_1_and_stores_nothing(served, endpoint):
    server = served([], queue_quota=0)
    body = fresh_body()
    replies = raw_transaction(server.port, body)
    assert replies["dot"] == [QUOTA_BYTES]
    assert expected_key(body) not in endpoint.keys()
    assert server.receiver.data_store == {"reservations": {}, "queue": {}}
    assert server.receiver.data_log[0].store is None  # no PUT was sent


def test_quota_counts_only_waiting_messages(served):
    # quota 1: the first message is delivered to the mailbox at once, so it no longer waits
    server = served([], queue_quota=1)
    assert QUEUED_RE.fullmatch(raw_transaction(server.port, fresh_body())["dot"][0])
    server.settle()
    assert server.receiver.accepted[0].mailbox_at is not None
    assert QUEUED_RE.fullmatch(raw_transaction(server.port, fresh_body())["dot"][0])


# -- harness 2: looptime, aiosmtplib, store loops that sleep -----------------------------------------------
def converse(endpoint, faults, **kwargs) -> dict:
    """One SMTP transaction on a looptime loop; the reply to the dot, when it came, and the store trace."""

    async def run():
        loop = asyncio.get_running_loop()
        receiver = make_receiver(endpoint, loop, faults, **kwargs)
        port = await receiver.start()
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=3600,
                               local_hostname="mta.sender.test")
        await smtp.connect()
        await smtp.ehlo()
        await smtp.mail("author@sender.test")
        await smtp.rcpt("reader@receiver.test")
        t0 = receiver.clock.now()
        try:
            response = await smtp.data(fresh_body())
            code, text = response.code, response.message
        except aiosmtplib.SMTPResponseException as exc:
            code, text = exc.code, exc.message
        replied = receiver.clock.now()
        await smtp.quit()
        for task in list(receiver.background):
            task.cancel()
        await asyncio.gather(*receiver.background, return_exceptions=True)
        await receiver.stop()
        return {"line": f"{code} {text}", "t0": t0, "at": replied, "store": receiver.data_log[0].store}

    loop = looptime.new_event_loop(start=0.0)
    try:
        return loop.run_until_complete(run())
    finally:
        loop.close()


def test_503_storm_answers_451_after_the_7_s_backoff(endpoint):
    # facts §1: 1 + maxRetries(3) = 4 PUTs, sleeping 1, 2, 4 s between them
    out = converse(endpoint, ["503@0"])
    assert out["line"] + "\r\n" == TEMPFAIL_BYTES.decode()
    assert out["at"] - out["t0"] == 7
    assert [(r["t"], r["method"], r["result"]) for r in out["store"]["requests"]] == [
        (0, "PUT", 503), (1, "PUT", 503), (3, "PUT", 503), (7, "PUT", 503)]


def test_refused_on_016_answers_451_after_rust_s3s_one_second_retry(endpoint):
    out = converse(endpoint, ["refused@0"])
    assert out["line"] + "\r\n" == TEMPFAIL_BYTES.decode()
    assert out["at"] - out["t0"] == 1
    assert [s["reason"] for s in out["store"]["sleeps"]] == ["transport-retry"]


def test_refused_on_0155_answers_451_at_once(endpoint):
    out = converse(endpoint, ["refused@0"], version="0.15.5")
    assert out["line"] + "\r\n" == TEMPFAIL_BYTES.decode() and out["at"] == out["t0"]
    assert len(out["store"]["requests"]) == 1


def test_lost_writes_with_verify_answer_451_never_250(endpoint):
    # PUT 200, HEAD 404, then the PUT again, sharing the budget: 4 PUTs, 4 HEADs, 1+2+4 s of sleep
    out = converse(endpoint, ["lost-write@0"])
    assert out["line"] + "\r\n" == TEMPFAIL_BYTES.decode()
    assert out["at"] - out["t0"] == 7
    assert [r["method"] for r in out["store"]["requests"]] == ["PUT", "HEAD"] * 4
    assert out["store"]["error"].endswith(LOST_WRITE_TEXT)


def test_lost_write_without_verify_answers_250_but_nothing_is_in_s3(endpoint):
    out = converse(endpoint, ["lost-write@0"], version="0.16.1")
    assert QUEUED_RE.fullmatch((out["line"] + "\r\n").encode())
    assert out["store"]["durable"] is False and out["store"]["key"] not in endpoint.keys()


def test_5xx_that_clears_within_the_retries_is_accepted(endpoint):
    # 503 for the first 2 s: PUTs at 0 and 1 fail, the PUT at 3 succeeds, then the HEAD
    out = converse(endpoint, ["503@0-2"])
    assert QUEUED_RE.fullmatch((out["line"] + "\r\n").encode())
    assert out["at"] - out["t0"] == 3
    assert [(r["t"], r["method"], r["result"]) for r in out["store"]["requests"]] == [
        (0, "PUT", 503), (1, "PUT", 503), (3, "PUT", 200), (3, "HEAD", 200)]
