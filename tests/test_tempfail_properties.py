"""Properties of the tempfail flow over random outages (issue 3): nothing is lost, no early 250, no stray copy."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blobedu.delivery import DeliveryConfig, deliver
from blobedu.store import StoreConfig

KINDS = ("503", "500", "refused", "timeout", "429", "lost-write")
TWO_DAYS = 2 * 86400


@st.composite
def outages(draw):
    faults = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(st.integers(0, TWO_DAYS))
        length = draw(st.integers(1, TWO_DAYS))
        faults.append(f"{draw(st.sampled_from(KINDS))}@{start}-{start + length}")
    return faults


@st.composite
def scenarios(draw):
    version = draw(st.sampled_from(["0.15.5", "0.16.1", "0.16.18"]))
    verify = draw(st.sampled_from([None, False, True])) if version == "0.16.18" else None
    config = DeliveryConfig(
        store=StoreConfig(version=version, verify=verify,
                          max_retries=draw(st.sampled_from([None, 1, 10])),
                          latency=draw(st.sampled_from([0, 0, 29]))),
        sender=draw(st.sampled_from(["stalwart", "postfix", "exim", "rfc5321"])),
        data_timeout=draw(st.sampled_from([60, 600])),
    )
    return draw(outages()), config


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_a_message_is_never_lost(scenario):
    faults, config = scenario
    trace = deliver(faults, config)
    assert trace.fate in ("delivered", "bounced")
    if trace.fate == "bounced":
        assert any(d["kind"] == "failed" for d in trace.dsns), "a bounce must tell the author"
    verify_on = config.store.resolved()["verify"]
    if verify_on:
        for session in trace.sessions:
            if (session.receiver_reply or "").startswith("250"):
                assert session.durable_at_reply is True, "a 250 was sent before the blob could be read back"
    if trace.copies > 1:
        late = [s for s in trace.sessions if s.reply == "timeout" and s.receiver_replied_at is not None
                and s.receiver_replied_at - s.t > config.data_timeout]
        assert late, "more than one copy without a receiver slower than the DATA timeout"
