"""The write-ahead spooling receiver (blobedu.spool): durable before 250, upload, replay, loss, cost figures.

These tests use no pytest fixtures (patches go through ``pytest.MonkeyPatch.context()``, folders
through ``tempfile``), so they run whether or not tests/conftest.py switches off looptime's plugin.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import blobedu.delivery as delivery
import blobedu.spool as spool
from blobedu.cli import main
from blobedu.delivery import DeliveryConfig, deliver
from blobedu.errors import BlobeduError
from blobedu.receiver import REPLY_QUOTA
from blobedu.spool import (BLOCK_BYTES, UPLOAD_RETRY_SECONDS, SpoolingReceiver, fsync_latency, spool_growth,
                           spool_run, write_entry)
from blobedu.store import StoreConfig

WAL = DeliveryConfig(receiver="wal")


@contextlib.contextmanager
def captured():
    """Collects the receivers deliver() builds, so a test can look at them afterwards."""
    made = []
    original = delivery._make_receiver

    def make(*args, **kwargs):
        made.append(original(*args, **kwargs))
        return made[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(delivery, "_make_receiver", make)
        yield made


def run_cli(*argv: str) -> str:
    """``blobedu`` with ``argv``; its standard output."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(argv)) == 0
    return out.getvalue()


# -- the headline scenario -----------------------------------------------------------------
def test_disk_loss_after_the_250_loses_the_message_with_a_wal():
    trace = deliver(["refused@0-1h", "disk-loss@30m"], WAL)
    assert trace.fate == "lost"
    assert [s.reply[:3] for s in trace.sessions] == ["250"]  # the sender let go at once
    [copy] = trace.accepted
    assert copy["lost_at"] == 1800.0 and copy["mailbox_at"] is None
    spool = [c for c in trace.custody if c["holder"] == "spool"]
    assert spool == [{"holder": "spool", "from": 0.0, "to": 1800.0, "note": spool[0]["note"]}]
    assert spool[0]["note"].endswith("disk lost")
    assert not any(c["holder"] == "S3" for c in trace.custody)
    lost = [e for e in trace.events if e["what"] == "spool lost"]
    assert lost and lost[0]["t"] == 1800.0 and lost[0]["entries"] == 1
    assert trace.delivered_at is None and trace.dsns == []  # and nobody tells the author


def test_the_same_faults_with_stalwart_deliver():
    trace = deliver(["refused@0-1h", "disk-loss@30m"], DeliveryConfig(receiver="stalwart"))
    assert trace.fate == "delivered"
    assert trace.delivered_at >= 3600


def test_cli_reports_lost():
    args = ["deliver", "--receiver", "wal", "--fault", "refused@0-1h", "--fault", "disk-loss@30m"]
    text = run_cli(*args)
    assert "LOST after a 250" in text and "receiver disk lost: 1 spooled copy gone" in text
    assert json.loads(run_cli(*args, "--json"))["fate"] == "lost"


# -- durable before 250, then the upload ------------------------------------------------------------
def test_fsync_of_file_and_directory_before_the_250():
    order = []
    real_fsync, real_reply = os.fsync, SpoolingReceiver._reply
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "fsync", lambda fd: (order.append("fsync"), real_fsync(fd))[1])
        mp.setattr(SpoolingReceiver, "_reply",
                   lambda self, record, reply: (order.append(reply[:3]), real_reply(self, record, reply))[1])
        deliver(["refused@0-10m"], WAL)
    assert order[:3] == ["fsync", "fsync", "250"]  # the file, then its directory, then the reply


def test_delivered_at_is_when_the_blob_became_durable_not_the_250():
    trace = deliver(["503@0-1h"], WAL)
    assert trace.fate == "delivered"
    assert trace.sessions[0].reply.startswith("250") and trace.sessions[0].t == 0
    queued = [e for e in trace.events if e["what"] == "queued"]
    assert queued and trace.delivered_at == queued[0]["t"]
    # the upload retried every UPLOAD_RETRY_SECONDS after Stalwart's own 7 s of backoff
    assert 3600 <= trace.delivered_at <= 3600 + UPLOAD_RETRY_SECONDS + 7
    holders = {c["holder"]: c for c in trace.custody}
    assert holders["spool"]["to"] == holders["S3"]["from"] == trace.delivered_at


def test_stalwart_delivered_at_is_its_250():
    trace = deliver(["503@0-1h"])
    assert trace.delivered_at == next(s.receiver_replied_at for s in trace.sessions if s.reply.startswith("250"))


def test_no_outage_uploads_at_once_and_leaves_no_folder():
    with captured() as made:
        trace = deliver([], WAL)
    assert trace.fate == "delivered" and trace.delivered_at == 0.0
    [receiver] = made
    assert not os.path.exists(receiver.spool_dir)  # stop() removed it
    assert receiver.data_store["queue"]


def test_disk_loss_after_the_upload_loses_nothing():
    # 20 s per S3 request: PUT 0-20 s, HEAD 20-40 s (durable, entry deleted), local GET 40-60 s
    config = DeliveryConfig(receiver="wal", store=StoreConfig(latency=20))
    trace = deliver(["disk-loss@50"], config)
    assert trace.fate == "delivered" and trace.delivered_at == 40.0
    assert next(e for e in trace.events if e["what"] == "spool lost")["entries"] == 0


def test_disk_loss_during_the_upload_loses_the_copy():
    # the PUT has landed but the HEAD has not answered: the queue entry was never committed
    config = DeliveryConfig(receiver="wal", store=StoreConfig(latency=20))
    trace = deliver(["disk-loss@30"], config)
    assert trace.fate == "lost" and trace.accepted[0]["lost_at"] == 30.0


def test_crash_replays_the_spool_and_still_delivers():
    with captured() as made:
        trace = deliver(["refused@0-1h", "crash@30m"], WAL)
    assert trace.fate == "delivered" and trace.delivered_at >= 3600
    replay = next(e for e in trace.events if e["what"] == "spool replay")
    assert replay["t"] == 1800.0 and replay["entries"] == 1
    spool = [c for c in trace.custody if c["holder"] == "spool"]
    assert len(spool) == 1 and spool[0]["to"] == trace.delivered_at  # the crash did not end its custody
    assert made[0].entries() == []


def test_disk_full_answers_452_431_and_the_sender_retries():
    trace = deliver(["disk-full@0-10m"], WAL)
    replies = [s.reply for s in trace.sessions]
    assert replies[0] == REPLY_QUOTA == "452 4.3.1 Mail system full, try again later."
    assert all(r == REPLY_QUOTA for r in replies[:-1]) and replies[-1].startswith("250")
    assert trace.sessions[-1].t >= 600  # the sender kept it until the disk had room again
    assert trace.fate == "delivered" and trace.copies == 1
    sender = next(c for c in trace.custody if c["holder"] == "sender queue")
    assert sender["to"] == trace.sessions[-1].t


def test_lost_write_without_verify_is_read_back_before_the_spool_lets_go():
    trace = deliver(["lost-write@0-30m"], DeliveryConfig(receiver="wal", store=StoreConfig(verify=False)))
    assert trace.fate == "delivered" and trace.delivered_at >= 1800


def test_spool_that_never_uploads_bounces_at_the_queue_lifetime():
    # one upload an hour instead of one a minute: same outcome, 60 times fewer S3 calls to simulate
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(spool, "UPLOAD_RETRY_SECONDS", 3600.0)
        trace = deliver(["refused@0-4d"], WAL)
    assert trace.fate == "bounced"
    [dsn] = [d for d in trace.dsns if d["kind"] == "failed"]
    assert dsn["origin"] == "receiver" and dsn["t"] == 3 * 86400


def test_write_entry_is_whole_or_absent():
    with tempfile.TemporaryDirectory() as folder:
        path = write_entry(folder, "a", b"body")
        assert open(path, "rb").read() == b"body" and os.listdir(folder) == ["a.eml"]
        with pytest.raises(OSError):
            write_entry(folder, "b", b"body", full=True)
        assert os.listdir(folder) == ["a.eml"]  # no half-written tmp file left behind


# -- the property: only a disk loss between a 250 and the upload loses mail --------------------------
S3_KINDS = ["refused", "503", "500", "timeout", "429"]


@st.composite
def scenarios(draw, longest=7200):
    """An S3 outage (often from the first message on) plus up to three receiver faults during or just after it."""
    kind = draw(st.sampled_from(S3_KINDS))
    start = draw(st.sampled_from([0, 0, draw(st.integers(0, 1800))]))
    end = start + draw(st.integers(60, longest))
    specs = [f"{kind}@{start}-{end}"]
    for _ in range(draw(st.integers(0, 3))):
        what = draw(st.sampled_from(["crash", "disk-loss", "disk-full"]))
        t = draw(st.integers(0, end + 600))
        specs.append(f"{what}@{t}-{t + draw(st.integers(60, 3600))}" if what == "disk-full" else f"{what}@{t}")
    return specs


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_a_wal_loses_mail_only_to_a_disk_loss_between_its_250_and_the_upload(specs):
    trace = deliver(specs, WAL)
    assert trace.fate in ("delivered", "bounced", "lost")
    losses = [e["t"] for e in trace.events if e["what"] == "disk-loss"]
    durable = {e["queue_id"]: e["t"] for e in trace.events if e["what"] == "queued"}
    for copy in trace.accepted:
        if copy["lost_at"] is not None:
            assert copy["lost_at"] in losses and copy["t"] <= copy["lost_at"]
            assert copy["queue_id"] not in durable  # it never reached S3
    if trace.fate == "lost":
        lost = [c for c in trace.accepted if c["lost_at"] is not None]
        assert lost, "fate lost, but no copy was lost after its 250"
        assert all(c["mailbox_at"] is None for c in trace.accepted)
    if not any(s.startswith("disk-loss") for s in specs):
        assert trace.fate != "lost"
    if trace.fate == "delivered":
        assert trace.delivered_at == min(durable.values())


# -- what it costs ----------------------------------------------------------------------------------
def test_spool_growth_counts_messages_bytes_and_retries():
    g = spool_growth(1, 600, message_bytes=65536)
    assert g.messages == 10 and g.bytes == 10 * 65536 and g.disk_bytes == 10 * 65536
    assert g.fsyncs == 20
    assert g.upload_attempts == sum(range(1, 11))  # message k fails 10 - k times
    assert spool_growth(1, 0, 100).messages == 0
    assert spool_growth(60, 3600, 1).disk_bytes == 3600 * BLOCK_BYTES  # a tiny message takes a whole block


def test_spool_growth_refuses_bad_input():
    for args in [(0, 60, 1), (1, -1, 1), (1, 60, -1)]:
        with pytest.raises(BlobeduError):
            spool_growth(*args)


@settings(max_examples=25, deadline=None)
@given(st.floats(0.1, 1000), st.integers(0, 6 * 3600), st.integers(0, 10**6), st.integers(0, 3600))
def test_spool_growth_grows_with_the_outage(rate, outage, size, more):
    a, b = spool_growth(rate, outage, size), spool_growth(rate, outage + more, size)
    assert a.messages <= b.messages and a.upload_attempts <= b.upload_attempts
    assert a.bytes == a.messages * size and a.disk_bytes >= a.bytes
    assert a.upload_attempts >= a.messages  # every spooled message failed at least once


def test_fsync_latency_measures_and_cleans_up():
    with tempfile.TemporaryDirectory() as folder:
        figures = fsync_latency(samples=20, message_bytes=4096, directory=folder)
        assert 0 < figures.median <= figures.p99
        assert figures.samples == 20 and os.listdir(folder) == []
    with pytest.raises(BlobeduError):
        fsync_latency(samples=1)


def test_spool_run_piles_up_during_the_outage_and_drains_after():
    run = spool_run(messages=3, interval=60, faults=["refused@0-10m"], sample_every=30)
    assert all(r.startswith("250") for r in run.replies) and len(run.replies) == 3
    assert run.peak_entries == 3 and run.peak_bytes >= 3 * 2048
    assert run.samples[-1]["entries"] == 0
    assert all(600 <= a["durable_at"] <= 600 + UPLOAD_RETRY_SECONDS for a in run.accepted)


# -- a fair WAL: an uploader with backoff, a spool on replicated storage (#19 item 7) -----------------
from blobedu.spool import BACKOFF_UPLOAD, FAIR, FIXED_UPLOAD, NAIVE, SpoolOptions, UploadBackoff  # noqa: E402

backoffs = st.builds(UploadBackoff, first=st.floats(0.5, 600), factor=st.floats(1, 4),
                     cap=st.floats(0.5, 7200), jitter=st.booleans()).filter(lambda b: b.cap >= b.first)


@settings(max_examples=100, deadline=None)
@given(backoffs, st.integers(1, 60), st.integers(0, 2**32))
def test_the_uploaders_wait_is_what_its_parameters_say(b, failures, seed):
    import random

    expected = min(b.cap, b.first * b.factor ** (failures - 1))
    assert b.ceiling(failures) == pytest.approx(expected, rel=1e-9)
    wait = b.delay(failures, random.Random(seed))
    if b.jitter:
        assert 0 <= wait <= b.ceiling(failures)
        assert wait == b.delay(failures, random.Random(seed))  # seeded: the same draw again
    else:
        assert wait == b.ceiling(failures)
    # never shorter than the wait before it, never past the cap
    assert b.ceiling(failures) <= b.ceiling(failures + 1) <= b.cap


def test_the_fixed_uploader_is_todays_and_the_backoff_doubles_to_its_cap():
    assert FIXED_UPLOAD.schedule(4) == [0, 60, 120, 180]
    plain = UploadBackoff(first=60, factor=2, cap=600)
    assert plain.schedule(7) == [0, 60, 180, 420, 900, 1500, 2100]
    assert plain.attempts_within(2100) == 6 and FIXED_UPLOAD.attempts_within(3600) == 60
    assert BACKOFF_UPLOAD.jitter and BACKOFF_UPLOAD.cap == 600
    with pytest.raises(BlobeduError):
        BACKOFF_UPLOAD.delay(1)  # jitter with no rng is refused, not silently unjittered


@pytest.mark.parametrize("bad", [dict(first=0), dict(factor=0.5), dict(cap=1, first=2), dict(first=float("nan")),
                                 dict(first=True)])
def test_bad_backoffs_and_replica_counts_are_refused(bad):
    with pytest.raises(BlobeduError):
        UploadBackoff(**bad).check()
    for replicas in (0, 10, 1.5, True):
        with pytest.raises(BlobeduError):
            SpoolOptions(replicas=replicas).check()
    with pytest.raises(BlobeduError):
        DeliveryConfig(receiver="stalwart", spool=FAIR).check()  # spool options belong to the spool


def test_the_backoff_uploader_waits_longer_between_its_uploads():
    # with the backoff and no jitter, the time a spooled copy leaves the disk is the first attempt
    # of its schedule at or after S3's return (plus Stalwart's own loop inside each attempt)
    plain = SpoolOptions(uploader=UploadBackoff(first=60, factor=2, cap=600))
    with captured() as made:
        trace = deliver(["refused@0-1h"], DeliveryConfig(receiver="wal", spool=plain))
    [queued] = [e for e in trace.events if e["what"] == "queued"]
    fixed = deliver(["refused@0-1h"], WAL)
    [fixed_queued] = [e for e in fixed.events if e["what"] == "queued"]
    assert trace.fate == fixed.fate == "delivered"
    assert queued["attempts"] < fixed_queued["attempts"]  # fewer uploads in the outage
    assert trace.delivered_at >= fixed.delivered_at  # and a longer wait after it
    assert trace.delivered_at - 3600 <= 600 + 60  # at most the cap after S3 is back, plus one store loop
    assert len(made[0].spool_dirs) == 1


def test_a_replicated_spool_writes_every_replica_before_the_250():
    seen = []
    original = SpoolingReceiver._start_upload

    def spy(self, queue_id):
        seen.append([sorted(os.listdir(d)) for d in self.spool_dirs])
        return original(self, queue_id)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(SpoolingReceiver, "_start_upload", spy)
        trace = deliver(["refused@0-10m"], DeliveryConfig(receiver="wal", spool=FAIR))
    assert trace.fate == "delivered"
    [nodes] = seen
    assert len(nodes) == 3 and nodes[0] == nodes[1] == nodes[2] and len(nodes[0]) == 1


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 4), st.lists(st.integers(1, 7200), min_size=1, max_size=6), st.integers(0, 3))
def test_a_replicated_spool_never_loses_an_acknowledged_message_to_fewer_disk_losses_than_replicas(
        replicas, losses, seed):
    """N replicas: a copy is lost only once N disk losses (one per node) fall between its 250 and its upload."""
    options = SpoolOptions(uploader=UploadBackoff(first=60, factor=2, cap=600, jitter=True), replicas=replicas)
    specs = ["refused@0-2h"] + [f"disk-loss@{t}" for t in losses]
    trace = deliver(specs, DeliveryConfig(receiver="wal", spool=options, seed=seed))
    [copy] = trace.accepted  # one session: the 250 came at once
    durable = copy["durable_at"] if "durable_at" in copy else next(
        (e["t"] for e in trace.events if e["what"] == "queued"), None)
    # disk losses hit nodes 0, 1, 2, ... in turn; the copy is gone once every node lost its disk after the 250
    before_upload = sorted(t for t in losses if durable is None or t < durable)
    if len(before_upload) < replicas:
        assert trace.fate == "delivered", (specs, trace.fate)
    else:
        assert trace.fate == "lost"
        assert copy["lost_at"] == before_upload[replicas - 1]


def test_one_disk_loss_costs_the_fair_wal_nothing_and_three_lose_its_message():
    one = deliver(["refused@0-1h", "disk-loss@30m"], DeliveryConfig(receiver="wal", spool=FAIR))
    naive = deliver(["refused@0-1h", "disk-loss@30m"], DeliveryConfig(receiver="wal", spool=NAIVE))
    assert one.fate == "delivered" and naive.fate == "lost"
    [replica] = [e for e in one.events if e["what"] == "disk-loss"]
    assert replica["survived"] == 1 and replica["node"] == 0 and replica["lost"] == 0
    from blobedu.text import render_deliver

    assert "disk of spool node 1 of 3 lost: 0 spooled copies gone, 1 kept on the other nodes" in render_deliver(one)
    all3 = deliver(["refused@0-1h", "disk-loss@10m", "disk-loss@20m", "disk-loss@40m"],
                   DeliveryConfig(receiver="wal", spool=FAIR))
    assert all3.fate == "lost" and all3.accepted[0]["lost_at"] == 2400


def test_spool_growth_with_backoff_and_replicas():
    fixed = spool_growth(10, 3600)
    backoff = spool_growth(10, 3600, uploader=UploadBackoff(first=60, factor=2, cap=600))
    tripled = spool_growth(10, 3600, replicas=3)
    assert backoff.messages == fixed.messages and backoff.upload_attempts < fixed.upload_attempts
    assert fixed.drain_seconds <= 60 < backoff.drain_seconds <= 600
    assert tripled.disk_bytes == 3 * fixed.disk_bytes and tripled.fsyncs == 3 * fixed.fsyncs
    # the closed form agrees with the schedule, message by message, for the fixed uploader
    assert spool_growth(1, 600, uploader=FIXED_UPLOAD).upload_attempts == sum(
        FIXED_UPLOAD.attempts_within(600 - 60 * k) for k in range(10))
    with pytest.raises(BlobeduError):
        spool_growth(10, 3600, uploader=BACKOFF_UPLOAD)  # jittered: no single figure


def test_fsync_latency_with_replicas_writes_each_entry_that_many_times():
    one = fsync_latency(samples=5, message_bytes=1024)
    three = fsync_latency(samples=5, message_bytes=1024, replicas=3)
    assert one.samples == three.samples == 5 and three.median > 0
    with pytest.raises(BlobeduError):
        fsync_latency(samples=5, replicas=0)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.integers(0, 3))
def test_a_fair_wal_loses_an_acknowledged_copy_only_when_every_replica_is_lost(specs, seed):
    """Any S3 fault with crashes, full disks and disk losses: a copy is lost only after 3 disk losses
    (one per node) between its 250 and its upload, and never with fewer than 3 in the run."""
    trace = deliver(specs, DeliveryConfig(receiver="wal", spool=FAIR, seed=seed))
    assert trace.fate in ("delivered", "bounced", "lost")
    losses = [e["t"] for e in trace.events if e["what"] == "disk-loss"]
    for copy in trace.accepted:
        if copy["lost_at"] is not None:
            assert sum(1 for t in losses if copy["t"] <= t <= copy["lost_at"]) >= FAIR.replicas, (specs, copy)
    if len(losses) < FAIR.replicas:
        assert trace.fate != "lost" and all(c["lost_at"] is None for c in trace.accepted), specs
