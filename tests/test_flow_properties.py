"""Properties of whole deliveries over random S3 outages (hypothesis).

For any outage (one to three windows of 503, 500, refused, timeout, 429 or lost-write inside the
first two days), any sender (Stalwart, Postfix, Exim, RFC 5321), receiver version (0.15.5, 0.16.1,
0.16.18), verifyAfterWrite setting and DATA timeout (60 s or 600 s):

* the message is never lost: it is delivered, or bounced with a failed DSN to the author;
* with verifyAfterWrite on, no 250 goes out before the blob can be read back from S3;
* a second copy is accepted only when the receiver answered no sooner than the sender's DATA timeout
  (a reply landing exactly on the timeout loses the tie on virtual time);
* the sender retries exactly when its rule says (reference rules from test_schedules.py, written
  from shared/stalwart-facts.md §3), and holds the message until a 250 or its bounce.

Each example is a full virtual-time run with real SMTP sessions (up to ~1 s of wall time), so the
example count is small and there is no deadline.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blobedu.delivery import DeliveryConfig, deliver
from blobedu.sender import sample_message
from blobedu.store import StoreConfig
from test_schedules import D, ref_rule

KINDS = ("503", "500", "refused", "timeout", "429", "lost-write")
TWO_DAYS = 2 * 86400
_MESSAGES = itertools.count(1)


@st.composite
def windows(draw):
    """1 to 3 fault windows inside [0, 2 d], starting and lasting at telling moments more often than not."""
    faults = []
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.one_of(st.sampled_from([0, 0, 30, 300, 3600, 6 * 3600, 86400]),
                               st.integers(0, TWO_DAYS - 1)))
        length = draw(st.one_of(st.sampled_from([60, 600, 3600, 6 * 3600, 86400, TWO_DAYS]),
                                st.integers(1, TWO_DAYS)))
        end = min(start + length, TWO_DAYS)
        faults.append(f"{draw(st.sampled_from(KINDS))}@{start}-{end}")
    return faults


@st.composite
def configs(draw):
    version = draw(st.sampled_from(["0.15.5", "0.16.1", "0.16.18"]))
    verify = draw(st.sampled_from([True, False])) if version == "0.16.18" else None
    sender = draw(st.sampled_from(["stalwart", "postfix", "exim", "rfc5321"]))
    return DeliveryConfig(
        store=StoreConfig(version=version, verify=verify, latency=draw(st.sampled_from([0, 0, 5, 29])),
                          max_retries=draw(st.sampled_from([None, None, 10]))),
        sender=sender,
        sender_version=draw(st.sampled_from([None, "0.12.5", "0.15.5"])) if sender == "stalwart" else None,
        data_timeout=draw(st.sampled_from([60.0, 600.0])),
    )


def run(endpoint, faults, config):
    # one moto bucket for the module; a body no other example used, so no read-back sees another's blob
    message = sample_message(subject=f"property example {next(_MESSAGES)}")
    return deliver(faults, config, message=message, endpoint=endpoint)


def check(trace, config) -> None:
    """Every property of the module docstring, on one trace."""
    sessions = trace.sessions
    timeout = config.data_timeout

    # 1. never lost: delivered, or bounced and the author was told
    assert trace.fate in ("delivered", "bounced")
    if trace.fate == "bounced":
        assert any(d["kind"] == "failed" for d in trace.dsns), "a bounce without a failed DSN"
    for d in trace.dsns:
        assert d["to"] == "author@sender.test"

    # 2. verifyAfterWrite on: every 250 the receiver sent (in time or too late) was for a readable blob
    if config.store.resolved()["verify"]:
        for s in sessions:
            if (s.receiver_reply or "").startswith("250"):
                assert s.durable_at_reply is True, f"250 before the blob was readable at {s.t}"
        assert all(a["durable"] for a in trace.accepted)

    # 3. copies: one per receiver 250; every copy but the one the sender saw came after its DATA timeout
    accepted_sessions = [s for s in sessions if (s.receiver_reply or "").startswith("250")]
    assert trace.copies == len(accepted_sessions)
    seen = [s for s in sessions if s.reply.startswith("250")]
    assert len(seen) <= 1 and (not seen or seen[0] is sessions[-1])
    for s in accepted_sessions:
        if s.reply.startswith("250"):
            continue
        # ">=": on virtual time a reply landing exactly on the timeout loses the tie (the sender's
        # timer fires first), e.g. latency 30 s, PUT + HEAD = 60 s against a 60 s DATA timeout
        assert s.reply == "timeout" and s.receiver_replied_at - s.t >= timeout, \
            f"a copy accepted at {s.receiver_replied_at} without a DATA timeout"
    if trace.copies > 1:
        assert any(s.reply == "timeout" and s.receiver_replied_at is not None
                   and s.receiver_replied_at - s.t >= timeout for s in sessions)

    # 4. the sender's rule: each retry is where the reference puts it, after the previous session ended
    nxt, expire = ref_rule(config.sender, config.sender_version or "0.16.18")
    assert sessions[0].t == 0
    failures: list[float] = []
    for before, after in zip(sessions, sessions[1:]):
        assert not before.reply.startswith("2")
        assert after.t >= before.ended
        if before.reply == "timeout":
            assert before.ended - before.t == timeout
        failures.append(before.ended)
        assert after.t == nxt(0.0, failures), f"retry at {after.t} after failures {failures}"
    sender_bounce = [d for d in trace.dsns if d["kind"] == "failed" and d["origin"] == "sender"]
    if seen:
        assert sender_bounce == []
        end = sessions[-1].ended
    else:
        failures.append(sessions[-1].ended)
        assert nxt(0.0, failures) is None, "the sender stopped while its rule still had a retry"
        end = max(expire, sessions[-1].ended) if expire is not None else sessions[-1].ended
        assert [d["t"] for d in sender_bounce] == [end]
    # ...and it held the message, in its queue, from 0 until the 250 or the bounce
    held = [(c["from"], c["to"]) for c in trace.custody if c["holder"] == "sender queue"]
    assert held == [(0, end)]
    assert end <= 5 * D + 2 * 3600  # nobody keeps trying much past Postfix's 5 d lifetime


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)
@given(faults=windows(), config=configs())
def test_delivery_properties(endpoint, faults, config):
    check(run(endpoint, faults, config), config)


@st.composite
def slow_stores(draw):
    """A slow S3 (requests of 10 s up to just under the timeout) with many retries, failing from t=0:
    the store loop often outlasts a 60 s or 600 s DATA timeout, so duplicates are common."""
    version = draw(st.sampled_from(["0.15.5", "0.16.18"]))
    timeout = draw(st.sampled_from([30.0, 60.0]))
    store = StoreConfig(version=version, timeout=timeout, latency=draw(st.integers(10, int(timeout) - 1)),
                        max_retries=draw(st.sampled_from([3, 10])))
    sender = draw(st.sampled_from(["stalwart", "postfix", "exim", "rfc5321"]))
    config = DeliveryConfig(store=store, sender=sender, data_timeout=draw(st.sampled_from([60.0, 600.0])))
    fault = f"{draw(st.sampled_from(['503', '500', 'timeout']))}@0-{draw(st.integers(60, 3 * 3600))}"
    return [fault], config


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)
@given(scenario=slow_stores())
def test_slow_store_properties(endpoint, scenario):
    faults, config = scenario
    check(run(endpoint, faults, config), config)
