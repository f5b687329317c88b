"""What else an S3 outage touches (facts §5): the write order, orphans, lost bounces, the purge race, the client's view.

Each test is named after the §5 row (or the source line) it checks.
"""

from __future__ import annotations

import pytest

from blobedu import operations
from blobedu.cli import main
from blobedu.delivery import DeliveryConfig, deliver
from blobedu.endpoint import InProcessEndpoint
from blobedu.errors import BlobeduError
from blobedu.faults import parse
from blobedu.purge import DataStoreLinks, purge_decision, race
from blobedu.store import StoreConfig
from blobedu.text import render_deliver, verdict

TEMPFAIL = "451 4.3.5 Unable to accept message at this time."
D = 86400


# -- the write order: data store, then S3, then data store ---------------------------------------------------
def test_facts5_datastore_down_gives_the_same_451_before_s3_is_touched():
    trace = deliver(["datastore-down@0-10m"])
    failed = [s for s in trace.sessions if s.reply == TEMPFAIL]
    assert len(failed) == 3 and all(s.store is None for s in failed)  # no S3 request at all
    assert trace.sessions[-1].reply.startswith("250") and trace.fate == "delivered"
    steps = [e["step"] for e in trace.events if e["what"] == "data store write failed"]
    assert steps == ["reserve"] * 3


def test_facts5_datastore_down_sends_no_s3_request():
    ep = InProcessEndpoint()
    try:
        trace = deliver(["datastore-down@0"], DeliveryConfig(sender="postfix"), endpoint=ep)
        assert all(s.store is None for s in trace.sessions) and ep.keys() == []
        assert trace.fate == "bounced" and trace.copies == 0
    finally:
        ep.close()


def test_facts5_failed_commit_after_a_good_put_leaves_an_orphan_in_moto():
    ep = InProcessEndpoint()
    try:
        trace = deliver(["commit-fail@0"], DeliveryConfig(sender="postfix"), endpoint=ep)
        keys = [s.store["key"] for s in trace.sessions]  # BLAKE3 of the Received header + the bytes it got
        # facts §5 rev 3: each attempt prepends a fresh Received header (inbound/data.rs:485-495,
        # 1013-1069@v0.16.18), so each failed commit leaves an orphan of its own
        assert len(set(keys)) == len(keys) > 1
        assert sorted(ep.keys()) == sorted(keys)  # the objects are in S3 ...
        assert trace.copies == 0 and trace.accepted == []  # ... and no queue entry links it
        assert all(s.reply == TEMPFAIL and s.store["outcome"] == "stored" for s in trace.sessions)
        failed = [e for e in trace.events if e["what"] == "data store write failed"]
        assert failed and all(e["step"] == "commit" and e["orphan"] is True for e in failed)
        assert "orphan until the purge" in render_deliver(trace)
    finally:
        ep.close()


def test_facts5_the_orphan_is_what_the_purge_removes():
    # the orphan has only its reservation: expired, so the purge's rule (blob.rs@v0.16.18:253-288) deletes it
    links = DataStoreLinks()
    links.reserve("orphan", until=120)
    links.reserve("young", until=500)
    links.commit("kept", until=0, queue_id=1)
    assert purge_decision(links, now=200) == ["orphan"]
    assert purge_decision(links, now=100) == []


def test_datastore_fault_kinds_parse_and_are_not_s3():
    for spec in ("datastore-down@0-5m", "commit-fail@1m"):
        fault = parse(spec)
        assert fault.is_datastore and not fault.is_s3
    assert main(["put", "--fault", "commit-fail@0"]) == 2


def test_datastore_faults_need_the_stalwart_receiver():
    with pytest.raises(BlobeduError, match="receiver stalwart"):
        deliver(["datastore-down@0"], DeliveryConfig(receiver="wal"))


# -- lost bounces -----------------------------------------------------------------------------------------------
def test_facts3_a_stalwart_senders_bounce_is_dropped_when_its_own_store_is_down():
    # queue/dsn.rs@v0.16.18:54-59 ignores queue()'s result: the author is never told
    trace = deliver(["refused@0-4d"], DeliveryConfig(sender_faults=("refused@71h-4d",)))
    bounce = [d for d in trace.dsns if d["kind"] == "failed"]
    assert len(bounce) == 1 and bounce[0]["origin"] == "sender" and bounce[0]["t"] == 3 * D
    assert (bounce[0]["queued"], bounce[0]["fate_kind"]) == (False, "dropped")
    assert trace.fate == "lost" and trace.author_told is False
    assert verdict(trace).endswith("the author was never told")
    delayed = [d for d in trace.dsns if d["kind"] == "delayed"]
    assert [d["fate_kind"] for d in delayed] == ["queued"]  # the 1-day warning went out: the store was up


def test_the_same_scenario_without_the_sender_fault_tells_the_author():
    trace = deliver(["refused@0-4d"])
    assert trace.fate == "bounced" and trace.author_told is True
    assert all("fate_kind" not in d for d in trace.dsns)  # no sender store is run when it has no fault


def test_a_503_storm_on_the_senders_store_also_drops_the_bounce():
    trace = deliver(["refused@0-4d"], DeliveryConfig(sender_faults=("503@2d-4d",)))
    bounce = next(d for d in trace.dsns if d["kind"] == "failed")
    assert bounce["fate_kind"] == "dropped" and bounce["store_error"].startswith("S3Error (code 503)")


def test_sender_faults_need_a_stalwart_sender_and_s3_kinds():
    with pytest.raises(BlobeduError, match="Stalwart sender"):
        deliver([], DeliveryConfig(sender="exim", sender_faults=("refused@0",)))
    with pytest.raises(BlobeduError, match="sender's S3"):
        deliver([], DeliveryConfig(sender_faults=("disk-full@0",)))
    with pytest.raises(BlobeduError, match="hang for good"):
        deliver([], DeliveryConfig(sender_version="0.15.5", sender_faults=("timeout@0",)))


def test_facts5_the_receivers_bounce_after_a_250_goes_through_the_store_that_lost_the_message():
    # notebook 02's case: 0.16.1, lost-write forever; the DSN is "queued" on the same store and lost
    trace = deliver(["lost-write@0"], DeliveryConfig(store=StoreConfig(version="0.16.1")))
    (bounce,) = trace.dsns
    assert bounce["origin"] == "receiver" and bounce["fate_kind"] == "unreadable"
    assert trace.fate == "lost" and trace.author_told is False
    assert "the receiver's bounce was written to the same store" in verdict(trace)


def test_the_receivers_bounce_is_dropped_when_its_store_refuses_at_the_expiry():
    # accepted at 0 (latency 1 s), reads fail for 4 days, the bounce's PUT at 3 d is refused
    trace = deliver(["refused@2-4d"], DeliveryConfig(store=StoreConfig(latency=1)))
    (bounce,) = trace.dsns
    assert bounce["origin"] == "receiver" and bounce["fate_kind"] == "dropped"
    assert trace.fate == "lost" and trace.copies == 1


# -- the purge ---------------------------------------------------------------------------------------------------
def test_purge_delete_after_the_last_put_loses_a_committed_blob():
    # blob.rs@v0.16.18:136-143 deletes from a scan taken after the reservation expired; the commit
    # (spool.rs@v0.16.18:555-598) does not check the reservation: 250 given, blob gone
    r = race(purge_scan=125, delete_at=130)
    assert r.final_put_at == 127 and r.committed and not r.readable
    assert r.local_delivery == "Blob not found."


def test_purge_delete_before_the_last_put_is_harmless():
    r = race(purge_scan=125, delete_at=125)
    assert r.committed and r.readable and r.delete_at == 125


def test_purge_inside_the_reservation_deletes_nothing():
    r = race(purge_scan=100, delete_at=130)
    assert r.delete_at is None and r.readable


def test_a_loop_inside_the_120s_reservation_cannot_race():
    # default maxRetries 3: the loop is 7 s, committed long before any purge can see it expired
    r = race(purge_scan=125, delete_at=130, config=StoreConfig(), faults=["503@0-5"])
    assert r.final_put_at == 7 and r.committed and r.delete_at is None and r.readable


def test_a_put_that_fails_leaves_nothing_to_race():
    r = race(purge_scan=125, delete_at=130, config=StoreConfig())  # 503 for 2 min: 451 after 7 s
    assert not r.committed and r.local_delivery == "none: nothing was queued"


# -- the client's view (one test per facts §5 row) -----------------------------------------------------------------
def see(name, fault, version="0.16.18"):
    return operations.view(name, fault, version)


def test_facts5_imap_fetch_body_fails_the_whole_command():
    v = see("IMAP FETCH BODY[]", "503")
    assert v.outcome == "failed" and v.short == "FETCH fails" and v.after == 7


def test_facts5_imap_fetch_body_404_silently_omits_the_message():
    v = see("IMAP FETCH BODY[]", "missing")
    assert v.outcome == "not-found" and "silently left out" in v.seen


def test_facts5_imap_fetch_flags_envelope_keep_working():
    for fault in ("refused", "timeout", "503"):
        v = see("IMAP FETCH FLAGS/ENVELOPE", fault)
        assert v.trace is None and v.short == "works" and v.after == 0


def test_facts5_jmap_email_get_error_fails_the_method_404_is_notfound():
    assert see("JMAP Email/get with body", "refused").short == "method fails"
    assert see("JMAP Email/get with body", "missing").short == "notFound"


def test_facts5_blob_download_likewise():
    assert see("JMAP blob download", "429").short == "download fails"
    assert see("JMAP blob download", "missing").short == "not found"


def test_facts5_pop3_retr_error_fails_the_command():
    assert see("POP3 RETR", "refused").short == "-ERR"


def test_facts5_reads_silent_s3_61s_on_016_forever_on_015():
    assert see("POP3 RETR", "timeout").after == 61
    hung = see("POP3 RETR", "timeout", "0.15.5")
    assert hung.outcome == "hung" and hung.after is None and "cannot decide" in hung.seen


def test_facts5_other_writes_fail_the_users_request_at_once():
    for name in ("IMAP APPEND", "JMAP upload", "Sieve script upload"):
        v = see(name, "refused")
        assert v.outcome == "failed" and v.after == 1 and "fails" in v.short


def test_facts5_submission_gets_the_same_451_as_inbound_mail():
    assert see("SMTP submission", "503").short == "451 4.3.5"


def test_facts5_lost_writes_look_fine_before_verify_and_fail_with_it():
    assert see("IMAP APPEND", "lost-write", "0.15.5").outcome == "stored-lost"
    assert see("IMAP APPEND", "lost-write", "0.16.18").outcome == "failed"


def test_facts2_local_delivery_read_error_and_missing_blob():
    assert see("local delivery of an accepted message", "refused").short == "Temporary I/O error."
    assert see("local delivery of an accepted message", "missing").short == "Blob not found."


def test_facts5_remote_delivery_reads_after_rcpt_and_fails_as_queue_system_error():
    v = see("remote delivery from the queue", "503")
    assert v.short == "Queue system error." and "QUIT without DATA" in v.seen


def test_client_view_table_is_computed_one_row_per_operation():
    rows = operations.version_table("0.16.18", faults=("refused", "missing"))
    assert [r["operation"] for r in rows] == [o.name for o in operations.OPERATIONS] and len(rows) == 11
    assert all(o.source for o in operations.OPERATIONS)
    assert rows[0]["refused"] == "FETCH fails, 1s"
    full = operations.table(faults=("503",))
    assert full[0]["503 0.15.5"] == full[0]["503 0.16.18"] == "FETCH fails, 7s"


def test_client_view_refuses_a_non_s3_fault_and_unknown_operations():
    with pytest.raises(BlobeduError):
        operations.view("POP3 RETR", "crash@5")
    with pytest.raises(BlobeduError, match="unknown operation"):
        operations.view("NNTP ARTICLE", "refused")


def test_operation_panel_follows_its_controls():
    panel = operations.operation_panel()
    assert panel.trace.outcome == "failed" and "FETCH" in panel.verdict_text
    panel.update(operation="IMAP FETCH FLAGS/ENVELOPE")
    assert panel.trace.trace is None and "no S3 request" in panel.verdict_text
    panel.update(operation="SMTP submission", fault="503", version="0.15.5")
    assert panel.lanes.lane("outcome").marks[0].label == "451 4.3.5" and panel.png


def test_every_row_has_a_rule_for_every_outcome_its_store_call_can_end_in():
    needed = {"get": {"found", "not-found", "failed", "hung"}, "put": {"stored", "stored-lost", "failed", "hung"},
              None: {"none"}}
    for op in operations.OPERATIONS:
        assert set(op.rules) == needed[op.s3], op.name


def test_facts5_the_daily_purge_deletes_the_orphan_from_moto():
    from blobedu.purge import sweep
    from blobedu.store import S3BlobStore

    ep = InProcessEndpoint()
    try:
        trace = deliver(["commit-fail@0"], DeliveryConfig(sender="postfix"), endpoint=ep)
        links = DataStoreLinks()
        for s in trace.sessions:
            links.reserve(s.store["key"], s.t + 120)
        store = S3BlobStore(StoreConfig(), ep)
        keys = [s.store["key"] for s in trace.sessions]  # one orphan per attempt (facts §5 rev 3)
        # just after the last attempt, only its own reservation is still live: every earlier orphan goes
        swept = sweep(links, store, now=trace.sessions[-1].t + 60)
        assert sorted(swept) == sorted(keys[:-1]) and ep.keys() == [keys[-1]]
        assert sweep(links, store, now=6 * D) == [keys[-1]] and ep.keys() == []
    finally:
        ep.close()


def test_a_failing_delete_stops_the_purge_run():
    from blobedu.purge import sweep
    from blobedu.store import S3BlobStore

    with S3BlobStore(StoreConfig(), faults=["refused@0"]) as store:
        links = DataStoreLinks()
        links.reserve("a", 1)
        links.reserve("b", 1)
        assert sweep(links, store, now=10) == [] and set(links.temporary) == {"a", "b"}


def test_500_reads_like_503_and_403_like_429_in_the_client_view():
    for version in operations.VERSIONS:
        assert see("POP3 RETR", "500", version).cell() == see("POP3 RETR", "503", version).cell()
        assert see("IMAP APPEND", "403", version).cell() == see("IMAP APPEND", "429", version).cell()


def test_facts5_rev3_imap_fetch_returns_the_messages_read_before_a_failing_blob():
    """imap/src/op/fetch.rs@v0.16.18:577 writes each message's FETCH item before it reads the next blob."""
    row = next(op for op in operations.OPERATIONS if op.name == "IMAP FETCH BODY[]")
    short, seen = row.rules["failed"]
    assert short == "FETCH fails" and "before the failing one come back" in seen
    assert "no message in the range is returned" not in seen and "577" in row.source


def test_facts5_rev3_a_duplicate_is_two_s3_objects():
    """Each attempt prepends a fresh Received header (inbound/data.rs:485-495@v0.16.18): two copies, two keys."""
    ep = InProcessEndpoint()
    try:
        trace = deliver(["503@0-5m"], DeliveryConfig(store=StoreConfig(max_retries=10)), endpoint=ep)
        assert trace.copies == 2
        keys = [s.store["key"] for s in trace.sessions]  # the first loop's late 250 and the retry's own
        assert len(set(keys)) == 2 and sorted(ep.keys()) == sorted(keys)
    finally:
        ep.close()
