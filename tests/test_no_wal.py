"""Evidence that Stalwart's receiver has no WAL: after a 451 nothing is on local disk and no copy is in memory.

Facts §2: the body lives only in the SMTP session's memory until the PUT succeeds; a failed PUT
answers 451 4.3.5 and the sender keeps the message.  These tests check that against the running
code, and run the same probes on the spooling receiver to show that they can fail.

These tests use no pytest fixtures (patches go through ``pytest.MonkeyPatch.context()``), so they
run whether or not tests/conftest.py switches off looptime's plugin.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sys
import sysconfig
import threading
import types
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import blobedu.delivery as delivery
from blobedu.delivery import DeliveryConfig, deliver
from blobedu.receiver import REPLY_TEMPFAIL
from blobedu.sender import SendingMTA, sample_message
from blobedu.store import S3BlobStore

WAL = DeliveryConfig(receiver="wal")
STALWART = DeliveryConfig(receiver="stalwart")


# -- (a) nothing written to local disk ---------------------------------------------------------------
# PEP 578 audit hooks cannot be removed, so one hook is installed the first time it is needed and
# records only while `_audit["on"]` is set, i.e. only during the audited deliver() call.
_audit: dict = {"installed": False, "on": False, "writes": []}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_CHANGING_EVENTS = {"os.rename", "os.remove", "os.rmdir", "os.mkdir", "os.truncate", "os.link", "os.symlink",
                    "os.chmod", "os.chown", "os.utime", "os.mknod", "os.mkfifo", "shutil.rmtree", "shutil.move",
                    "shutil.copyfile", "tempfile.mkstemp", "tempfile.mkdtemp"}
_INSTALL = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                          *sysconfig.get_paths().values()) if p}


def _local(path) -> bool:
    """A path the run may not touch: a real file outside the Python install, /dev and bytecode caches."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        return False  # a file descriptor: opened earlier (pytest's capture files are opened this way)
    real = os.path.realpath(os.fsdecode(path))
    if real == os.devnull or real.startswith("/dev/") or "__pycache__" in real.split(os.sep):
        return False
    return not any(real == p or real.startswith(p + os.sep) for p in _INSTALL)


def _hook(event: str, args: tuple) -> None:
    # only the thread running deliver(): the receiver, sender and store all run on its event loop,
    # and stray threads of earlier tests (moto servers, caches) must not make this test flaky
    if not _audit["on"] or threading.get_ident() != _audit["thread"]:
        return
    if event == "open":
        path, mode, flags = args
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                 (isinstance(flags, int) and flags & _WRITE_FLAGS)
        if writes and _local(path):
            _audit["writes"].append((event, os.fsdecode(path)))
    elif event in _CHANGING_EVENTS and args and _local(args[0]):
        _audit["writes"].append((event, os.fsdecode(args[0])))


@contextlib.contextmanager
def audited_disk():
    """Records every local write, create, rename and delete made inside the ``with`` block."""
    if not _audit["installed"]:
        sys.addaudithook(_hook)
        _audit["installed"] = True
    _audit["writes"] = []
    _audit["thread"] = threading.get_ident()
    _audit["on"] = True
    try:
        yield _audit["writes"]
    finally:
        _audit["on"] = False


def test_the_stalwart_receiver_writes_nothing_to_local_disk_while_it_answers_451():
    deliver(["refused@0-1h"], STALWART)  # warm up: lazy imports happen outside the audit
    with audited_disk() as writes:
        trace = deliver(["refused@0-1h"], STALWART)
    assert [s.reply for s in trace.sessions[:-1]] == [REPLY_TEMPFAIL] * (len(trace.sessions) - 1)
    assert len(trace.sessions) > 1 and trace.fate == "delivered"
    assert writes == []


def test_the_audit_sees_the_spooling_receiver_write():
    deliver(["refused@0-1h"], WAL)
    with audited_disk() as writes:
        trace = deliver(["refused@0-1h"], WAL)
    assert trace.fate == "delivered"
    spool = [(event, path) for event, path in writes if "blobedu-spool-" in path]
    events = {event for event, _ in spool}
    assert {"open", "os.rename", "os.remove"} <= events, writes  # written, renamed into place, deleted


# -- (b) no copy of the body left in the receiver ------------------------------------------------------
def marked_message() -> tuple[bytes, bytes]:
    """A sample message with a marker no other object can contain; returns (message, marker)."""
    marker = f"blobedu-marker-{uuid.uuid4().hex}".encode()
    return sample_message() + b"\n" + marker + b"\n", marker


def _contains(obj, marker: bytes) -> bool:
    if isinstance(obj, (bytes, bytearray)):
        return marker in obj
    if isinstance(obj, str):
        return marker.decode() in obj
    if isinstance(obj, memoryview):
        return marker in obj.tobytes()
    return False


def memory_hits(marker: bytes, mine: list) -> list[str]:
    """Every gc-visible object holding a bytes/str with the marker, except the test's own objects ``mine``."""
    gc.collect()
    ignore = {id(o) for o in mine}
    hits = []
    for owner in gc.get_objects():
        if id(owner) in ignore:
            continue
        for ref in gc.get_referents(owner):
            if id(ref) not in ignore and _contains(ref, marker):
                hits.append(f"{type(owner).__name__} holds {type(ref).__name__}[{len(ref)}]")
    return hits


def receiver_hits(receiver, marker: bytes, mine: list) -> list[str]:
    """Copies of the marked body reachable from the receiver object (its sessions, records, data store).

    The walk stops at the event loop, the clock and the S3 model (S3 is not the receiver's memory,
    and the loop reaches every task, including the sender's), and at modules, classes and functions.
    """
    ignore = {id(o) for o in mine}
    stop = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType, asyncio.AbstractEventLoop,
            S3BlobStore)
    seen, todo, hits = set(), [receiver], []
    while todo:
        obj = todo.pop()
        if id(obj) in seen or id(obj) in ignore:
            continue
        seen.add(id(obj))
        if _contains(obj, marker):
            hits.append(f"{type(obj).__name__}[{len(obj)}]")
        elif not isinstance(obj, stop) and obj is not receiver.clock:
            todo.extend(gc.get_referents(obj))
    return hits


@contextlib.contextmanager
def probe_after_first(prefix: str, check):
    """Runs ``check(receiver)`` in the gap after the sender first sees a reply starting with ``prefix``."""
    made, results = [], []
    make, attempt = delivery._make_receiver, SendingMTA.attempt

    def capture(*args, **kwargs):
        made.append(make(*args, **kwargs))
        return made[-1]

    async def probed(self, message):
        reply = await attempt(self, message)
        if reply.startswith(prefix) and not results:
            results.append(check(made[-1]))
        return reply

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(delivery, "_make_receiver", capture)
        mp.setattr(SendingMTA, "attempt", probed)
        yield results


def test_after_a_451_no_copy_of_the_body_is_left_in_the_receiver():
    message, marker = marked_message()
    mine = [message, marker, marker.decode()]

    def check(receiver):
        return {"receiver": receiver_hits(receiver, marker, mine), "memory": memory_hits(marker, mine),
                "s3": receiver.store.endpoint.keys(), "queue": dict(receiver.data_store["queue"]),
                "accepted": list(receiver.accepted), "holders": receiver.custody.holders_at(receiver.clock.now()),
                "disk": [] if not hasattr(receiver, "spool_dir") else os.listdir(receiver.spool_dir)}

    with probe_after_first("451", check) as results:
        trace = deliver(["refused@0-1h"], STALWART, message=message)
    [seen] = results
    assert trace.sessions[0].reply == REPLY_TEMPFAIL
    assert seen["receiver"] == [] and seen["memory"] == []
    assert seen["s3"] == [] and seen["queue"] == {} and seen["accepted"] == []
    assert seen["holders"] == ["sender queue"]  # the sender is the only holder between attempts
    # the trace says the same: memory held it only during the session, and no spool ever did
    memory = [c for c in trace.custody if c["holder"] == "receiver memory"]
    assert memory[0]["to"] == trace.sessions[0].receiver_replied_at
    assert not any(c["holder"] == "spool" for c in trace.custody)
    assert trace.sessions[0].durable_at_reply is False


def test_the_probes_do_see_a_copy_in_the_receiver_during_the_put():
    message, marker = marked_message()
    mine = [message, marker, marker.decode()]
    seen, made = [], []
    aput, make = S3BlobStore.aput, delivery._make_receiver

    def capture(*args, **kwargs):
        made.append(make(*args, **kwargs))
        return made[-1]

    async def probed(self, data, clock, key=None, on_event=None):
        if not seen:  # inside the session, before the first PUT: the body is in the receiver's memory
            seen.append((receiver_hits(made[-1], marker, mine + [data]), memory_hits(marker, mine + [data])))
        return await aput(self, data, clock, key=key, on_event=on_event)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(delivery, "_make_receiver", capture)
        mp.setattr(S3BlobStore, "aput", probed)
        deliver(["refused@0-1h"], STALWART, message=message)
    [(receiver, memory)] = seen
    assert receiver and memory  # e.g. aiosmtpd's envelope.original_content and content


def test_a_spooling_receiver_keeps_the_body_on_disk_after_its_250():
    message, marker = marked_message()

    def on_disk(receiver):
        return [open(p, "rb").read() for p in receiver.entries()]

    with probe_after_first("250", on_disk) as results:
        trace = deliver(["refused@0-1h"], WAL, message=message)
    [files] = results
    assert len(files) == 1 and marker in files[0]
    assert trace.fate == "delivered"


# -- the property: Stalwart's receiver never loses a message --------------------------------------------
@st.composite
def scenarios(draw):
    """An S3 outage of up to four days plus up to three receiver faults (crash, disk-loss, disk-full)."""
    kind = draw(st.sampled_from(["refused", "503", "500", "timeout", "429", "lost-write"]))
    start = draw(st.sampled_from([0, draw(st.integers(0, 3600))]))
    end = start + draw(st.integers(60, 4 * 86400))
    specs = [f"{kind}@{start}-{end}"]
    for _ in range(draw(st.integers(0, 3))):
        what = draw(st.sampled_from(["crash", "disk-loss", "disk-full"]))
        t = draw(st.integers(0, min(end, 86400) + 600))
        specs.append(f"{what}@{t}-{t + draw(st.integers(60, 3600))}" if what == "disk-full" else f"{what}@{t}")
    return specs


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_no_receiver_fault_or_s3_outage_makes_stalwart_lose_a_message(specs):
    trace = deliver(specs, STALWART)
    assert trace.fate in ("delivered", "bounced")
    assert all(copy["lost_at"] is None for copy in trace.accepted)
    assert not any(c["holder"] == "spool" for c in trace.custody)
    for event in trace.events:
        if event["what"] == "disk-loss":
            assert event["lost"] == 0


def test_a_disk_loss_during_the_outage_costs_stalwart_nothing():
    trace = deliver(["refused@0-1h", "disk-loss@30m"], STALWART)
    assert trace.fate == "delivered"
    assert any(s.reply == REPLY_TEMPFAIL for s in trace.sessions)


def test_byte_counts_read_in_binary_units():
    from blobedu.text import format_bytes

    assert [format_bytes(n) for n in (0, 900, 1024, 38_400, 39_321_600, 393_216_000, 3_932_160_000)] == \
        ["0 B", "900 B", "1 KiB", "37.5 KiB", "37.5 MiB", "375 MiB", "3.66 GiB"]


# -- a fair WAL (#19 item 7): the same faults, the wins without the one-disk risk -------------------------
def test_the_fair_wal_keeps_the_wals_wins_and_survives_one_disk_loss():
    from blobedu.experiments import fate_row
    from blobedu.spool import FAIR

    fair = DeliveryConfig(receiver="wal", spool=FAIR)
    outage = deliver(["refused@0-6h"], fair)
    row = fate_row(outage, 6 * 3600)
    # no 28 h delay: in S3 within the uploader's cap (plus one store loop) of S3's return; one session, no bounce
    assert outage.fate == "delivered" and 6 * 3600 <= outage.delivered_at <= 6 * 3600 + 600 + 60
    assert row["SMTP sessions"] == 1 and row["bounced"] == "no" and row["duplicates"] == 0
    # Stalwart, the same outage: the sender's 1d04h try
    assert deliver(["refused@0-6h"], STALWART).delivered_at > 24 * 3600
    one_loss = deliver(["refused@0-6h", "disk-loss@3h"], fair)
    assert one_loss.fate == "delivered" and all(c["lost_at"] is None for c in one_loss.accepted)
    naive = deliver(["refused@0-6h", "disk-loss@3h"], WAL)
    assert naive.fate == "lost"


def test_no_spool_duplicates_where_stalwart_does():
    from blobedu.experiments import fate_row
    from blobedu.spool import FAIR
    from blobedu.store import StoreConfig

    store = StoreConfig(max_retries=10, latency=29.0)
    rows = {name: fate_row(deliver(["503@0-4m"], DeliveryConfig(store=store, receiver=r, spool=s)), 240)
            for name, r, s in (("stalwart", "stalwart", None), ("wal", "wal", None), ("fair", "wal", FAIR))}
    assert rows["stalwart"]["duplicates"] == 1  # the duplicate-past-final-dot hazard
    assert rows["wal"]["duplicates"] == rows["fair"]["duplicates"] == 0


def test_the_backoff_uploader_makes_about_a_fifth_of_the_upload_attempts():
    """04's prose: the fair WAL's uploader trades a few minutes after S3 is back for about a fifth of the attempts."""
    from blobedu.spool import FAIR

    def attempts(config):
        trace = deliver(["refused@0-6h"], config)
        [queued] = [e for e in trace.events if e["what"] == "queued"]
        return queued["attempts"], trace.delivered_at

    naive, naive_at = attempts(WAL)
    fair, fair_at = attempts(DeliveryConfig(receiver="wal", spool=FAIR))
    assert 0.15 <= fair / naive <= 0.25
    assert naive_at <= fair_at <= 6 * 3600 + FAIR.uploader.cap + 60
