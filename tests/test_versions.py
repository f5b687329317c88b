"""One test per row of the facts table "Settings and defaults by version" (shared/stalwart-facts.md §1).

Every expected value below is written out from the facts file, not computed by blobedu, so these
tests fail if the version table or the retry loop drifts from what Stalwart does.
"""

from __future__ import annotations

import pytest

from blobedu.errors import BlobeduError
from blobedu.store import StoreConfig
from blobedu.versions import behaviour

# version -> what the facts table says for its row.
#   retries: does the S3 loop retry at all; max_retries: default maxRetries (0 = no retries);
#   sleeps: the backoff waits against a permanent 503 with the default maxRetries;
#   verify: None = the setting does not exist, True/False = its default;
#   transport: rust-s3's hidden transport retry (one more try after 1 s) exists.
ROW_BEFORE_0_10_3 = dict(retries=False, max_retries=0, sleeps=[], verify=None, transport=False)
ROW_0_10_3_TO_0_11_1 = dict(retries=True, max_retries=3, sleeps=[65536.0, 65536.0, 65536.0], verify=None,
                            transport=False)
ROW_0_11_2_TO_0_15 = dict(retries=True, max_retries=3, sleeps=[1.0, 2.0, 4.0], verify=None, transport=False)
ROW_0_16_0_TO_0_16_1 = dict(retries=True, max_retries=3, sleeps=[1.0, 2.0, 4.0], verify=None, transport=True)
ROW_0_16_2_TO_0_16_18 = dict(retries=True, max_retries=3, sleeps=[1.0, 2.0, 4.0], verify=True, transport=True)

ROWS = {
    "0.9.0": ROW_BEFORE_0_10_3,
    "0.10.2": ROW_BEFORE_0_10_3,
    "0.10.3": ROW_0_10_3_TO_0_11_1,
    "0.11.1": ROW_0_10_3_TO_0_11_1,
    "0.11.2": ROW_0_11_2_TO_0_15,
    "0.15.5": ROW_0_11_2_TO_0_15,
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
def test_silent_endpoint_costs_the_whole_timeout(run_put, version):
    row = ROWS[version]
    trace = run_put(version, ["timeout@0"])
    assert trace.outcome == "failed"
    if row["transport"]:
        assert methods(trace) == [("PUT", "timeout"), ("PUT", "timeout")]
        assert trace.elapsed == 30.0 + 1.0 + 30.0
    else:
        assert methods(trace) == [("PUT", "timeout")]
        assert trace.elapsed == 30.0


@pytest.mark.parametrize("version", ["0.11.2", "0.15.5", "0.16.0", "0.16.1", "0.16.2", "0.16.18"])
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
    with pytest.raises(BlobeduError):
        StoreConfig(version="0.9.0", max_retries=3).resolved()


@pytest.mark.parametrize("text", ["0.17.0", "abc", "", "1.0.0", "0.16.19", "0.16.18.1", "0.16.x", "0.0.1"])
def test_unknown_or_malformed_versions_raise(text):
    with pytest.raises(BlobeduError):
        behaviour(text)
    with pytest.raises(BlobeduError):
        StoreConfig(version=text).resolved()


def test_blobedu_error_is_a_value_error():
    with pytest.raises(ValueError):
        behaviour("abc")
