"""Each sending MTA's retry rule, as pure functions (shared/stalwart-facts.md §3).

The expected times are worked out here, by hand or by the small reference rules below, which are
written from the facts file (and, for Exim, from ``src/src/retry.c``), never from
``blobedu.schedules``.  ``test_delivery.py`` imports the same reference rules to predict the
start of every real SMTP session.
"""

from __future__ import annotations

import pytest

from blobedu import schedules
from blobedu.errors import BlobeduError

M, H, D = 60.0, 3600.0, 86400.0

# facts §3, the table of queue schedules
STALWART_016 = (2 * M, 5 * M, 10 * M, 15 * M, 30 * M, H, 2 * H, D, 3 * D)  # last repeats
STALWART_012 = (2 * M, 5 * M, 10 * M, 15 * M, 30 * M, H, 2 * H)  # last repeats (also 0.13 - 0.15)


# -- reference rules (from the facts, not from blobedu) --------------------------------------------------
def ref_intervals_next(intervals, expire, queued, failures):
    """Stalwart / RFC 5321: after the n-th failure wait intervals[n-1] (the last repeats); none at/after expiry."""
    due = failures[-1] + intervals[min(len(failures), len(intervals)) - 1]
    return due if due < queued + expire else None


def ref_postfix_next(queued, failures):
    """Postfix: delay = time in queue clamped to [300, 4000] s, then the next 300 s queue run; 5 d lifetime.

    The queue manager takes the message at a run once its time stamp is at most 1 s ahead
    (``st_mtime > time(NULL) + 1`` is skipped, src/qmgr/qmgr_active.c:202-203@v3.7.11; seen on a
    real Postfix 3.7.11 in tests/test_realmta.py).
    """
    now = failures[-1]
    if now - queued >= 5 * D:
        return None
    due = now + min(max(now - queued, 300.0), 4000.0) - 1
    runs = -(-(due - queued) // 300)  # ceiling division: the first queue run at or after `due`
    return queued + runs * 300.0


def ref_exim_next(queued, failures, gaps, run=30 * M):
    """Exim ``F,2h,15m; G,16h,1h,1.5; F,4d,6h`` timed from the first failure, tried at queue runs.

    As in Exim's ``src/src/retry.c`` (retry_update): the rule in force is the first whose cutoff is not
    passed (``failing_interval <= rule->timeout``); past the last cutoff the address times out and the
    message bounces.  ``gaps`` holds the gap scheduled after each earlier failure: a G rule waits the
    rule's 1h while the last gap was shorter, otherwise the last gap × 1.5
    (``lastgap < p1 ? p1 : lastgap * p2``).  Those are the earliest retry times: the retry happens at
    the first queue run at or after it, every ``run`` seconds from ``queued`` (Debian's exim4 runs
    ``exim -q30m``: ``QUEUEINTERVAL='30m'`` in /etc/init.d/exim4; facts §3); ``run=0`` retries exactly.
    """
    now, elapsed = failures[-1], failures[-1] - failures[0]
    if now - queued > 4 * D:
        return None  # on the queue longer than the last cutoff (src/src/retry.c:756-768@exim-4.96)
    if elapsed <= 2 * H:
        gap = 15 * M
    elif elapsed <= 16 * H:
        last = gaps[-1] if gaps else 0.0
        gap = H if last < H else last * 1.5
    elif elapsed <= 4 * D:
        gap = 6 * H
    else:
        return None
    gaps.append(gap)
    if not run:
        return now + gap
    return queued + -(-(now + gap - queued) // run) * run  # the first queue run at or after now + gap


def ref_rule(sender: str, version: str = "0.16.18"):
    """``(next(queued, failures), expire or None)`` for a sender, from the facts table."""
    if sender == "stalwart":
        parts = tuple(int(x) for x in version.split("."))
        if parts >= (0, 16, 0):
            intervals, expire = STALWART_016, 3 * D
        elif parts >= (0, 13, 0):
            intervals, expire = STALWART_012, 3 * D
        else:
            intervals, expire = STALWART_012, 5 * D
        return (lambda q, f: ref_intervals_next(intervals, expire, q, f)), expire
    if sender == "rfc5321":
        return (lambda q, f: ref_intervals_next((30 * M,), 4 * D, q, f)), 4 * D
    if sender == "postfix":
        return ref_postfix_next, None
    if sender in ("exim", "exim-rule"):
        gaps: list[float] = []
        run = 30 * M if sender == "exim" else 0.0
        return (lambda q, f: ref_exim_next(q, f, gaps, run)), None
    raise ValueError(sender)


def ref_outage(sender: str, version: str = "0.16.18", cost: float = 0.0, queued: float = 0.0):
    """A permanent outage where every attempt fails ``cost`` seconds after it starts.

    Returns ``(session start times, bounce time)``: a schedule with an expiry bounces at it, the others
    bounce on the failure that finds no next attempt.
    """
    nxt, expire = ref_rule(sender, version)
    starts, failures = [], []
    t = queued
    while True:
        starts.append(t)
        failures.append(t + cost)
        t = nxt(queued, failures)
        if t is None:
            bounce = queued + expire if expire is not None else failures[-1]
            return starts, max(bounce, failures[-1])


# -- Stalwart ------------------------------------------------------------------------------------------
def test_stalwart_016_permanent_outage_by_hand():
    s = schedules.stalwart("0.16.18")
    # 0, +2m, +5m, +10m, +15m, +30m, +1h, +2h, +1d; the next (+3d, at 4d04h02m) is past the 3 d ttl
    assert schedules.attempt_times(s, 30 * D) == [0, 120, 420, 1020, 1920, 3720, 7320, 14520, 100920]
    assert s.expires_at(0) == 3 * D and s.expires_at(1000) == 1000 + 3 * D
    assert s.warnings(0) == [D]  # notify 1d, 3d; the 3d one is not before the 3d expiry


@pytest.mark.parametrize("version", ["0.16.0", "0.16.1", "0.16.2", "0.16.18"])
def test_stalwart_016_rows(version):
    s = schedules.stalwart(version)
    assert schedules.attempt_times(s, 30 * D) == ref_outage("stalwart", version)[0]
    # the n-th failure waits the n-th interval, the last (3 d) repeating
    for n, interval in enumerate(STALWART_016[:-1], 1):
        assert s.next_attempt(0, [0.0] * n) == interval
    # the 3 d interval (and its repeats) never comes before the 3 d ttl: the message expires instead
    assert s.next_attempt(0, [0.0] * 9) is None and s.next_attempt(0, [0.0] * 15) is None


@pytest.mark.parametrize("version", ["0.5.0", "0.10.5", "0.12.0", "0.12.5"])
def test_stalwart_up_to_012_repeats_2h_until_5_days(version):
    s = schedules.stalwart(version)
    times = schedules.attempt_times(s, 30 * D)
    assert times[:7] == [0, 120, 420, 1020, 1920, 3720, 7320]
    # then every 2 h while before 5 d: 7320 + 7200 k < 432000, so k = 0 .. 58
    assert times[6:] == [7320 + 7200 * k for k in range(59)]
    assert len(times) == 65 and times == ref_outage("stalwart", version)[0]
    assert s.expires_at(0) == 5 * D and s.warnings(0) == [D, 3 * D]
    assert s.next_attempt(0, [0.0] * 40) == 2 * H  # the last interval repeats


@pytest.mark.parametrize("version", ["0.13.0", "0.14.2", "0.15.5"])
def test_stalwart_013_to_015_expire_at_3_days(version):
    s = schedules.stalwart(version)
    times = schedules.attempt_times(s, 30 * D)
    # 7320 + 7200 k < 259200, so k = 0 .. 34
    assert times == [0, 120, 420, 1020, 1920, 3720] + [7320 + 7200 * k for k in range(35)]
    assert s.expires_at(0) == 3 * D and s.warnings(0) == [D]


@pytest.mark.parametrize("version", ["0.4.9", "0.17.0", "banana"])
def test_stalwart_versions_outside_the_facts_are_refused(version):
    with pytest.raises(BlobeduError):
        schedules.stalwart(version)


# -- Postfix -------------------------------------------------------------------------------------------
def test_postfix_permanent_outage_by_hand():
    s = schedules.postfix()
    times = schedules.attempt_times(s, 30 * D)
    # failure at 0: delay 300 -> run 300; at 300: 300 -> 600; 600 -> 1200; 1200 -> 2400; 2400 -> 4800;
    # at 4800 the delay is clamped to 4000: 8800 -> next run 9000; from there every 4000 s rounded up to
    # the 300 s grid, i.e. every 4200 s; the first failure at or after 5 d (432000) bounces
    assert times[:7] == [0, 300, 600, 1200, 2400, 4800, 9000]
    assert times[5:] == [4800 + 4200 * k for k in range(103)]
    assert times[-1] == 433200 and times[-2] < 5 * D <= times[-1]
    assert s.next_attempt(0, times) is None
    assert s.expires_at(0) is None and s.warnings(0) == []  # delay_warning_time = 0


@pytest.mark.parametrize("queued, failure, expected", [
    (0, 1, 300),            # 1 + 300 = 301: at most 1 s ahead at the 300 s run, taken (qmgr_active.c:202)
    (0, 2, 600),            # 2 + 300 = 302: 2 s ahead at the 300 s run, so the 600 s run
    (0, 601, 1500),         # 601 + 601 = 1202 -> 1500
    (0, 4500, 8700),        # 4500 + 4000 (clamped) = 8500 -> 8700
    (100, 350, 700),        # runs are every 300 s from 100; 350 + 300 = 650 -> 700
    (0, 5 * D - 1, 5 * D - 1 + 4000 + 201),  # still inside the lifetime: one more try (on the grid)
    (0, 5 * D, None),       # at the lifetime: bounce
])
def test_postfix_clamp_and_queue_runs(queued, failure, expected):
    assert schedules.postfix().next_attempt(queued, [queued, failure]) == expected
    assert ref_postfix_next(queued, [queued, failure]) == expected


# -- Exim ----------------------------------------------------------------------------------------------
# The rule alone (queue_interval=0): a retry exactly at the rule's time.
def test_exim_rule_with_one_second_attempts():
    """Every attempt fails 1 s after it starts (a refused S3 on 0.16), as in a real delivery."""
    s = schedules.exim(queue_interval=0)
    failures, starts = [], [0.0]
    while True:
        failures.append(starts[-1] + 1)
        nxt = s.next_attempt(0, failures)
        if nxt is None:
            break
        starts.append(nxt)
    # F,2h,15m: every 901 s while the failure is under 2 h after the first (at 1 s)
    assert starts[:9] == [901 * k for k in range(9)]
    # G,16h,1h,1.5: 1h, 1.5h, 2.25h, 3.375h, 5.0625h, 7.59375h
    g = [7208 + 1]
    for gap in (H, 1.5 * H, 2.25 * H, 3.375 * H, 5.0625 * H, 7.59375 * H):
        g.append(g[-1] + gap + 1)
    assert starts[9:15] == [t - 1 for t in g[1:]]
    # F,4d,6h: every 6 h + 1 s until a failure is 4 d after the first one
    tail = starts[14:]
    assert all(b - a == 6 * H + 1 for a, b in zip(tail, tail[1:]))
    assert failures[-2] - failures[0] <= 4 * D < failures[-1] - failures[0]
    assert starts == ref_outage("exim-rule", cost=1)[0]
    assert len(starts) == 28


def test_exim_times_from_the_first_failure_not_from_queueing():
    s = schedules.exim(queue_interval=0)
    # queued at 0, first failure at 10 h: the F,2h,15m rule still applies 1 h 59 m later
    assert s.next_attempt(0, [10 * H, 10 * H + 7100]) == 10 * H + 7100 + 15 * M
    # and the G rule 2 h 1 s later, starting at its 1 h
    assert s.next_attempt(0, [10 * H, 10 * H + 7201]) == 10 * H + 7201 + H
    assert s.expires_at(0) is None


def test_exim_g_rule_grows_by_half_each_time():
    s = schedules.exim(queue_interval=0)
    failures = [0.0, 2 * H + 1]
    gaps = []
    for _ in range(5):
        nxt = s.next_attempt(0, failures)
        gaps.append(nxt - failures[-1])
        failures.append(nxt)
    assert gaps == [H, 1.5 * H, 2.25 * H, 3.375 * H, 5.0625 * H]


def test_exim_rule_boundary_is_inclusive():
    """Exim picks the rule with ``failing_interval <= rule->timeout`` (src/src/retry.c, retry_update),
    so a failure exactly 2 h after the first is still under ``F,2h,15m`` and is retried 15 min later."""
    failures = [900.0 * k for k in range(9)]  # 0, 15m, ..., exactly 2h
    assert failures[-1] == 2 * H
    assert schedules.exim(queue_interval=0).next_attempt(0, failures) == 2 * H + 15 * M


def test_exim_permanent_outage_with_instant_failures():
    times = schedules.attempt_times(schedules.exim(queue_interval=0), 30 * D)
    # F,2h,15m up to and including the failure at exactly 2 h: 0 .. 8100 s
    assert times[:10] == [900.0 * k for k in range(10)]
    # G,16h,1h,1.5 from 8100 s: +1h, +1.5h, +2.25h, +3.375h, +5.0625h, +7.59375h (55575 s <= 16 h)
    assert times[10:16] == [11700, 17100, 25200, 37350, 55575, 82912.5]
    # F,4d,6h: every 6 h; 342112.5 s is within 4 d, the failure at 363712.5 s is past it and bounces
    assert times[16:] == [82912.5 + 21600 * k for k in range(1, 14)]
    assert times[-1] == 363712.5 and schedules.exim(queue_interval=0).next_attempt(0, times) is None
    assert times == ref_outage("exim-rule")[0]
    assert schedules.exim(queue_interval=0).expires_at(0) is None


# With Debian's queue runner (the default): the rule gives the earliest time, the queue run the real one.
def test_exim_retries_only_at_queue_runs_every_30_minutes_by_default():
    """facts §3 (revision 2): Exim retries only when a queue runner passes; Debian's exim4 starts
    ``exim -bd -q30m`` (QUEUEINTERVAL='30m', /etc/init.d/exim4:38 in exim4-base 4.96-15+deb12u11)."""
    s = schedules.exim()
    assert s.params["queue_interval"] == 30 * M
    times = schedules.attempt_times(s, 30 * D)
    # F,2h,15m asks for +15 min, but nothing runs before the next half hour
    assert times[:6] == [0, 1800, 3600, 5400, 7200, 9000]
    assert all(t % (30 * M) == 0 for t in times)
    assert all(b - a >= 15 * M for a, b in zip(times, times[1:]))
    assert times == ref_outage("exim")[0]
    # every real retry is at or after the rule's own earliest time
    rule = schedules.exim(queue_interval=0)
    for i in range(1, len(times)):
        assert times[i] >= rule.next_attempt(0, times[:i])
    assert "queue run" in s.describe() and "30m" in s.describe()


def test_exim_knobs_rules_queue_interval_final_timeout():
    s = schedules.exim("F,20s,2s", queue_interval=5, final_timeout=3)
    assert s.final_dot_wait == 3 and s.params["rules"] == (("F", 20.0, 2.0),)
    assert schedules.attempt_times(s, 100) == [0, 5, 10, 15, 20, 25]  # the 25 s failure is past 20 s: bounce
    for bad in ("F,2h", "G,16h,1h", "F,2h,15m,1.5", "F,4d,6h; F,2h,15m", "X,1h,1m"):
        with pytest.raises(BlobeduError, match="Exim retry rule"):
            schedules.exim(bad)


# -- RFC 5321 ------------------------------------------------------------------------------------------
def test_rfc5321_minimum():
    s = schedules.rfc5321()
    times = schedules.attempt_times(s, 30 * D)
    # every 30 min while before 4 d: 1800 k < 345600, so k = 0 .. 191; bounce at 4 d
    assert times == [1800.0 * k for k in range(192)]
    assert s.expires_at(0) == 4 * D and s.warnings(0) == []


# -- sender_schedule and attempt_times -----------------------------------------------------------------
def test_sender_schedule_names():
    assert schedules.sender_schedule("stalwart").expires_at(0) == 3 * D
    assert schedules.sender_schedule("stalwart", "0.12.5").expires_at(0) == 5 * D
    assert schedules.sender_schedule("postfix").kind == "postfix"
    assert schedules.sender_schedule("exim").kind == "exim"
    assert schedules.sender_schedule("rfc5321").intervals == (30 * M,)


@pytest.mark.parametrize("sender, version", [("postfix", "0.16.0"), ("exim", "0.12.5"), ("sendmail", None)])
def test_sender_schedule_bad_input(sender, version):
    with pytest.raises(BlobeduError):
        schedules.sender_schedule(sender, version)


def test_attempt_times_stops_at_the_horizon_and_counts_from_queued():
    s = schedules.stalwart("0.16.18")
    assert schedules.attempt_times(s, 1000) == [0, 120, 420]
    assert schedules.attempt_times(s, 10**9, queued=5000) == [5000 + t for t in
                                                              [0, 120, 420, 1020, 1920, 3720, 7320, 14520, 100920]]


@pytest.mark.parametrize("sender, version", [("stalwart", "0.16.18"), ("stalwart", "0.12.5"),
                                             ("stalwart", "0.15.5"), ("postfix", None), ("rfc5321", None),
                                             ("exim", None)])
@pytest.mark.parametrize("cost", [0.0, 1.0, 7.0, 600.0])
def test_next_attempt_matches_the_reference_for_slow_attempts(sender, version, cost):
    """Chains of failures that each take ``cost`` seconds (a store loop, or a 10-min DATA timeout)."""
    s = schedules.sender_schedule(sender, version if sender == "stalwart" else None)
    nxt, _ = ref_rule(sender, version or "0.16.18")
    failures: list[float] = []
    t = 0.0
    while t is not None:
        failures.append(t + cost)
        expected = nxt(0, failures)
        assert s.next_attempt(0, failures) == expected, f"after failures {failures}"
        t = expected


# -- facts §3 revision 2: how long each sender waits for the final-dot reply, and what its bounce says ------
def test_facts3_final_dot_wait_stalwart_5m_postfix_exim_10m_rfc_minimum_10m():
    """A Stalwart sender waits its RCPT timeout (5 min, outbound/session.rs:164 + client.rs:137-148);
    Postfix smtp_data_done_timeout and Exim final_timeout 10 min; RFC 5321's 10 min is a minimum."""
    assert schedules.sender_schedule("stalwart").final_dot_wait == 5 * M
    assert schedules.sender_schedule("stalwart", "0.10.3").final_dot_wait == 5 * M  # the same code at v0.10.3
    assert schedules.sender_schedule("postfix").final_dot_wait == 10 * M
    assert schedules.sender_schedule("exim").final_dot_wait == 10 * M
    assert schedules.sender_schedule("rfc5321").final_dot_wait == 10 * M


@pytest.mark.parametrize("reply, status", [
    ("451 4.3.5 Unable to accept message at this time.", "4.3.5"),
    ("452 4.3.1 Mail system full, try again later.", "4.3.1"),
    # no SMTP reply at all: at expiry the failure is made permanent (into_permanent), and
    # write_dsn_status writes the generic 5.0.0 (queue/dsn.rs:586-595@v0.16.18; facts §3 rev 3)
    ("refused", "5.0.0"), ("timeout", "5.0.0"), ("dropped", "5.0.0"),
])
def test_facts3_stalwart_bounce_status_is_the_last_replys_own(reply, status):
    """queue/dsn.rs:580-600: a Stalwart bounce writes the last response's enhanced code, not 5.4.7."""
    assert schedules.stalwart().bounce_status(reply) == status


@pytest.mark.parametrize("reply", ["refused", "timeout", "dropped"])
def test_facts3_rev3_stalwart_dsn_after_no_reply(reply):
    """Rev 3: no reply -> bounce 5.0.0 with no Diagnostic-Code; only a delay warning says 4.0.0."""
    s = schedules.stalwart()
    assert s.bounce_status(reply) == "5.0.0"
    assert s.delay_status(reply) == "4.0.0"
    assert s.diagnostic(reply) is None and s.diagnostic(reply, expired=True) is None


def test_facts3_rev3_stalwart_diagnostic_code_form():
    """dsn.rs:650-654: ``smtp;`` then the reply code, a space and the text without its enhanced code."""
    s = schedules.stalwart()
    assert s.diagnostic("451 4.3.5 Unable to accept message at this time.", expired=True) == \
        "smtp;451 Unable to accept message at this time."
    assert s.diagnostic("451 4.3.0 Blob not found.") == "smtp;451 Blob not found."
    # Postfix and Exim, as a real 3.7.11 and 4.96 wrote them (notebooks/transcripts/*_expiry.json)
    assert schedules.postfix().diagnostic("451 4.3.5 Unable to accept message at this time.", expired=True) == \
        "smtp; 451 4.3.5 Unable to accept message at this time."
    assert schedules.exim().diagnostic("451 4.3.5 Unable to accept message at this time.", expired=True) == \
        "smtp; 451 4.3.5 Unable to accept message at this time.: retry timeout exceeded"


def test_facts3_rev3_refused_outage_bounce_has_no_diagnostic_code():
    """End to end: a 0.16 Stalwart sender whose last try met a refused connection... gets a 451, since the
    receiver answers; a sender that cannot even connect gets no reply: 5.0.0 and no Diagnostic-Code."""
    from blobedu.sender import make_dsn

    s = schedules.stalwart()
    dsn = make_dsn("failed", 0, "sender.test", s.bounce_status("refused"), s.diagnostic("refused", expired=True))
    assert "Status: 5.0.0" in dsn["text"] and "Diagnostic-Code" not in dsn["text"]
    tempfail = "451 4.3.5 Unable to accept message at this time."
    dsn = make_dsn("failed", 0, "sender.test", s.bounce_status(tempfail), s.diagnostic(tempfail, expired=True))
    assert "Status: 4.3.5" in dsn["text"]
    assert "Diagnostic-Code: smtp;451 Unable to accept message at this time." in dsn["text"]


def test_bounce_status_of_the_other_senders():
    tempfail = "451 4.3.5 Unable to accept message at this time."
    assert schedules.postfix().bounce_status(tempfail) == "4.3.5"  # the defer log's own status
    assert schedules.exim().bounce_status(tempfail) == "5.0.0"  # Exim's generic failed status
    assert schedules.rfc5321().bounce_status(tempfail) == "5.4.7"  # RFC 3463: delivery time expired


def test_postfix_knobs_compress_the_schedule():
    s = schedules.postfix(minimal_backoff_time=2, maximal_backoff_time=8, queue_run_delay=2,
                          maximal_queue_lifetime=60, smtp_data_done_timeout=3)
    assert s.final_dot_wait == 3
    times = schedules.attempt_times(s, 1000)
    assert times[:6] == [0, 2, 4, 8, 16, 24]  # delay = age clamped to [2, 8], then the next 2 s queue run
    assert times[-2] < 60 <= times[-1]  # the first failure at or past the lifetime bounces
    with pytest.raises(BlobeduError, match="maximal_backoff_time"):
        schedules.postfix(minimal_backoff_time=10, maximal_backoff_time=5)
    with pytest.raises(BlobeduError, match="smtp_data_done_timeout"):
        schedules.postfix(smtp_data_done_timeout=0)
