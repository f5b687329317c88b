"""Every other design in the fleet equals its ``deliver(--receiver NAME)`` run: a fleet of one, case by case.

``tests/test_fleet_equivalence.py`` proves the fleet equal to :func:`blobedu.delivery.deliver` for
Stalwart and the spool.  This file does the same for the designs of :mod:`blobedu.servers` that the
fleet runs (:mod:`blobedu.fleet.designs`): one message arriving at 0, the same faults, the same
sender, the same seed; compared are the sessions (start, the reply the sender saw, with the exact
text of every reply that is not a 250, end; what the receiver answered and when), the copies
accepted (accepted, in the mailbox, lost), the fate, ``delivered_at`` and **how many requests
reached S3** (moto's endpoint counted in ``deliver``, the fleet's request log in the fleet).

The cases are fixed, per design: a clean run, a short outage the design rides out, a 5xx storm
(a bounce at once where the design answers 5xx: maddy), a silent store, a lost write, and a
**late fault** that starts after the first attempt (in the retry loop, in the dequeue or on the
disk after the 250), and a crash in flight.  A random search over the same space (crashes and
shorter final-dot waits included: 600 examples passed once, 100 run each time) follows at the end.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blobedu.delivery import DeliveryConfig, deliver
from blobedu.endpoint import InProcessEndpoint
from blobedu.fleet import Fleet, FleetConfig
from blobedu.fleet.config import FLEET_DESIGNS
from blobedu.sender import sample_message
from blobedu.servers.cyrus import ARCHIVE_MAXSIZE
from blobedu.store import StoreConfig

_MESSAGES = itertools.count(1)


def _message(big: bool = False) -> bytes:
    msg = sample_message(subject=f"fleet designs {next(_MESSAGES)}")
    if big:  # over Cyrus's archive_maxsize: it goes to the object store on append
        msg += (b"x" * 78 + b"\r\n") * (ARCHIVE_MAXSIZE // 80 + 1)
    return msg


@pytest.fixture
def counted(endpoint, monkeypatch):
    """The module's endpoint, emptied, and a count of every request that reaches moto (any endpoint: TMail's too)."""
    for key in endpoint.keys():
        endpoint.send("DELETE", key)
    calls = {"n": 0}
    real = InProcessEndpoint.send

    def send(self, *args, **kw):
        calls["n"] += 1
        return real(self, *args, **kw)

    monkeypatch.setattr(InProcessEndpoint, "send", send)
    return endpoint, calls


def _reply(text):
    return None if text is None else ("250" if text.startswith("250") else text)


def _t(x):
    return None if x is None else round(x, 6)


def from_deliver(trace, requests: int) -> dict:
    return {
        "sessions": [(_t(s.t), _reply(s.reply), _t(s.ended), _reply(s.receiver_reply), _t(s.receiver_replied_at))
                     for s in trace.sessions],
        "copies": sorted((_t(a["t"]), _t(a["mailbox_at"]), _t(a["lost_at"])) for a in trace.accepted),
        "fate": trace.fate,
        "delivered_at": _t(trace.delivered_at),
        "s3_requests": requests,
    }


def from_fleet(fleet, m) -> dict:
    return {
        "sessions": [(_t(s.t), _reply(s.reply), _t(s.ended), _reply(s.receiver_reply), _t(s.receiver_replied_at))
                     for s in m.sessions],
        "copies": sorted((_t(c.t), _t(c.mailbox_at), _t(c.lost_at)) for c in m.copies),
        "fate": m.fate,
        "delivered_at": _t(m.delivered_at),
        "s3_requests": len(fleet.request_times),
    }


def compare(counted, faults, config: DeliveryConfig, big: bool = False) -> dict:
    """Run the scenario both ways; assert they agree; return what they agreed on."""
    endpoint, calls = counted
    for key in endpoint.keys():
        endpoint._client.delete_object(Bucket=endpoint.bucket, Key=key)
    message = _message(big)
    calls["n"] = 0
    real = from_deliver(deliver(faults, config, message=message, endpoint=endpoint), calls["n"])
    fc = FleetConfig(store=config.store, messages=1, over=0.0, senders=((config.sender, 1.0),),
                     receiver=config.receiver, data_timeout=config.data_timeout, seed=config.seed, size=len(message))
    fleet = Fleet(faults, fc)
    fleet.run()
    got = from_fleet(fleet, fleet.messages[0])
    assert _close(got, real), f"faults={faults} config={config}\nfleet:   {got}\ndeliver: {real}"
    return real


def _close(a, b) -> bool:
    """Equal, times to 0.1 ms: looptime keeps its clock in whole microseconds, so after ten jittered waits
    (maddy's retries) deliver's times are up to 10 µs off the fleet's exact floats."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) <= 1e-4
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    return a == b


def cfg(receiver: str, **kw) -> DeliveryConfig:
    store = StoreConfig(latency=kw.pop("latency", 0.0))
    return DeliveryConfig(store=store, receiver=receiver, **kw)


# (design, name) -> (faults, config, big message)
CASES = {
    # maddy: a refused S3 leaves the pipe unread, so minio-go's retries can still take it
    ("maddy", "clean"): ([], cfg("maddy"), False),
    ("maddy", "refused for 1 s: a retry takes it"): (["refused@0-1"], cfg("maddy", seed=3), False),
    ("maddy", "5xx: 554 and the sender bounces at once"): (["503@0-1h"], cfg("maddy", sender="postfix"), False),
    ("maddy", "late 503 in the retry loop after a refusal: 554"): (
        ["refused@0-0.3", "503@0.3-1h"], cfg("maddy", seed=1), False),
    ("maddy", "silent S3: 60 s, then drained retries, 554"): (["timeout@0-1h"], cfg("maddy"), False),
    ("maddy", "lost write: 250 and lost"): (["lost-write@0-1h"], cfg("maddy"), False),
    # James: two blobs at once, full jitter from the seeded rng; the dequeue discards a missing blob
    ("james", "clean"): ([], cfg("james"), False),
    ("james", "5xx for 2 s: the SDK's retries ride it out"): (["500@0-0.15"], cfg("james", seed=7), False),
    ("james", "5xx storm: 451 4.0.0, the sender keeps it"): (["503@0-1h"], cfg("james", sender="exim"), False),
    ("james", "lost write: the dequeue discards it"): (["lost-write@0-1h"], cfg("james"), False),
    ("james", "late fault: the dequeue's read meets 503 and requeues"): (
        ["lost-write@0-0.5", "503@0.5-10m"], cfg("james", latency=0.25), False),
    ("james", "silent S3 with latency: 30 s read timeouts"): (["timeout@0-2m"], cfg("james", latency=0.25), False),
    # TMail: the primary is faulted, the secondary healthy
    ("tmail", "clean"): ([], cfg("tmail"), False),
    ("tmail", "primary refused: 250 on one store, repairs"): (["refused@0-5"], cfg("tmail", seed=2), False),
    ("tmail", "primary 503 for good: repairs dead-letter"): (["503@0-1h"], cfg("tmail"), False),
    ("tmail", "late fault: the repair meets a later 500"): (
        ["refused@0-0.2", "500@0.2-1h"], cfg("tmail", latency=0.25), False),
    ("tmail", "primary loses writes: the secondary keeps it"): (["lost-write@0-1h"], cfg("tmail"), False),
    # Dovecot obox: 5xx retried 4 times, 451 4.2.0 with the stamp
    ("dovecot-obox", "clean"): ([], cfg("dovecot-obox"), False),
    ("dovecot-obox", "5xx for 1 s: the retries ride it out"): (["503@0-1"], cfg("dovecot-obox"), False),
    ("dovecot-obox", "5xx storm: 451 4.2.0 each time, then a bounce from the sender"): (
        ["500@0-2h"], cfg("dovecot-obox", sender="postfix"), False),
    ("dovecot-obox", "late fault: 503 from 60 s meets the second attempt"): (
        ["refused@0-1", "503@60-1h"], cfg("dovecot-obox", sender="stalwart"), False),
    ("dovecot-obox", "silent: 10 s, no retry"): (["timeout@0-20m"], cfg("dovecot-obox"), False),
    ("dovecot-obox", "lost write"): (["lost-write@0-1h"], cfg("dovecot-obox"), False),
    # WildDuck: MongoDB stood in by a bucket; the plugin timer races the insert
    ("wildduck", "clean"): ([], cfg("wildduck"), False),
    ("wildduck", "refused: 30 s server selection loses to the 30 s plugin timer"): (
        ["refused@0-10m"], cfg("wildduck"), False),
    ("wildduck", "silent for 2 min: 450, then the insert lands: a duplicate"): (
        ["timeout@0-2m"], cfg("wildduck"), False),
    ("wildduck", "5xx: retried once, then 450 ERRQ05"): (["503@0-1h"], cfg("wildduck", sender="exim"), False),
    ("wildduck", "late 5xx: the retry after a 5 s answer"): (["503@0-4", "500@4-1h"], cfg("wildduck", latency=5.0), False),
    # Cyrus: the local spool first; over 1 MiB a PUT, whose failure is hidden behind the 250
    ("cyrus", "small: local spool only"): ([], cfg("cyrus"), False),
    ("cyrus", "big, S3 refused: 250, kept on the spool"): (["refused@0-1h"], cfg("cyrus"), True),
    ("cyrus", "big, S3 fine: the local file goes"): ([], cfg("cyrus"), True),
    ("cyrus", "late disk loss after a refused PUT: lost"): (["refused@0-1h", "disk-loss@7200.37"], cfg("cyrus"), True),
    ("cyrus", "5xx on the archive PUT, disk full later"): (["503@0-1h", "disk-full@10-1h"], cfg("cyrus"), True),
    # a crash of the receiver's process: the final dot in flight ends, its session drops, the sender retries
    ("maddy", "crash during the 60 s wait on a silent S3"): (["timeout@0-10m", "crash@30.37"], cfg("maddy"), False),
    ("james", "crash during the SDK's retries"): (["503@0-1h", "crash@0.37"], cfg("james", latency=0.25), False),
    ("tmail", "crash during the saves"): (["timeout@0-1h", "crash@10.37"], cfg("tmail"), False),
    ("dovecot-obox", "crash during the 10 s timeout"): (["timeout@0-1h", "crash@5.37"], cfg("dovecot-obox"), False),
    ("wildduck", "crash while the insert hangs: the insert still lands"): (
        ["timeout@0-2m", "crash@10.37"], cfg("wildduck"), False),
    ("cyrus", "crash during the archive PUT"): (["timeout@0-1h", "crash@10.37"], cfg("cyrus"), True),
    # Postfix: no object store at all; its disk is its risk
    ("postfix-local", "S3 down: nothing changes"): (["503@0-1d"], cfg("postfix-local"), False),
    ("postfix-local", "late disk loss after the 250: lost"): (["disk-loss@3600.37"], cfg("postfix-local"), False),
    ("postfix-local", "disk full: 452, the sender retries"): (["disk-full@0-20m"], cfg("postfix-local", sender="exim"),
                                                             False),
}


@pytest.mark.parametrize("key", list(CASES), ids=[f"{d}: {n}" for d, n in CASES])
def test_a_fleet_of_one_equals_deliver(counted, key):
    faults, config, big = CASES[key]
    compare(counted, faults, config, big)


def test_every_fleet_design_has_cases_with_a_late_fault_and_a_failure():
    designs = {d for d, _ in CASES}
    assert designs == set(FLEET_DESIGNS)
    for d in designs:
        names = [n for dd, n in CASES if dd == d]
        assert any("late" in n for n in names), d


def test_the_cases_show_what_they_name(counted):
    """Not vacuous: the cases reach the behaviours they name (the fates, replies and requests they claim)."""
    got = {key: compare(counted, *CASES[key]) for key in CASES}
    maddy = got[("maddy", "5xx: 554 and the sender bounces at once")]
    assert maddy["fate"] == "bounced" and len(maddy["sessions"]) == 1 and maddy["sessions"][0][1].startswith("554 5.0.0")
    assert maddy["s3_requests"] == 1  # the retries after the body was read never reach S3
    assert got[("maddy", "refused for 1 s: a retry takes it")]["fate"] == "delivered"
    assert got[("maddy", "late 503 in the retry loop after a refusal: 554")]["sessions"][0][1].startswith("554")
    assert got[("maddy", "silent S3: 60 s, then drained retries, 554")]["sessions"][0][2] > 60
    assert got[("maddy", "lost write: 250 and lost")]["fate"] == "lost"
    assert got[("james", "5xx for 2 s: the SDK's retries ride it out")]["fate"] == "delivered"
    storm = got[("james", "5xx storm: 451 4.0.0, the sender keeps it")]
    assert storm["sessions"][0][1] == "451 4.0.0 Error processing message." and storm["fate"] == "delivered"
    assert len(storm["sessions"]) > 1
    assert got[("james", "lost write: the dequeue discards it")]["fate"] == "lost"
    late = got[("james", "late fault: the dequeue's read meets 503 and requeues")]
    assert late["fate"] in ("lost", "delivered") and late["copies"][0][1] != late["copies"][0][0]
    one = got[("tmail", "primary refused: 250 on one store, repairs")]
    assert one["fate"] == "delivered" and one["s3_requests"] > 4
    assert got[("tmail", "primary loses writes: the secondary keeps it")]["fate"] == "delivered"
    obox = got[("dovecot-obox", "5xx storm: 451 4.2.0 each time, then a bounce from the sender")]
    assert obox["sessions"][0][1].startswith("451 4.2.0 <reader@receiver.test> Internal error occurred.")
    assert got[("dovecot-obox", "late fault: 503 from 60 s meets the second attempt")]["sessions"][1][1].startswith("451")
    assert got[("dovecot-obox", "lost write")]["fate"] == "lost"
    wd = got[("wildduck", "refused: 30 s server selection loses to the 30 s plugin timer")]
    assert wd["sessions"][0][1].startswith("450 plugin timeout")
    dup = got[("wildduck", "silent for 2 min: 450, then the insert lands: a duplicate")]
    assert dup["sessions"][0][1].startswith("450 plugin timeout") and len(dup["copies"]) == 2
    assert got[("wildduck", "5xx: retried once, then 450 ERRQ05")]["sessions"][0][1].startswith("450 Failed to queue")
    kept = got[("cyrus", "big, S3 refused: 250, kept on the spool")]
    assert kept["fate"] == "delivered" and kept["sessions"][0][1] == "250" and kept["s3_requests"] == 1
    assert got[("cyrus", "small: local spool only")]["s3_requests"] == 0
    assert got[("cyrus", "late disk loss after a refused PUT: lost")]["fate"] == "lost"
    assert got[("postfix-local", "late disk loss after the 250: lost")]["fate"] == "lost"
    assert got[("postfix-local", "disk full: 452, the sender retries")]["sessions"][0][1].startswith("452 4.3.1")
    assert got[("postfix-local", "S3 down: nothing changes")]["s3_requests"] == 0
    for key in [k for k in CASES if k[1].startswith("crash")]:
        assert got[key]["sessions"][0][1] == "dropped", key
    assert len(got[("wildduck", "crash while the insert hangs: the insert still lands")]["copies"]) == 2


# -- a random search over the same space -------------------------------------------------------------------
@st.composite
def scenarios(draw):
    receiver = draw(st.sampled_from(FLEET_DESIGNS))
    faults = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["503", "500", "refused", "timeout", "403", "lost-write"]))
        start = draw(st.sampled_from([0, 0, 0.3, 2, 45, 600]))
        length = draw(st.sampled_from([0.5, 3, 90, 3600, 6 * 3600]))
        faults.append(f"{kind}@{start}-{start + length}")
    if receiver in ("cyrus", "postfix-local") and draw(st.booleans()):
        faults.append(draw(st.sampled_from(["disk-loss@1800.37", "disk-full@0-900", "disk-full@5-4000"])))
    if draw(st.integers(0, 3)) == 0:  # a crash off the instants anything else happens at (as in the Stalwart proof)
        faults.append(f"crash@{draw(st.sampled_from([0, 3, 10, 45, 400, 3600]))}.37")
    config = DeliveryConfig(store=StoreConfig(latency=draw(st.sampled_from([0.0, 0.25, 5.0]))), receiver=receiver,
                            sender=draw(st.sampled_from(["stalwart", "postfix", "exim"])),
                            data_timeout=draw(st.sampled_from([None, None, 20.0, 60.0])),
                            seed=draw(st.integers(0, 5)))
    return faults, config, receiver == "cyrus" and draw(st.booleans())


@settings(max_examples=100, deadline=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
def test_random_scenarios_agree(counted, scenario):
    faults, config, big = scenario
    compare(counted, faults, config, big)
