"""The outage tolerance (facts §3, revision 3): the last try before expiry, not the expiry, bounds what is delivered."""

import pytest

from blobedu.delivery import DeliveryConfig, deliver
from blobedu.errors import BlobeduError
from blobedu.schedules import HOUR, attempt_times, sender_schedule
from blobedu.tolerance import tolerance


def test_facts3_tolerance_stalwart_016_is_28h_not_3d():
    t = tolerance("stalwart", "0.16.18")
    # the pure schedule with instant failures: 0, 2m, 7m, 17m, 32m, 1h02m, 2h02m, 4h02m, 1d04h02m
    pure = attempt_times(sender_schedule("stalwart", "0.16.18"), horizon=3 * 86400)
    assert [round(x) for x in pure] == [0, 120, 420, 1020, 1920, 3720, 7320, 14520, 100920]
    assert t.attempts == len(pure)
    # each refused attempt costs 1 s (rust-s3's hidden transport retry), so the model drifts 1 s a try
    assert pure[-1] <= t.last_try_at <= pure[-1] + len(pure)
    assert 27 * HOUR < t.longest_outage_delivered < 29 * HOUR
    assert t.bounce_at == 3 * 86400


def test_facts3_tolerance_one_second_more_bounces_at_the_ttl():
    t = tolerance("stalwart")
    longer = deliver([f"refused@0-{t.longest_outage_delivered + 1:g}s"], DeliveryConfig(sender="stalwart"))
    assert longer.fate == "bounced"
    assert min(d["t"] for d in longer.dsns if d["kind"] == "failed") == t.bounce_at
    # a 6 h outage is delivered only at the 1d04h try: about 28 h of delay
    six = deliver(["refused@0-6h"], DeliveryConfig(sender="stalwart"))
    assert six.fate == "delivered" and six.delivered_at == pytest.approx(t.last_try_at, abs=2)


@pytest.mark.parametrize("sender, low, high, bounce", [
    ("postfix", 4.9 * 86400, 432901, 432901),   # its last try fails at 432900 + 1 s, past the 5 d lifetime: bounce
    ("exim", 4 * 86400, 4.3 * 86400, 367201),                 # F,4d,6h at 30-minute queue runs: 4d06h
])
def test_facts3_tolerance_postfix_and_exim(sender, low, high, bounce):
    t = tolerance(sender)
    assert low <= t.longest_outage_delivered <= high
    assert t.bounce_at == bounce
    assert t.delivered_at <= t.bounce_at


def test_facts3_tolerance_older_stalwart_senders_repeat_2h_until_expiry():
    # v0.13-v0.15: 2h repeats until the 3d ttl; v0.5-v0.12: until 5 d (facts §3)
    assert 3 * 86400 - 2 * HOUR <= tolerance("stalwart", "0.15.5").longest_outage_delivered < 3 * 86400
    assert 5 * 86400 - 2 * HOUR <= tolerance("stalwart", "0.12.5").longest_outage_delivered < 5 * 86400


def test_tolerance_version_only_for_stalwart():
    with pytest.raises(BlobeduError):
        tolerance("postfix", "0.16.18")
