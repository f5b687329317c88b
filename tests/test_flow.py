"""The 4xx tempfail flow (issue 3): exact replies, senders' schedules, expiry, duplicates, local delivery.

Expected values are worked out here from shared/stalwart-facts.md §2-§3, not read off the code.
"""

from __future__ import annotations

import asyncio
import json
import random
import re

import looptime
import pytest

from blobedu import schedules
from blobedu.cli import main
from blobedu.clock import LoopClock
from blobedu.delivery import DeliveryConfig, deliver
from blobedu.endpoint import InProcessEndpoint
from blobedu.receiver import StalwartReceiver
from blobedu.store import S3BlobStore, StoreConfig
from blobedu.trace import Custody

M, H, D = 60.0, 3600.0, 86400.0
TEMPFAIL = "451 4.3.5 Unable to accept message at this time."


# -- exact bytes on the wire -----------------------------------------------------------------------
def _raw_session(faults, queue_quota=None) -> bytes:
    """Talk to a StalwartReceiver over a raw loopback socket; return the bytes answering the final dot."""

    async def run():
        loop = asyncio.get_running_loop()
        clock = LoopClock(loop)
        store = S3BlobStore(StoreConfig(), endpoint, clock, faults)
        receiver = StalwartReceiver(store, clock, Custody(), [], random.Random(1), schedules.stalwart(), queue_quota)
        port = await receiver.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await reader.readline()  # banner
        for line in (b"EHLO mta.sender.test", b"MAIL FROM:<a@sender.test>", b"RCPT TO:<b@receiver.test>", b"DATA"):
            writer.write(line + b"\r\n")
            while True:
                reply = await reader.readline()
                if reply[3:4] != b"-":
                    break
        writer.write(b"Subject: raw\r\n\r\nbody\r\n.\r\n")
        final = await reader.readline()
        writer.close()
        for task in list(receiver.background):
            task.cancel()
        await receiver.stop()
        return final

    endpoint = InProcessEndpoint()
    loop = looptime.new_event_loop(start=0.0)
    try:
        return loop.run_until_complete(run())
    finally:
        loop.close()
        endpoint.close()


def test_451_bytes_on_an_s3_outage():
    assert _raw_session(["refused@0"]) == b"451 4.3.5 Unable to accept message at this time.\r\n"


def test_250_bytes_when_s3_is_up():
    assert re.fullmatch(rb"250 2\.0\.0 Message queued with id [0-9a-f]+\.\r\n", _raw_session([]))


def test_452_bytes_when_the_queue_quota_is_full():
    assert _raw_session([], queue_quota=0) == b"452 4.3.1 Mail system full, try again later.\r\n"


# -- senders' schedules, pure ------------------------------------------------------------------------
def cumulative(*steps):
    out, t = [0.0], 0.0
    for s in steps:
        t += s
        out.append(t)
    return out


def test_stalwart_016_attempts_and_expiry():
    times = schedules.attempt_times(schedules.stalwart("0.16.18"), 10 * D)
    # 2m, 5m, 10m, 15m, 30m, 1h, 2h, 1d; the next (3d) falls past the 3d ttl
    assert times == cumulative(2 * M, 5 * M, 10 * M, 15 * M, 30 * M, H, 2 * H, D)
    assert schedules.stalwart("0.16.18").expires_at(0) == 3 * D
    assert schedules.stalwart("0.16.18").warnings(0) == [D]


def test_stalwart_012_repeats_two_hours_until_five_days():
    times = schedules.attempt_times(schedules.stalwart("0.12.5"), 10 * D)
    assert times[:8] == cumulative(2 * M, 5 * M, 10 * M, 15 * M, 30 * M, H, 2 * H)
    assert all(b - a == 2 * H for a, b in zip(times[7:], times[8:]))
    assert times[-1] < 5 * D <= times[-1] + 2 * H
    assert schedules.stalwart("0.13.0").expires_at(0) == schedules.stalwart("0.15.5").expires_at(0) == 3 * D


def test_postfix_clamped_backoff_on_queue_runs():
    # delay = time in queue clamped to [300, 4000], then the next 300 s queue run
    times = schedules.attempt_times(schedules.postfix(), 10 * D)
    assert times[:7] == [0, 300, 600, 1200, 2400, 4800, 9000]
    assert all(4000 <= b - a <= 4300 for a, b in zip(times[6:], times[7:]))
    # a failure before the 5 d lifetime is retried once more; the first failure past it bounces
    assert times[-2] < 5 * D <= times[-1] and schedules.postfix().next_attempt(0, times) is None


def test_exim_default_rule():
    times = schedules.attempt_times(schedules.exim(queue_interval=0), 10 * D)  # the rule alone
    # F,2h,15m, the 2 h boundary included (retry.c: failing_interval <= rule->timeout)
    assert times[:10] == [i * 15 * M for i in range(10)]
    g = [2.25 * H]
    for gap in (1, 1.5, 2.25, 3.375, 5.0625):  # G,16h,1h,1.5
        g.append(g[-1] + gap * H)
    assert times[10:15] == g[1:]
    assert all(b - a == 6 * H for a, b in zip(times[15:], times[16:]))  # F,4d,6h
    assert times[-2] < 4 * D <= times[-1]


def test_rfc5321_minimum():
    times = schedules.attempt_times(schedules.rfc5321(), 10 * D)
    assert times[:4] == [0, 30 * M, 60 * M, 90 * M] and times[-1] < 4 * D


# -- whole deliveries --------------------------------------------------------------------------------
def test_one_hour_of_503_gives_five_451_then_250():
    trace = deliver(["503@0-1h"])
    assert [s.reply for s in trace.sessions[:5]] == [TEMPFAIL] * 5
    assert trace.sessions[5].reply.startswith("250 2.0.0 Message queued with id ")
    assert 60 * M <= trace.sessions[5].t <= 65 * M and len(trace.sessions) == 6
    # each store loop costs 7 s of backoff, so each attempt is 7 s after the schedule's
    assert [s.t for s in trace.sessions] == [0, 127, 434, 1041, 1948, 3755]
    assert trace.fate == "delivered" and trace.copies == 1


def test_four_days_refused_bounces_at_stalwart_016_expiry():
    trace = deliver(["refused@0-4d"])
    assert trace.fate == "bounced" and trace.copies == 0
    kinds = [(d["kind"], d["t"]) for d in trace.dsns]
    assert kinds == [("delayed", D), ("failed", 3 * D)]
    failed = trace.dsns[-1]["text"]
    assert 'multipart/report; report-type="delivery-status"' in failed
    assert "Content-Type: message/delivery-status" in failed
    assert "Reporting-MTA: dns; mta.sender.test" in failed and "Action: failed" in failed
    assert "Status: 4.3.5" in failed  # the last reply's own code, queue/dsn.rs:580-600 (facts §3, revision 2)
    assert "Diagnostic-Code: smtp;451 Unable to accept message at this time." in failed  # dsn.rs:650-654
    # custody: only the sender ever held it, until it gave up
    assert {c["holder"] for c in trace.custody} == {"sender queue", "receiver memory"}


def test_four_days_refused_delivers_with_postfix_five_days():
    trace = deliver(["refused@0-4d"], DeliveryConfig(sender="postfix"))
    assert trace.fate == "delivered" and 4 * D <= trace.delivered_at <= 4 * D + 4300
    assert 80 <= len(trace.sessions) <= 95


def test_exim_bounces_after_its_four_day_cutoff():
    trace = deliver(["refused@0-5d"], DeliveryConfig(sender="exim"))
    assert trace.fate == "bounced"
    assert 4 * D <= next(d["t"] for d in trace.dsns if d["kind"] == "failed") <= 4 * D + 6 * H + 30 * M + 60


def test_duplicate_from_the_18_hour_backoff_bug():
    trace = deliver(["503@0-1m"], DeliveryConfig(store=StoreConfig(version="0.10.5")))
    first, second = trace.sessions
    assert first.reply == "timeout" and first.ended == 300  # a Stalwart sender waits 5 min
    assert first.receiver_reply.startswith("250") and first.receiver_replied_at == 65536
    assert second.reply.startswith("250") and second.t == 300 + 2 * M
    assert trace.copies == 2


def test_duplicate_with_ten_slow_retries_and_its_control():
    store = StoreConfig(max_retries=10, latency=29)
    trace = deliver(["503@0-9m"], DeliveryConfig(store=store, sender="postfix"))
    assert trace.sessions[0].reply == "timeout" and trace.sessions[0].receiver_replied_at > 600
    assert trace.copies == 2
    control = deliver(["503@0-9m"], DeliveryConfig(store=store, data_timeout=H))
    assert control.copies == 1 and control.sessions[0].reply.startswith("250")


def test_lost_write_on_0161_is_accepted_then_the_receivers_bounce_is_lost_too():
    trace = deliver(["lost-write@0"], DeliveryConfig(store=StoreConfig(version="0.16.1")))
    assert trace.sessions[0].reply.startswith("250") and trace.sessions[0].durable_at_reply is False
    results = {e["result"] for e in trace.local}
    assert results == {"Blob not found."}
    assert [e["t"] for e in trace.local][:3] == [0, 2 * M, 7 * M]  # the queue schedule
    assert trace.fate == "lost" and trace.author_told is False  # the bounce's blob was lost as well
    assert [(d["origin"], d["t"], d["fate_kind"]) for d in trace.dsns if d["kind"] == "failed"] == [
        ("receiver", 3 * D, "unreadable")]


def test_read_outage_after_acceptance_is_a_temporary_io_error():
    # latency 1 s: PUT at 0, HEAD at 1, the 250 and the first local read at 2, inside the outage
    trace = deliver(["refused@2-1h"], DeliveryConfig(store=StoreConfig(latency=1)))
    assert trace.sessions[0].reply.startswith("250")
    assert trace.local[0]["result"] == "Temporary I/O error."
    assert trace.local[-1]["result"] == "delivered" and trace.local[-1]["t"] >= H
    assert trace.fate == "delivered" and trace.delivered_at == 2


def test_receiver_memory_is_the_only_receiver_custody_during_an_outage():
    trace = deliver(["503@0-1h"])
    memory = [c for c in trace.custody if c["holder"] == "receiver memory"]
    assert len(memory) == 6 and all(c["to"] - c["from"] <= 7 for c in memory)
    sender = [c for c in trace.custody if c["holder"] == "sender queue"]
    assert sender == [{"holder": "sender queue", "from": 0, "to": 3755, "note": sender[0]["note"]}]


# -- CLI ------------------------------------------------------------------------------------------------
def test_cli_deliver_json(capsys):
    assert main(["deliver", "--fault", "503@0-1h", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fate"] == "delivered" and out["copies"] == 1 and 3600 < out["delivered_at"] < 3900
    assert [s["reply"] for s in out["sessions"]].count(TEMPFAIL) == 5
    assert {"t", "reply"} <= set(out["sessions"][0]) and out["custody"]


def test_cli_deliver_text(capsys):
    assert main(["deliver", "--fault", "503@0-1h"]) == 0
    out = capsys.readouterr().out
    assert out.count(TEMPFAIL) == 5 and "session 6: 250" in out
    assert out.rstrip().endswith("delivered after 1h02m, 5 × 451, 1 copy, the sender held it until the 250")


@pytest.mark.parametrize("args", [
    ["--sender", "sendmail"],
    ["--sender", "postfix", "--sender-version", "0.16.0"],
    ["--data-timeout", "10x"],
    ["--stalwart", "0.99.0"],
    ["--fault", "crash@1-2"],
    ["--receiver", "maildir"],
])
def test_cli_deliver_bad_input(capsys, args):
    assert main(["deliver", *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
