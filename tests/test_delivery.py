"""Whole deliveries over real SMTP on virtual time: attempt times, expiry, DSNs, duplicates, after the 250.

Expected values are worked out here from shared/stalwart-facts.md §1-§3 (the reference rules live in
``test_schedules.py`` and are written from the facts, not from blobedu), allowing for the seconds the
receiver's own store loop takes before it answers:

* refused on 0.16.x: PUT refused, rust-s3 sleeps 1 s, PUT refused again -> every attempt costs 1 s;
* 503 on 0.16.x: 4 PUTs with 1 + 2 + 4 s of backoff -> every attempt costs 7 s.
"""

from __future__ import annotations

import email
import re

import pytest

from blobedu.delivery import DeliveryConfig, deliver
from blobedu.store import StoreConfig
from test_schedules import D, H, M, ref_outage

TEMPFAIL = "451 4.3.5 Unable to accept message at this time."
QUEUED = re.compile(r"250 2\.0\.0 Message queued with id [0-9a-f]+\.")


def failed_dsns(trace):
    return [d for d in trace.dsns if d["kind"] == "failed"]


def dsn_blocks(text: str):
    """Parse a DSN (RFC 3464): check its MIME shape; return (top message, per-message, per-recipient)."""
    msg = email.message_from_string(text)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    parts = msg.get_payload()
    assert parts[0].get_content_type() == "text/plain"  # the human-readable part comes first
    status = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    assert len(status) == 1
    blocks = status[0].get_payload()
    assert len(blocks) == 2  # per-message fields, then one recipient
    # the raw text carries the fields as lines of their own
    assert re.search(r"^Status: \d\.\d{1,3}\.\d{1,3}$", text, re.M)
    # RFC 3464 §2.3.6: diagnostic-type ";" text (Stalwart writes no space after the ";": dsn.rs:650-654);
    # a Stalwart DSN after no SMTP reply has no such field at all (dsn.rs:626-632)
    assert re.search(r"^Diagnostic-Code: [\w-]+; ?.+$", text, re.M) or (
        "Diagnostic-Code" not in text and re.search(r"^Status: [45]\.0\.0$", text, re.M))
    return msg, blocks[0], blocks[1]


# -- permanent outages: every sender's rule, session by session ----------------------------------------------
EXPECTED_WARNINGS = {
    ("stalwart", "0.16.18"): [D],              # notify 1d, 3d; 3d is the expiry
    ("stalwart", "0.12.5"): [D, 3 * D],        # expire 5d
    ("stalwart", "0.15.5"): [D],               # expire 3d
    ("postfix", None): [],                     # delay_warning_time 0
    ("exim", None): [D, 2 * D, 3 * D],         # delay_warning 24h
    ("rfc5321", None): [],
}


@pytest.mark.parametrize("sender, version", list(EXPECTED_WARNINGS))
def test_permanent_refused_outage_follows_each_senders_rule(sender, version):
    config = DeliveryConfig(sender=sender, sender_version=version if sender == "stalwart" else None)
    trace = deliver(["refused@0"], config)
    starts, bounce = ref_outage(sender, version or "0.16.18", cost=1.0)
    assert [s.t for s in trace.sessions] == starts
    assert all(s.reply == TEMPFAIL and s.ended == s.t + 1 for s in trace.sessions)
    assert trace.fate == "bounced" and trace.copies == 0 and trace.delivered_at is None
    assert [d["t"] for d in failed_dsns(trace)] == [bounce]
    assert [d["t"] for d in trace.dsns if d["kind"] == "delayed"] == EXPECTED_WARNINGS[(sender, version)]
    _, _, recipient = dsn_blocks(failed_dsns(trace)[0]["text"])
    expected = {"exim": f"smtp; {TEMPFAIL}: retry timeout exceeded",  # Exim's retry.c:893@exim-4.96
                "stalwart": "smtp;451 Unable to accept message at this time."}  # dsn.rs:650-654@v0.16.18
    assert recipient["Action"] == "failed"
    assert recipient["Diagnostic-Code"] == expected.get(sender, f"smtp; {TEMPFAIL}")


def test_expected_bounce_times_by_hand():
    """The reference rules agree with the facts table, in plain numbers."""
    assert ref_outage("stalwart", cost=1)[1] == 3 * D
    assert ref_outage("stalwart", "0.12.5", cost=1)[1] == 5 * D
    assert ref_outage("rfc5321", cost=1)[1] == 4 * D
    # Postfix: 0, 300, 900, 2100, 4500, 8700, then every 4200 s (each taken at the run where its
    # time stamp is at most 1 s ahead, qmgr_active.c:202-203); the failure at 432901 s is past 5 d
    starts, bounce = ref_outage("postfix", cost=1)
    assert starts[:6] == [0, 300, 900, 2100, 4500, 8700] and bounce == 432901 and len(starts) == 107
    # Exim at Debian's 30-minute queue runs: the failure at 4d06h00m01s (1 s after the try at 367200 s,
    # the first queue run after 343801 + 6 h) is more than 4 d after the first
    starts, bounce = ref_outage("exim", cost=1)
    assert starts[-2:] == [343800, 367200] and bounce == 367201
    # the rule alone (no queue runner) would have tried at 341238.5 and 362839.5
    assert ref_outage("exim-rule", cost=1)[0][-2:] == [341238.5, 362839.5]


def test_503_storm_costs_7_s_per_attempt_and_shifts_every_retry():
    trace = deliver(["503@0"])
    starts, bounce = ref_outage("stalwart", cost=7.0)
    assert starts == [0, 127, 434, 1041, 1948, 3755, 7362, 14569, 100976]
    assert [s.t for s in trace.sessions] == starts
    assert [d["t"] for d in failed_dsns(trace)] == [bounce] == [3 * D]


# -- expiry: 4 days of refused S3 ---------------------------------------------------------------------------
def test_four_day_outage_bounces_a_stalwart_016_sender_at_exactly_3_days():
    trace = deliver(["refused@0-4d"])
    assert trace.fate == "bounced" and trace.copies == 0
    assert [(d["kind"], d["t"], d["origin"]) for d in trace.dsns] == [
        ("delayed", D, "sender"), ("failed", 3 * D, "sender")]
    msg, per_message, recipient = dsn_blocks(failed_dsns(trace)[0]["text"])
    assert msg["To"] == "author@sender.test" and msg["From"].startswith("MAILER-DAEMON@")
    assert per_message["Reporting-MTA"] == "dns; mta.sender.test"
    assert recipient["Final-Recipient"] == "rfc822; reader@receiver.test"
    assert recipient["Action"] == "failed"
    # facts §3 (revision 2): a Stalwart bounce writes the last response's own code (queue/dsn.rs:580-600)
    assert recipient["Status"] == "4.3.5"
    # facts §3 (revision 3): the code, then the text without its enhanced code (dsn.rs:650-654)
    assert recipient["Diagnostic-Code"] == "smtp;451 Unable to accept message at this time."
    _, _, delayed = dsn_blocks(trace.dsns[0]["text"])
    assert delayed["Action"] == "delayed" and re.fullmatch(r"4\.\d+\.\d+", delayed["Status"])
    # the sender held the message the whole time; the receiver only ever had it in memory
    assert {c["holder"] for c in trace.custody} == {"sender queue", "receiver memory"}
    sender = [c for c in trace.custody if c["holder"] == "sender queue"]
    assert [(c["from"], c["to"]) for c in sender] == [(0, 3 * D)]


def test_four_day_outage_is_delivered_by_postfix_just_after_4_days():
    trace = deliver(["refused@0-4d"], DeliveryConfig(sender="postfix"))
    # 8700 + 4200 k: k = 80 is 344700 (still refused), k = 81 is 348900 = 4 d + 55 min
    assert trace.fate == "delivered" and trace.copies == 1
    assert trace.delivered_at == 348900 and 4 * D < trace.delivered_at < 4 * D + H
    assert len(trace.sessions) == 87
    assert [s.t for s in trace.sessions] == ref_outage("postfix", cost=1)[0][:86] + [348900]
    assert [s.reply for s in trace.sessions[:-1]] == [TEMPFAIL] * 86
    assert QUEUED.fullmatch(trace.sessions[-1].reply)
    assert trace.dsns == []  # Postfix sends no delay warning by default


def test_four_day_outage_and_exim():
    # Exim's retries happen at Debian's 30-minute queue runs: the last try inside the 4 d cutoff fails
    # at 3d19h20m; the next queue run after its +6 h (4d01h20m) is after the outage
    starts, bounce = ref_outage("exim", cost=1)
    trace = deliver(["refused@0-4d"], DeliveryConfig(sender="exim"))
    assert trace.fate == "delivered" and trace.delivered_at == 367200 == starts[-1]
    assert [s.t for s in trace.sessions] == starts
    # a longer outage: that try fails more than 4 d after the first failure, and Exim bounces
    longer = deliver(["refused@0-5d"], DeliveryConfig(sender="exim"))
    assert longer.fate == "bounced" and [d["t"] for d in failed_dsns(longer)] == [bounce] == [367201]
    assert 4 * D < failed_dsns(longer)[0]["t"] < 4 * D + 6 * H + 30 * M
    _, _, recipient = dsn_blocks(failed_dsns(longer)[0]["text"])
    # Exim writes generic codes (src/src/deliver.c): 5.0.0 failed, 4.0.0 delayed; the reply goes in
    # Diagnostic-Code
    assert recipient["Status"] == "5.0.0"
    assert recipient["Diagnostic-Code"] == f"smtp; {TEMPFAIL}: retry timeout exceeded"  # retry.c:893@exim-4.96
    assert {d["status"] for d in longer.dsns if d["kind"] == "delayed"} == {"4.0.0"}


# -- one hour of 503 ---------------------------------------------------------------------------------------------
def test_an_hour_of_503_gives_five_451_then_a_250_just_after_the_hour():
    trace = deliver(["503@0-1h"])
    replies = [s.reply for s in trace.sessions]
    assert replies[:5] == [TEMPFAIL] * 5 and len(replies) == 6 and QUEUED.fullmatch(replies[5])
    # the Stalwart 0.16 schedule (2m, 5m, 10m, 15m, 30m) plus 7 s of store loop per failed attempt
    assert [s.t for s in trace.sessions] == [0, 127, 434, 1041, 1948, 3755]
    assert 60 * M < trace.sessions[5].t < 65 * M
    for s in trace.sessions[:5]:
        assert [(r["method"], r["result"]) for r in s.store["requests"]] == [("PUT", 503)] * 4
        assert [z["seconds"] for z in s.store["sleeps"]] == [1, 2, 4]
        assert s.ended == s.t + 7 and s.receiver_reply == TEMPFAIL
    assert trace.fate == "delivered" and trace.delivered_at == 3755 and trace.copies == 1
    assert trace.sessions[5].durable_at_reply is True
    assert [(c["from"], c["to"]) for c in trace.custody if c["holder"] == "sender queue"] == [(0, 3755)]


# -- duplicates: the final-dot wait --------------------------------------------------------------------------
QUEUED_OLD = "250 2.0.0 Message queued for delivery."  # data.rs before v0.12.4 (facts §2, revision 2)


def test_duplicate_when_0_10_5_sleeps_65536_s_between_retries():
    trace = deliver(["503@0-1m"], DeliveryConfig(store=StoreConfig(version="0.10.5")))
    first, second = trace.sessions
    # a Stalwart sender gives up on the final dot after 5 min (facts §3, revision 2); the receiver's
    # retry after 1 << 16 s succeeds
    assert first.reply == "timeout" and first.ended == 300
    assert first.receiver_reply == QUEUED_OLD and first.receiver_replied_at == 65536
    assert [(r["t"], r["result"]) for r in first.store["requests"]] == [(0, 503), (65536, 200)]
    # the sender retries 2 min after the timeout and is accepted at once
    assert second.t == 420 and second.reply == QUEUED_OLD
    assert trace.copies == 2
    assert sorted(a["t"] for a in trace.accepted) == [420, 65536]
    assert all(a["mailbox_at"] is not None for a in trace.accepted)  # the reader gets it twice
    assert trace.delivered_at == 420


def test_facts3_a_plain_503_storm_with_ten_retries_outlasts_a_stalwart_sender():
    """facts §4 item 5 (revision 2): maxRetries=10 against a plain 503 storm (5m19s of backoff) already
    outlasts a Stalwart sender's 5-minute wait; Postfix's 10 minutes do not run out."""
    store = StoreConfig(max_retries=10)
    trace = deliver(["503@0-5m"], DeliveryConfig(store=store))
    first, second = trace.sessions
    assert [r["t"] for r in first.store["requests"] if r["method"] == "PUT"] == [0, 1, 3, 7, 15, 31, 63, 127, 191,
                                                                                  255, 319]
    assert first.reply == "timeout" and first.ended == 300 and first.receiver_replied_at == 319
    assert second.t == 420 and QUEUED.fullmatch(second.reply) and trace.copies == 2
    assert trace.config["data_timeout"] == 300 and trace.config["data_timeout_source"] == "stalwart's default"
    postfix = deliver(["503@0-5m"], DeliveryConfig(store=store, sender="postfix"))
    assert len(postfix.sessions) == 1 and postfix.copies == 1 and postfix.sessions[0].ended == 319
    assert postfix.config["data_timeout"] == 600


def test_duplicate_with_ten_retries_of_29_s_requests():
    store = StoreConfig(max_retries=10, latency=29)
    # a sender that waits 10 minutes (Postfix's and Exim's default) still gives up before this store loop ends
    trace = deliver(["503@0-9m"], DeliveryConfig(store=store, data_timeout=10 * M))
    first, second = trace.sessions[:2]
    # 11 PUTs of 29 s, 1+2+4+8+16+32+64+64+64+64 = 319 s of sleep: the 11th PUT (at 609 s) is past
    # the 9 min outage; with its HEAD the 250 comes at 667 s, 67 s after the sender hung up
    sent = [0]
    for sleep in (1, 2, 4, 8, 16, 32, 64, 64, 64, 64):
        sent.append(sent[-1] + 29 + sleep)
    assert sent[-1] == 609
    assert [r["t"] for r in first.store["requests"]] == sent + [638]
    assert first.reply == "timeout" and first.ended == 600
    assert QUEUED.fullmatch(first.receiver_reply) and first.receiver_replied_at == 667
    assert second.t == 720 and QUEUED.fullmatch(second.reply) and second.ended == 720 + 29 + 29
    assert trace.copies == 2 and len(trace.sessions) == 2


def test_no_duplicate_when_the_data_timeout_outlasts_the_receiver():
    store = StoreConfig(max_retries=10, latency=29)
    trace = deliver(["503@0-9m"], DeliveryConfig(store=store, data_timeout=H))
    (only,) = trace.sessions
    assert QUEUED.fullmatch(only.reply) and only.ended == 667
    assert trace.copies == 1


def test_no_duplicate_when_the_outage_clears_before_the_data_timeout():
    # the same slow store, but the 503s stop at 4 min: the 8th PUT (330 s) succeeds, 250 at 388 s,
    # inside a 10-minute wait but past a Stalwart sender's 5 minutes
    store = StoreConfig(max_retries=10, latency=29)
    trace = deliver(["503@0-4m"], DeliveryConfig(store=store, sender="postfix"))
    assert trace.copies == 1 and trace.sessions[0].ended == 388
    stalwart = deliver(["503@0-4m"], DeliveryConfig(store=store))
    assert stalwart.sessions[0].reply == "timeout" and stalwart.copies == 2


# -- after the 250 ----------------------------------------------------------------------------------------------
def test_lost_write_without_verify_is_accepted_then_its_bounce_is_lost_too():
    # facts §5 / queue/dsn.rs@v0.16.18:34-68: the receiver queues its bounce through the same store,
    # which still loses every write: the DSN is "queued" but its blob is gone, so the author never hears
    trace = deliver(["lost-write@0"], DeliveryConfig(store=StoreConfig(version="0.16.1")))
    (session,) = trace.sessions
    assert QUEUED.fullmatch(session.reply) and session.durable_at_reply is False
    assert [r["method"] for r in session.store["requests"]] == ["PUT"]  # no verifyAfterWrite before 0.16.2
    # local delivery: GET -> 404 -> "Blob not found.", retried on the receiver's 0.16 queue schedule
    assert [e["result"] for e in trace.local] == ["Blob not found."] * 9
    assert [e["t"] for e in trace.local] == [0, 120, 420, 1020, 1920, 3720, 7320, 14520, 100920]
    assert trace.fate == "lost" and trace.author_told is False and trace.copies == 1
    (bounce,) = trace.dsns
    assert (bounce["kind"], bounce["origin"], bounce["t"]) == ("failed", "receiver", 3 * D)
    assert (bounce["queued"], bounce["fate_kind"], bounce["store_outcome"]) == (True, "unreadable", "stored")
    _, per_message, recipient = dsn_blocks(bounce["text"])
    assert per_message["Reporting-MTA"] == "dns; mx.receiver.test"
    assert "Blob not found." in recipient["Diagnostic-Code"]
    assert trace.accepted[0]["bounced_at"] == 3 * D and trace.accepted[0]["mailbox_at"] is None


def test_lost_write_that_stops_before_the_expiry_lets_the_receivers_bounce_through():
    # the first copy's blob is gone for good, but S3 keeps writes again by the 3-day expiry: the bounce is kept
    trace = deliver(["lost-write@0-1d"], DeliveryConfig(store=StoreConfig(version="0.16.1")))
    (bounce,) = trace.dsns
    assert bounce["fate_kind"] == "queued" and bounce["queued"] is True
    assert trace.fate == "bounced" and trace.author_told is True


def test_lost_write_with_verify_is_never_accepted():
    # 0.16.18 verifies: each attempt is PUT/HEAD 404 x4 with 1+2+4 s -> 451 after 7 s, as for a 503
    trace = deliver(["lost-write@0-1h"])
    assert [s.t for s in trace.sessions] == [0, 127, 434, 1041, 1948, 3755]
    assert [s.reply for s in trace.sessions[:5]] == [TEMPFAIL] * 5
    assert trace.sessions[5].durable_at_reply is True and trace.fate == "delivered"
    assert all(e["result"] == "delivered" for e in trace.local)


def test_read_outage_after_acceptance_is_a_temporary_io_error_then_delivers():
    # latency 10 s: PUT 0-10, HEAD 10-20 (before the outage), 250 at 20; the first GET at 20 meets
    # refused, rust-s3 retries after 1 s, refused again: "Temporary I/O error." at 21, then the
    # receiver's queue schedule: +2m, +5m, +10m, +15m, +30m (all refused, 1 s each), +1h at 7346 s,
    # after the 2 h outage: GET takes 10 s, in the mailbox at 7356 s
    trace = deliver(["refused@15-2h"], DeliveryConfig(store=StoreConfig(latency=10)))
    (session,) = trace.sessions
    assert QUEUED.fullmatch(session.reply) and session.ended == 20 and session.durable_at_reply is True
    assert [(e["t"], e["result"]) for e in trace.local] == [
        (21, "Temporary I/O error."), (142, "Temporary I/O error."), (443, "Temporary I/O error."),
        (1044, "Temporary I/O error."), (1945, "Temporary I/O error."), (3746, "Temporary I/O error."),
        (7356, "delivered")]
    assert trace.fate == "delivered" and trace.delivered_at == 20 and trace.mailbox_at == 7356
    assert trace.dsns == []


def test_read_outage_of_503_is_retried_inside_get_first():
    # a 503 on GET is retried by the store loop (1, 2, 4 s) before the queue sees an error
    trace = deliver(["503@15-1h"], DeliveryConfig(store=StoreConfig(latency=10)))
    first = trace.local[0]
    # GETs at 20, 31, 43, 57 (10 s each + backoff), the error at 67
    assert (first["t"], first["result"]) == (67, "Temporary I/O error.")
    assert trace.local[-1]["result"] == "delivered" and trace.fate == "delivered"


def test_delay_warning_status_matches_the_reply_it_reports():
    """BUG: the "delayed" DSN always says ``Status: 4.3.5`` (blobedu/sender.py, SendingMTA._wait_until),
    whatever the last reply was.  With a full queue quota every reply is ``452 4.3.1``, so the DSN's
    Diagnostic-Code says 4.3.1 while its Status says 4.3.5; RFC 3464 §2.3.4 wants the Status to be the
    recipient's delivery status, i.e. 4.3.1 here (the failed DSN's 5.4.7, RFC 3463 "delivery time
    expired", is right)."""
    trace = deliver([], DeliveryConfig(queue_quota=0))
    assert {s.reply for s in trace.sessions} == {"452 4.3.1 Mail system full, try again later."}
    (delayed,) = [d for d in trace.dsns if d["kind"] == "delayed"]
    _, _, recipient = dsn_blocks(delayed["text"])
    assert recipient["Diagnostic-Code"] == "smtp;452 Mail system full, try again later."
    assert recipient["Status"] == "4.3.1"


# -- facts §1 revision 2: a silent S3 on v0.8.2-v0.15.x is never timed out ---------------------------------
def test_facts1_a_hung_s3_on_0_15_gives_the_sender_timeouts_and_piles_up_stuck_sessions():
    """On 0.15 a hung S3 gives the sender a *timeout*, not a 451; every retry adds one more stuck session
    holding the body in memory, until the endpoint resets them all (the window's end) and they answer
    451 to nobody."""
    trace = deliver(["timeout@0-1h"], DeliveryConfig(store=StoreConfig(version="0.15.5")))
    stuck = [s for s in trace.sessions if s.reply == "timeout"]
    assert [s.t for s in stuck] == [0, 420, 1020, 1920, 3120]  # each a 5-min wait, then 2m, 5m, 10m, 15m
    assert all(s.ended == s.t + 300 for s in stuck)  # the Stalwart sender's 5-minute wait
    for s in stuck:
        assert [r["result"] for r in s.store["requests"]] == ["hung"]
        assert s.receiver_replied_at == 3600 and s.receiver_reply == TEMPFAIL  # reset at 1 h, to nobody
    # five bodies sat in receiver memory at once just before the reset
    memory = [c for c in trace.custody if c["holder"] == "receiver memory"]
    assert sum(1 for c in memory if c["from"] < 3599 < c["to"]) == 5
    assert trace.fate == "delivered" and trace.copies == 1 and QUEUED.fullmatch(trace.sessions[-1].reply)
    # 0.16 answers 451 after 61 s (30 s + 1 s + 30 s): the sender sees a 451, never a timeout
    v16 = deliver(["timeout@0-1h"])
    assert {s.reply for s in v16.sessions[:-1]} == {TEMPFAIL} and v16.sessions[0].ended == 61


def test_facts1_a_silent_s3_that_never_returns_ends_the_run_with_the_puts_still_hung():
    trace = deliver(["timeout@0"], DeliveryConfig(store=StoreConfig(version="0.15.5")))
    assert trace.fate == "bounced" and {s.reply for s in trace.sessions} == {"timeout"}
    assert all(s.store["outcome"] == "hung" and s.receiver_reply is None for s in trace.sessions)
    assert trace.ended == 3 * D  # the run ends when the sender gives up and only hung requests are left
    _, _, recipient = dsn_blocks(failed_dsns(trace)[0]["text"])
    # no reply at all: at expiry the failure is made permanent, so write_dsn_status's generic 5.0.0, and
    # no Diagnostic-Code (queue/dsn.rs:586-595, 626-632@v0.16.18; facts §3 rev 3)
    assert recipient["Status"] == "5.0.0" and recipient["Diagnostic-Code"] is None
    (delayed,) = [d for d in trace.dsns if d["kind"] == "delayed"]
    assert "Status: 4.0.0" in delayed["text"] and "Diagnostic-Code" not in delayed["text"]
