"""The other servers' designs (blobedu.servers): each reply and fate against its fact-sheet row (shared/other-servers.md).

Pure tests drive each design's machine by hand (no moto); flow tests run ``deliver --receiver NAME``
through real SMTP over loopback and moto, with the same fault plans and the unchanged senders.
"""

from __future__ import annotations

import json
import random

import pytest

from blobedu.cli import main
from blobedu.delivery import DeliveryConfig, deliver
from blobedu.errors import BlobeduError
from blobedu.policy import Reply, Send, Sleep
from blobedu.servers import DESIGNS, NAMES, design, facts_table
from blobedu.servers import dovecot_obox, james, maddy, tmail, wildduck
from blobedu.servers.compare import fate, holders
from blobedu.servers.design import GRADES, SendDrained


def drive(machine, replies):
    """Feed ``replies`` (one per Send) to a machine; returns (steps, outcome)."""
    steps, replies = [], list(replies)
    step = next(machine)
    try:
        while True:
            steps.append(step)
            step = machine.send(replies.pop(0) if isinstance(step, Send) else None)
    except StopIteration as done:
        return steps, done.value


def sends(steps):
    return [s for s in steps if isinstance(s, Send)]


# -- pure: each design's loop -------------------------------------------------------------------------
def test_every_design_is_registered_with_graded_cited_facts():
    assert set(NAMES) == {"stalwart", "wal", "maddy", "james", "tmail", "dovecot-obox", "wildduck", "cyrus",
                          "postfix-local"}
    for row in facts_table():
        assert row["source"] and row["grade"] in GRADES
    assert any(r["grade"] == "docs" for r in design("dovecot-obox").facts_table())
    with pytest.raises(BlobeduError, match="unknown receiver"):
        design("exchange")


def test_maddy_retries_ten_times_and_drains_the_pipe_after_a_5xx():
    # retry.go@minio-go v7.0.84: 10 attempts; hook-reader.go: the pipe cannot be rewound
    steps, outcome = drive(maddy.put(random.Random(1)), [Reply(status=503)] * 10)
    assert len(sends(steps)) == maddy.MAX_RETRY
    assert not isinstance(sends(steps)[0], SendDrained)
    assert all(isinstance(s, SendDrained) for s in sends(steps)[1:])
    assert not outcome.ok


def test_maddy_refused_leaves_the_body_unread_so_a_quick_recovery_still_stores():
    steps, outcome = drive(maddy.put(random.Random(1)), [Reply(error="refused")] * 3 + [Reply(status=200)])
    assert outcome.ok and not any(isinstance(s, SendDrained) for s in sends(steps))


def test_maddy_403_is_one_request_and_backoff_is_full_jitter_capped_at_one_second():
    steps, outcome = drive(maddy.put(random.Random(1)), [Reply(status=403)])
    assert len(sends(steps)) == 1 and not outcome.ok
    rng = random.Random(3)
    for n in range(12):
        assert 0 <= maddy.backoff(n, rng) <= min(1.0, 0.2 * 2 ** n)


def test_maddy_replies_554_permanent_with_the_msg_id():
    # session.go:572-617@v0.9.4 + go-smtp conn.go:1220-1230: no Temporary() → 554, X.0.0
    from blobedu.servers.design import Ids

    assert maddy.reply_failed(None, Ids(0xabc)).startswith("554 5.0.0 Internal server error (msg ID = ")
    assert maddy.reply_ok(Ids(1)) == "250 2.0.0 OK: queued"


def test_james_sdk_gives_four_attempts_and_any_failure_is_451_4_0_0():
    steps, outcome = drive(james.put(random.Random(0)), [Reply(status=500)] * 4)
    assert len(sends(steps)) == 4 and not outcome.ok
    assert james.reply_failed(outcome, None) == "451 4.0.0 Error processing message."  # SendMailHandler.java:141-146
    steps, outcome = drive(james.put(random.Random(0)), [Reply(status=403)])
    assert len(sends(steps)) == 1


def test_tmail_merge_one_failure_is_success_with_a_repair():
    from blobedu.policy import Outcome

    assert tmail.merge(Outcome(False), Outcome(True)) == (Outcome(True), "primary")
    ok, repair = tmail.merge(Outcome(False, "x"), Outcome(False, "y"))
    assert not ok.ok and repair is None


def test_tmail_reads_each_blob_from_either_store():
    # SecondaryBlobStoreDAO.java:116-158@1.0.19.3: a read is of one blob, primary then secondary on any error
    assert tmail.readable([(True, False), (False, True)])  # header only on the primary, body only on the secondary
    assert tmail.readable([(True, True), (True, False)])
    assert not tmail.readable([(False, False), (True, True)])  # the header is nowhere: its read fails on both
    assert not tmail.readable([(True, True), (False, False)])


def test_tmail_repair_waits_as_james_distributed_event_bus():
    # WaitDelayGenerator.java:67-78@james-project-3.9.0: 100 ms·2^(n-1) plus at most 50 ms
    rng = random.Random(7)
    for retry in range(tmail.REPAIR_RETRIES):
        base = 0.1 * 2 ** retry
        assert base <= tmail.repair_backoff(retry, rng) <= base + 0.05


def test_obox_waits_the_documented_steps_on_5xx():
    steps, outcome = drive(dovecot_obox.put(random.Random(0)), [Reply(status=503)] * 5)
    assert [s.seconds for s in steps if isinstance(s, Sleep)] == [0.05, 0.5, 5.0, 10.0]
    assert not outcome.ok


def test_wildduck_retries_a_write_once_and_never_a_server_selection_error():
    steps, outcome = drive(wildduck.put(random.Random(0)), [Reply(error="hung"), Reply(status=200)])
    assert outcome.ok and len(sends(steps)) == 2
    steps, outcome = drive(wildduck.put(random.Random(0)), [Reply(error="refused")])
    assert not outcome.ok and len(sends(steps)) == 1


# -- the real flow: SMTP over loopback, moto, unchanged senders ----------------------------------------
def _run(name, faults, sender="stalwart"):
    return deliver(faults, DeliveryConfig(receiver=name, sender=sender))


@pytest.mark.parametrize("sender", ["stalwart", "postfix", "exim"])
def test_maddy_bounces_at_once_on_refused_s3_whatever_the_sender(sender):
    trace = _run("maddy", ["refused@0-1h"], sender)
    assert trace.fate == "bounced" and len(trace.sessions) == 1
    assert trace.sessions[0].reply.startswith("554 5.0.0 Internal server error")
    assert trace.dsns[-1]["status"] == "5.0.0"
    assert trace.dsns[-1]["t"] < 10  # ~4 s of minio-go retries, then the sender bounces at once


def test_maddy_503_once_still_bounces_although_s3_is_back():
    # other-servers.md §2.3 experiment: "503 once, then 200" → 554
    assert _run("maddy", ["503@0-0.05"]).fate == "bounced"


def test_james_defers_with_451_and_discards_a_lost_write():
    trace = _run("james", ["503@0-1h"])
    assert trace.fate == "delivered" and trace.sessions[0].reply == "451 4.0.0 Error processing message."
    lost = _run("james", ["lost-write@0-1h"])
    assert lost.fate == "lost" and lost.sessions[0].reply == "250 2.6.0 Message received"
    assert any(e["what"] == "discarded" for e in lost.events)


def test_tmail_answers_250_on_one_copy():
    trace = _run("tmail", ["refused@0-1h"])
    assert trace.sessions[0].reply.startswith("250") and trace.fate == "delivered"
    assert "ONE of two stores" in holders(trace)
    dead = [e for e in trace.events if e["what"] == "repair dead-lettered"]
    assert dead and all(e["attempts"] == tmail.REPAIR_RETRIES + 1 for e in dead)  # GroupConsumerRetry.java:98-101


def _losing(suffix):
    """An in-process endpoint that answers 200 to a PUT of a key ending in ``suffix`` and keeps nothing."""
    from blobedu.endpoint import InProcessEndpoint

    class Losing(InProcessEndpoint):
        def send(self, method, key, body=b"", fault=None, timeout=30.0, real_time=False):
            if method == "PUT" and key.endswith(suffix):
                return Reply(status=200), 0.0
            return super().send(method, key, body, fault, timeout, real_time)

    return Losing


@pytest.mark.parametrize("primary_loses,secondary_loses,fate", [
    ("-header", "-body", "delivered"),  # each blob is in one store: reads fall back blob by blob
    ("-header", "-header", "lost"),  # the body is in both, the header in neither: unreadable
])
def test_tmail_mail_is_readable_when_each_blob_is_in_either_store(monkeypatch, primary_loses, secondary_loses, fate):
    import blobedu.endpoint

    primary = _losing(primary_loses)()
    try:
        monkeypatch.setattr(blobedu.endpoint, "InProcessEndpoint", _losing(secondary_loses))  # deliver's secondary
        trace = deliver([], DeliveryConfig(receiver="tmail"), endpoint=primary)
    finally:
        primary.close()
    assert trace.sessions[0].reply.startswith("250")  # every save was answered 200: no repair, a 250
    assert trace.fate == fate


def test_obox_defers_451_4_2_0():
    trace = _run("dovecot-obox", ["503@0-1h"])
    # lmtp-local.c:543-558 + smtp-server-recipient.c:232-234@2.4.4: every LMTP DATA reply starts with <rcpt>
    assert trace.sessions[0].reply.startswith("451 4.2.0 <reader@receiver.test> Internal error occurred.")
    assert trace.fate == "delivered"


def test_wildduck_silent_store_duplicates():
    trace = _run("wildduck", ["timeout@0-10m"])
    assert trace.sessions[0].reply.startswith("450 plugin timeout (")
    assert trace.fate == "delivered" and trace.copies > 1


def test_reply_texts_read_at_the_tags():
    from blobedu.servers import cyrus
    from blobedu.servers.design import Ids

    assert cyrus.reply_ok(Ids(5)).startswith("250 2.1.5 Success SESSIONID=<")  # lmtp_err.et:47-48
    assert cyrus.reply_failed(None, Ids(5)) == "451 4.3.0 System I/O error"  # lmtp_err.et:56-57, imap_err.et:47-48
    assert wildduck.reply_ok(Ids(5)).startswith("250 Message processed (")  # index.js:1731@v6.0.1
    assert wildduck.reply_failed(None, Ids(5)).startswith("450 Failed to queue message [ERRQ05] (")
    assert dovecot_obox.reply_ok(Ids(5)).endswith(" Saved")


@pytest.mark.parametrize("name", ["cyrus", "postfix-local"])
def test_local_disk_designs_ignore_s3_and_lose_mail_with_the_disk(name):
    assert _run(name, ["refused@0-1h"]).sessions[0].reply.startswith("250")
    trace = _run(name, ["disk-loss@10m"])
    assert trace.fate == "lost" and "local disk (lost)" in holders(trace)
    assert fate(trace) == "LOST after a 250"


def test_postfix_local_full_disk_is_452_and_a_write_error_451():
    # smtpd_check.c:5494-5528@v3.11.6: a full queue file system is refused with 452 4.3.1
    trace = _run("postfix-local", ["disk-full@0-10m"])
    assert trace.sessions[0].reply == "452 4.3.1 Insufficient system storage"
    assert trace.fate == "delivered" and trace.sessions[-1].reply.startswith("250 2.0.0 Ok: queued as ")
    from blobedu.policy import Outcome
    from blobedu.servers import postfix_local

    assert postfix_local.reply_failed(Outcome(False, "EIO"), None) == "451 4.3.0 Error: queue file write error"


# -- the CLI -----------------------------------------------------------------------------------------
def test_cli_deliver_every_design_json(capsys):
    for name in DESIGNS:
        assert main(["deliver", "--receiver", name, "--fault", "503@0-5m", "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["config"]["receiver"] == name


def test_cli_bad_receiver_and_fleet_design_exit_2_one_line(capsys):
    assert main(["deliver", "--receiver", "exchange"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exchange" in err
    assert main(["fleet", "--receiver", "maddy", "--messages", "1", "--max-retries", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Stalwart's S3 settings" in err
    assert main(["deliver", "--receiver", "maddy", "--queue-quota", "3"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_stalwart_only_settings_are_refused_for_other_designs(capsys):
    for flag in (["--max-retries", "2"], ["--timeout", "5s"], ["--verify"]):
        assert main(["deliver", "--receiver", "james", *flag]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Stalwart's S3 settings" in err


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=30))
def test_any_receiver_name_is_a_design_or_one_line_and_exit_2(name):
    import contextlib
    import io

    if name in DESIGNS or name.startswith("-"):
        return
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["deliver", "--receiver", name, "--json"])
    assert code == 2
    assert err.getvalue().count("\n") == 1 and "Traceback" not in err.getvalue()


def test_the_text_account_names_the_design_not_stalwarts_settings():
    from blobedu.text import render_deliver

    head = render_deliver(_run("maddy", ["refused@0-1h"])).splitlines()[0]
    assert "receiver maddy (maddy 0.9.4" in head and "maxRetries" not in head
