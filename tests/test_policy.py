"""The pure retry machine (blobedu.policy), driven by hand-made replies: no moto, no clock.

Expected steps and texts come from shared/stalwart-facts.md §1 (mod.rs put_blob/get_blob/delete_blob).
"""

from __future__ import annotations

import pytest

from blobedu import policy
from blobedu.policy import Reply, Send, Sleep
from blobedu.versions import behaviour

LOST_WRITE = ("PUT acknowledged with 2xx but object not visibleto read path; "
              "backend may be silently losing writes")  # the missing space is in Stalwart's source
HEAD_FAILED = "HEAD verification failed after PUT"

LATEST = behaviour("0.16.18")
V0_16_1 = behaviour("0.16.1")
V0_15_5 = behaviour("0.15.5")
V0_9_0 = behaviour("0.9.0")


class OutOfReplies(AssertionError):
    pass


def drive(machine, replies):
    """Run ``machine``; answer each Send with the next reply. Returns (steps, outcome)."""
    replies = list(replies)
    steps = []
    step = next(machine)
    try:
        while True:
            steps.append(step)
            if isinstance(step, Send):
                if not replies:
                    raise OutOfReplies(f"machine sent {step} but the test has no reply left; steps {steps}")
                step = machine.send(replies.pop(0))
            else:
                step = machine.send(None)
    except StopIteration as done:
        assert replies == [], f"machine stopped with replies unused: {replies}; steps {steps}"
        return steps, done.value


def S(status):
    return Reply(status=status)


def E(error):
    return Reply(error=error)


def compact(steps):
    """Steps as short strings: 'PUT', 'HEAD', 'sleep 1 backoff', 'sleep 1 transport-retry'."""
    return [s.method if isinstance(s, Send) else f"sleep {s.seconds:g} {s.reason}" for s in steps]


# ---------------------------------------------------------------- which statuses are retried
@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_5xx_is_retried_with_backoff(status):
    steps, out = drive(policy.put(V0_15_5, 3), [S(status), S(status), S(200)])
    assert compact(steps) == ["PUT", "sleep 1 backoff", "PUT", "sleep 2 backoff", "PUT"]
    assert out.ok is True


@pytest.mark.parametrize("status", [429, 403, 408, 400, 404, 409, 499, 600, 301])
@pytest.mark.parametrize("b", [V0_15_5, LATEST], ids=["0.15.5", "0.16.18"])
def test_other_statuses_fail_at_the_first_answer(b, status):
    steps, out = drive(policy.put(b, 3), [S(status)])
    assert compact(steps) == ["PUT"]
    assert out.ok is False
    assert out.error.startswith(f"S3Error (code {status})")


def test_5xx_when_budget_is_spent_is_an_s3_error():
    steps, out = drive(policy.put(V0_15_5, 2), [S(503)] * 3)
    assert compact(steps) == ["PUT", "sleep 1 backoff", "PUT", "sleep 2 backoff", "PUT"]
    assert out.ok is False and out.error.startswith("S3Error (code 503)")


def test_error_carries_the_body():
    _, out = drive(policy.put(V0_15_5, 0), [Reply(status=503, body="SlowDown: Please reduce your request rate.")])
    assert out.error == "S3Error (code 503): SlowDown: Please reduce your request rate."


def test_backoff_caps_at_64_seconds_and_has_no_jitter():
    steps, _ = drive(policy.put(V0_15_5, 12), [S(503)] * 13)
    assert [s.seconds for s in steps if isinstance(s, Sleep)] == [1, 2, 4, 8, 16, 32, 64, 64, 64, 64, 64, 64]


def test_no_retry_version_fails_on_first_5xx():
    steps, out = drive(policy.put(V0_9_0), [S(503)])
    assert compact(steps) == ["PUT"] and out.ok is False


# ---------------------------------------------------------------- transport errors
@pytest.mark.parametrize("error", ["refused", "timeout"])
def test_transport_error_is_immediate_before_0_16(error):
    steps, out = drive(policy.put(V0_15_5, 3), [E(error)])
    assert compact(steps) == ["PUT"]
    assert out.ok is False and out.error.startswith("S3Error")


@pytest.mark.parametrize("error", ["refused", "timeout"])
def test_hidden_transport_retry_from_0_16(error):
    steps, out = drive(policy.put(V0_16_1, 3), [E(error), E(error)])
    assert compact(steps) == ["PUT", "sleep 1 transport-retry", "PUT"]
    assert out.ok is False


def test_hidden_transport_retry_recovers_without_spending_the_budget():
    # refused, then rust-s3's second try gets a 503: Stalwart's loop sees only the 503.
    steps, out = drive(policy.put(V0_16_1, 1), [E("refused"), S(503), S(200)])
    assert compact(steps) == ["PUT", "sleep 1 transport-retry", "PUT", "sleep 1 backoff", "PUT"]
    assert out.ok is True


def test_transport_error_after_5xx_is_still_immediate():
    steps, out = drive(policy.put(V0_15_5, 3), [S(503), E("refused")])
    assert compact(steps) == ["PUT", "sleep 1 backoff", "PUT"]
    assert out.ok is False
    assert "connection refused" in out.error


# ---------------------------------------------------------------- verifyAfterWrite
def test_verify_default_sends_head_after_2xx_put():
    steps, out = drive(policy.put(LATEST), [S(200), S(200)])
    assert compact(steps) == ["PUT", "HEAD"]
    assert out.ok is True


def test_verify_off_sends_no_head():
    steps, out = drive(policy.put(LATEST, verify=False), [S(200)])
    assert compact(steps) == ["PUT"] and out.ok


def test_verify_absent_before_0_16_2_even_if_asked():
    steps, out = drive(policy.put(V0_16_1, verify=True), [S(200)])
    assert compact(steps) == ["PUT"] and out.ok


def test_head_404_with_retries_left_resends_the_put():
    steps, out = drive(policy.put(LATEST, 3), [S(200), S(404), S(200), S(200)])
    assert compact(steps) == ["PUT", "HEAD", "sleep 1 backoff", "PUT", "HEAD"]
    assert out.ok is True


def test_head_retries_share_the_put_budget():
    # maxRetries 3: HEAD 404, PUT 503, HEAD 404 spend the three retries (sleeps 1, 2, 4 s in one
    # sequence); the fourth HEAD 404 has nothing left: the lost-write error.
    replies = [S(200), S(404), S(503), S(200), S(404), S(200), S(404)]
    steps, out = drive(policy.put(LATEST, 3), replies)
    assert compact(steps) == [
        "PUT", "HEAD", "sleep 1 backoff",
        "PUT", "sleep 2 backoff",
        "PUT", "HEAD", "sleep 4 backoff",
        "PUT", "HEAD",
    ]
    assert out.ok is False
    assert out.error.endswith(LOST_WRITE)


def test_head_404_with_no_retries_left_is_the_lost_write_error():
    steps, out = drive(policy.put(LATEST, 1), [S(200), S(404), S(200), S(404)])
    assert compact(steps) == ["PUT", "HEAD", "sleep 1 backoff", "PUT", "HEAD"]
    assert out.ok is False
    assert LOST_WRITE in out.error
    assert "visibleto read path" in out.error  # not "visible to"


def test_lost_write_text_is_byte_exact():
    from blobedu.versions import LOST_WRITE_ERROR

    assert LOST_WRITE_ERROR == LOST_WRITE


def test_head_5xx_with_retries_left_resends_the_put():
    steps, out = drive(policy.put(LATEST, 3), [S(200), S(503), S(200), S(200)])
    assert compact(steps) == ["PUT", "HEAD", "sleep 1 backoff", "PUT", "HEAD"]
    assert out.ok is True


def test_head_5xx_with_no_retries_left_is_head_verification_failed():
    steps, out = drive(policy.put(LATEST, 1), [S(200), S(500), S(200), S(503)])
    assert compact(steps) == ["PUT", "HEAD", "sleep 1 backoff", "PUT", "HEAD"]
    assert out.ok is False
    assert out.error.endswith(HEAD_FAILED)
    assert LOST_WRITE not in out.error


@pytest.mark.parametrize("status", [403, 429, 400])
def test_head_other_status_fails_at_once_even_with_retries_left(status):
    steps, out = drive(policy.put(LATEST, 3), [S(200), S(status)])
    assert compact(steps) == ["PUT", "HEAD"]
    assert out.ok is False and out.error.endswith(HEAD_FAILED)


def test_head_transport_error_is_immediate_after_rust_s3_retry():
    steps, out = drive(policy.put(LATEST, 3), [S(200), E("refused"), E("refused")])
    assert compact(steps) == ["PUT", "HEAD", "sleep 1 transport-retry", "HEAD"]
    assert out.ok is False and "connection refused" in out.error


# ---------------------------------------------------------------- get and delete
def test_get_2xx_is_found():
    steps, out = drive(policy.get(LATEST), [S(200)])
    assert compact(steps) == ["GET"] and out.ok and out.found is True


def test_get_404_is_missing_not_an_error():
    steps, out = drive(policy.get(LATEST, 3), [S(404)])
    assert compact(steps) == ["GET"]
    assert out.ok is True and out.found is False and out.error is None


def test_get_retried_on_5xx():
    steps, out = drive(policy.get(V0_15_5, 3), [S(500), S(503), S(200)])
    assert compact(steps) == ["GET", "sleep 1 backoff", "GET", "sleep 2 backoff", "GET"]
    assert out.ok and out.found


@pytest.mark.parametrize("status", [429, 403])
def test_get_other_status_is_an_error(status):
    steps, out = drive(policy.get(LATEST, 3), [S(status)])
    assert compact(steps) == ["GET"] and out.ok is False


def test_get_transport_error():
    steps, out = drive(policy.get(LATEST, 3), [E("timeout"), E("timeout")])
    assert compact(steps) == ["GET", "sleep 1 transport-retry", "GET"]
    assert out.ok is False


def test_delete_retried_on_5xx():
    steps, out = drive(policy.delete(LATEST, 3), [S(503), S(500), S(204)])
    assert compact(steps) == ["DELETE", "sleep 1 backoff", "DELETE", "sleep 2 backoff", "DELETE"]
    assert out.ok is True and out.found is True


def test_delete_404_is_false_not_an_error():
    _, out = drive(policy.delete(LATEST, 3), [S(404)])
    assert out.ok is True and out.found is False


def test_delete_5xx_budget_spent_is_an_error():
    steps, out = drive(policy.delete(LATEST, 2), [S(503)] * 3)
    assert compact(steps).count("DELETE") == 3
    assert out.ok is False and out.error.startswith("S3Error (code 503)")


def test_delete_not_retried_before_0_10_3():
    steps, out = drive(policy.delete(V0_9_0), [S(503)])
    assert compact(steps) == ["DELETE"] and out.ok is False


# ---------------------------------------------------------------- worst case
def test_worst_case_max_retries_10():
    w = policy.worst_case_seconds(LATEST, 10, 30.0)
    assert w["requests_5xx"] == 11
    assert w["sleep_5xx"] == 319.0
    assert w["slow_5xx"] == 319.0 + 11 * 30.0  # past the sender's 600 s wait for the final dot
    assert w["slow_5xx"] > 600
    assert w["silent_endpoint"] == 30.0 + 1.0 + 30.0


def test_facts1_worst_case_silent_endpoint_hangs_on_connect_only_versions():
    """v0.8.2-v0.15.x bound only the TCP connect: a silent S3 is never timed out (facts §1, revision 2)."""
    assert policy.worst_case_seconds(V0_15_5, 3, 30.0)["silent_endpoint"] == float("inf")
    assert policy.worst_case_seconds(behaviour("0.8.1"), None, 30.0)["silent_endpoint"] == 30.0


def test_facts4_worst_case_with_verify_is_22_slow_requests_plus_319_s():
    """facts §4 item 5: with verifyAfterWrite each round can be a slow PUT plus a slow HEAD."""
    w = policy.worst_case_seconds(LATEST, 10, 30.0)
    assert w["slow_verify"] == 22 * 30 + 319 and 16 * 60 < w["slow_verify"] < 17 * 60
    assert policy.worst_case_seconds(LATEST, 3, 30.0)["slow_verify"] == 8 * 30 + 7  # about 4 min
    assert policy.worst_case_seconds(LATEST, 10, 30.0, verify=False)["slow_verify"] == w["slow_5xx"]
