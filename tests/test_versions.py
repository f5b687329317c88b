"""One test per row of the facts table "Settings and defaults by version" (shared/stalwart-facts.md §1).

Every expected value below is written out from the facts file, not computed by blobedu, so these
tests fail if the version table or the retry loop drifts from what Stalwart does.
"""

from __future__ import annotations

import pytest

from blobedu.clock import HORIZON_SECONDS
from blobedu.errors import BlobeduError
from blobedu.store import StoreConfig
from blobedu.versions import behaviour

# version -> what the facts table says for its row (revision 2).
#   retries: does the S3 loop retry at all; max_retries: default maxRetries (0 = no retries);
#   sleeps: the backoff waits against a permanent 503 with the default maxRetries;
#   verify: None = the setting does not exist, True/False = its default;
#   transport: rust-s3's hidden transport retry (one more try after 1 s) exists;
#   bounds: what `timeout` bounds ("request": the whole request; "connect": only the TCP connect);
#   queued: the 250 to the final dot (data.rs; "with id" from v0.12.4 on).
FOR_DELIVERY, WITH_ID = "for delivery", "with id"
ROW_0_5_0_TO_0_8_1 = dict(retries=False, max_retries=0, sleeps=[], verify=None, transport=False, bounds="request",
                          queued=FOR_DELIVERY)
ROW_0_8_2_TO_0_10_2 = dict(ROW_0_5_0_TO_0_8_1, bounds="connect")
ROW_0_10_3_TO_0_11_1 = dict(retries=True, max_retries=3, sleeps=[65536.0, 65536.0, 65536.0], verify=None,
                            transport=False, bounds="connect", queued=FOR_DELIVERY)
ROW_0_11_2_TO_0_12_3 = dict(retries=True, max_retries=3, sleeps=[1.0, 2.0, 4.0], verify=None, transport=False,
                            bounds="connect", queued=FOR_DELIVERY)
ROW_0_12_4_TO_0_15 = dict(ROW_0_11_2_TO_0_12_3, queued=WITH_ID)
ROW_0_16_0_TO_0_16_1 = dict(retries=True, max_retries=3, sleeps=[1.0, 2.0, 4.0], verify=None, transport=True,
                            bounds="request", queued=WITH_ID)
ROW_0_16_2_TO_0_16_18 = dict(ROW_0_16_0_TO_0_16_1, verify=True)

ROWS = {
    "0.5.0": ROW_0_5_0_TO_0_8_1,
    "0.8.1": ROW_0_5_0_TO_0_8_1,
    "0.8.2": ROW_0_8_2_TO_0_10_2,
    "0.9.0": ROW_0_8_2_TO_0_10_2,
    "0.10.2": ROW_0_8_2_TO_0_10_2,
    "0.10.3": ROW_0_10_3_TO_0_11_1,
    "0.11.1": ROW_0_10_3_TO_0_11_1,
    "0.11.2": ROW_0_11_2_TO_0_12_3,
    "0.12.3": ROW_0_11_2_TO_0_12_3,
    "0.12.4": ROW_0_12_4_TO_0_15,
    "0.15.5": ROW_0_12_4_TO_0_15,
    "0.16.0": ROW_0_16_0_TO_0_16_1,
    "0.16.1": ROW_0_16_0_TO_0_16_1,
    "0.16.2": ROW_0_16_2_TO_0_16_18,
    "0.16.18": ROW_0_16_2_TO_0_16_18,
}
VERSIONS = list(ROWS)


def methods(trace):
    return [(r.method, r.result) for r in trace.requests]


def sleeps(trace, reason=None):
    return [s.seconds for s in trace.sleeps if reason is None or s.reason == reason]


@pytest.mark.parametrize("version", VERSIONS)
def test_row_settings(version):
    row = ROWS[version]
    b = behaviour(version)
    assert b.retries is row["retries"]
    assert b.default_timeout == 30.0  # 30s (TOML) and 30000 ms (registry) alike
    settings = StoreConfig(version=version).resolved()
    assert settings["max_retries"] == row["max_retries"]
    assert settings["timeout"] == 30.0
    assert settings["verify"] is (row["verify"] is True)
    assert b.verify_supported is (row["verify"] is not None)
    assert (b.transport_retries == 1) is row["transport"]
    if row["transport"]:
        assert b.transport_retry_delay(1) == 1.0  # retry_cnt² with retry_cnt = 1


@pytest.mark.parametrize("version", VERSIONS)
def test_permanent_503_sleep_sequence(run_put, version):
    row = ROWS[version]
    trace = run_put(version, ["503@0"])
    assert trace.outcome == "failed"
    assert sleeps(trace) == row["sleeps"]
    assert all(s.reason == "backoff" for s in trace.sleeps)
    assert methods(trace) == [("PUT", 503)] * (1 + row["max_retries"])
    assert trace.elapsed == sum(row["sleeps"])
    assert trace.durable is False
    assert trace.error.startswith("S3Error (code 503)")


@pytest.mark.parametrize("version", VERSIONS)
def test_verify_after_write(run_put, version):
    row = ROWS[version]
    trace = run_put(version)
    assert trace.outcome == "stored" and trace.durable is True
    if row["verify"]:
        assert methods(trace) == [("PUT", 200), ("HEAD", 200)]
    else:
        assert methods(trace) == [("PUT", 200)]
    if row["verify"] is None:
        with pytest.raises(BlobeduError, match="verifyAfterWrite"):
            StoreConfig(version=version, verify=True).resolved()
    else:
        assert methods(run_put(version, verify=False)) == [("PUT", 200)]


@pytest.mark.parametrize("version", VERSIONS)
def test_refused_and_hidden_transport_retry(run_put, version):
    row = ROWS[version]
    trace = run_put(version, ["refused@0"])
    assert trace.outcome == "failed"
    assert trace.durable is False
    if row["transport"]:
        # rust-s3 0.36+: PUT, sleep 1 s, PUT, then Stalwart's loop fails at once.
        assert methods(trace) == [("PUT", "refused"), ("PUT", "refused")]
        assert [(s.seconds, s.reason) for s in trace.sleeps] == [(1.0, "transport-retry")]
        assert trace.elapsed == 1.0
    else:
        assert methods(trace) == [("PUT", "refused")]
        assert trace.sleeps == []
        assert trace.elapsed == 0.0


@pytest.mark.parametrize("version", VERSIONS)
def test_facts1_timeout_bounds_the_whole_request_or_only_the_connect(run_put, version):
    """facts §1 (revision 2): a whole-request timeout on v0.5.0-v0.8.1 and v0.16.x (reqwest); only the
    TCP connect on v0.8.2-v0.15.x (hyper 0.14 set_connect_timeout), where a silent S3 hangs the request
    until the endpoint resets it (the end of the fault window), and the reset fails at once."""
    row = ROWS[version]
    assert behaviour(version).timeout_bounds == row["bounds"]
    trace = run_put(version, ["timeout@0-10m"])
    assert trace.outcome == "failed"
    if row["bounds"] == "connect":
        assert methods(trace) == [("PUT", "hung")]
        assert trace.requests[0].duration == 600.0 and trace.elapsed == 600.0  # it ran to the reset
        assert "transport error" in trace.error and trace.sleeps == []  # no hidden retry before 0.16
    elif row["transport"]:
        assert methods(trace) == [("PUT", "timeout"), ("PUT", "timeout")]
        assert trace.elapsed == 30.0 + 1.0 + 30.0
    else:
        assert methods(trace) == [("PUT", "timeout")]
        assert trace.elapsed == 30.0


@pytest.mark.parametrize("version", ["0.8.2", "0.10.5", "0.15.5"])
def test_facts1_a_silent_s3_that_never_comes_back_hangs_for_the_rest_of_the_run(run_put, version):
    trace = run_put(version, ["timeout@0"])
    assert trace.outcome == "hung" and trace.error is None and trace.durable is False
    assert methods(trace) == [("PUT", "hung")]
    assert trace.elapsed == HORIZON_SECONDS  # a put on its own runs to the horizon
    assert trace.to_dict()["requests"][0]["result"] == "hung"


@pytest.mark.parametrize("version", ["0.8.2", "0.15.5"])
def test_facts1_connect_only_latency_is_not_cut_at_the_timeout(run_put, version):
    trace = run_put(version, ["503@0-1m"], latency=45)
    assert methods(trace)[0] == ("PUT", 503) and trace.requests[0].duration == 45.0
    assert run_put("0.16.18", [], latency=45).requests[0].result == "timeout"  # reqwest cuts it at 30 s


@pytest.mark.parametrize("version", VERSIONS)
def test_facts2_the_250_text_by_version(version):
    reply = behaviour(version).queued_reply
    if ROWS[version]["queued"] == FOR_DELIVERY:
        assert reply == "250 2.0.0 Message queued for delivery."
    else:
        assert reply == "250 2.0.0 Message queued with id {queue_id:x}."


@pytest.mark.parametrize("version", ["0.4.2", "0.3.0", "0.1.0"])
def test_facts1_no_s3_backend_before_0_5_0(version):
    with pytest.raises(BlobeduError, match="no S3 blob store.*0.5.0"):
        behaviour(version)


@pytest.mark.parametrize("version, hint", [("0.11.5", "0.11.0 to 0.11.8"), ("0.15.1000", "0.15.0 to 0.15.5"),
                                           ("0.16.19", "cover 0.5.0 to 0.16.18")])
def test_versions_that_were_never_released_are_refused(version, hint):
    with pytest.raises(BlobeduError, match=hint):
        behaviour(version)


@pytest.mark.parametrize("version", ["0.10.3", "0.15.5"])
def test_facts1_toml_max_retries_has_no_upper_bound(version):
    """A TOML-era max-retries is a u32 with no bound of its own (mod.rs@v0.10.3:18,68)."""
    assert StoreConfig(version=version, max_retries=1000).resolved()["max_retries"] == 1000
    assert behaviour(version).max_retries_range == (0, 2**32 - 1)


def test_facts1_bug_era_shift_wraps_like_a_release_build():
    """``1 << k`` on a u64 with overflow-checks off (Cargo.toml@v0.10.3) shifts by k & 63."""
    b = behaviour("0.10.5").backoff
    assert b.seconds(0) == 65536.0 and b.seconds(63) == float(1 << 63) and b.seconds(64) == 1.0


@pytest.mark.parametrize("version", ["0.11.2", "0.12.4", "0.15.5", "0.16.0", "0.16.1", "0.16.2", "0.16.18"])
def test_max_retries_10_sleeps_319_seconds_in_11_requests(run_put, version):
    trace = run_put(version, ["503@0"], max_retries=10)
    assert sleeps(trace) == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 64.0, 64.0, 64.0]
    assert sum(sleeps(trace)) == 319.0
    assert len(trace.requests) == 11
    assert trace.elapsed == 319.0


def test_default_max_retries_gives_4_requests_and_7_seconds(run_put):
    trace = run_put("0.16.18", ["503@0"])
    assert len(trace.requests) == 4
    assert sum(sleeps(trace)) == 7.0


@pytest.mark.parametrize("version", ["0.10.3", "0.11.1"])
def test_bug_era_every_retry_sleeps_about_18_hours(run_put, version):
    trace = run_put(version, ["503@0-10"])  # the outage is over long before the first retry
    assert methods(trace) == [("PUT", 503), ("PUT", 200)]
    assert sleeps(trace) == [65536.0]
    assert trace.outcome == "stored"


@pytest.mark.parametrize("version", ["0.16.0", "0.16.18"])
@pytest.mark.parametrize("bad", [0, 11])
def test_registry_max_retries_range_is_1_to_10(version, bad):
    with pytest.raises(BlobeduError, match="max-retries"):
        StoreConfig(version=version, max_retries=bad).resolved()
    for good in (1, 10):
        assert StoreConfig(version=version, max_retries=good).resolved()["max_retries"] == good


def test_no_retry_versions_have_no_max_retries_setting():
    for version in ("0.5.0", "0.9.0"):
        with pytest.raises(BlobeduError):
            StoreConfig(version=version, max_retries=3).resolved()


@pytest.mark.parametrize("text", ["0.17.0", "abc", "", "1.0.0", "0.16.19", "0.16.18.1", "0.16.x", "0.0.1"])
def test_unknown_or_malformed_versions_raise(text):
    with pytest.raises(BlobeduError):
        behaviour(text)
    with pytest.raises(BlobeduError):
        StoreConfig(version=text).resolved()


def test_blobedu_error_is_a_value_error():
    with pytest.raises(ValueError):
        behaviour("abc")


def test_facts1_rev3_rust_s3_0372_from_0165():
    """Cargo.lock@v0.16.5: rust-s3 0.37.2 (0.37.1 up to v0.16.4); what was read, was read in 0.37.1."""
    from blobedu.versions import behaviour

    row = behaviour("0.16.5")
    assert "0.37.2 from v0.16.5" in row.s3_client and "read in 0.37.1" in row.s3_client
    assert "0.37.2" in row.sources["client"] and "@v0.16.4: rust-s3 0.37.1" in row.sources["client"]
    assert behaviour("0.16.1").s3_client.startswith("rust-s3 0.37.1 (")
