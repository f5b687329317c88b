"""The committed real-MTA transcripts (notebooks/transcripts/*.json) against the model; no root needed.

``tests/test_realmta.py`` (pytest -m mta) records fresh runs of a real Postfix and a real Exim and
checks that these committed files still match them.  Here the committed files are checked against
the model, in virtual time, the way notebooks 03 and 05 show them on Binder.
"""

from __future__ import annotations

import pytest

from blobedu import realmta

NAMES = [s.name for s in realmta.SCENARIOS]


@pytest.mark.parametrize("name", NAMES)
def test_transcript_is_committed_with_its_command(name):
    tr = realmta.load(name)
    assert tr["scenario"] == name
    assert tr["command"] == realmta.RECORD_COMMAND
    assert tr["version"].startswith("Postfix 3.7" if tr["mta"] == "postfix" else "Exim version 4.96")
    assert tr["attempts"] and tr["log"]


@pytest.mark.parametrize("name", [n for n in NAMES if n != "postfix_duplicate"])
def test_model_agrees_with_the_recorded_mta(name):
    tr = realmta.load(name)
    c = realmta.compare(tr)
    table = realmta.compare_table_for(tr)
    assert c["same_count"] and c["same_replies"] and c["same_fate"] and c["same_copies"], table
    assert c["times_within"] and c["steps_within"], table
    if tr["bounce"]:
        assert c["same_bounce_status"], table


def test_recorded_duplicate_is_predicted():
    tr = realmta.load("postfix_duplicate")
    assert tr["copies"] == 2 and tr["attempts"][0]["reply"] == "timeout"
    predicted = realmta.model(realmta.scenario("postfix_duplicate"))
    assert realmta.structure(predicted) == realmta.structure(tr)


def test_show_prints_what_an_admin_reads(capsys):
    realmta.show("postfix_short")
    out = capsys.readouterr().out
    assert "postqueue -j" in out and "status=deferred" in out and "said: 451 4.3.5" in out
    realmta.show("exim_expiry")
    out = capsys.readouterr().out
    assert "exim -bp" in out and "retry timeout exceeded" in out and "Status: 5.0.0" in out


def test_postfix_takes_a_deferred_message_up_to_1s_before_its_time_stamp():
    """A real Postfix 3.7.11 (2s/8s backoff, 2 s queue runs, runs falling on even seconds) tried at
    0, 2.0, 6.1, 14.0 and 22.0 s, each attempt failing 1 s after it started.  The deferral after the
    failure at 1 s stamps the file 3 s, and the 2 s run takes it: qmgr_active.c:202-203 skips only
    ``st_mtime > time(NULL) + 1``.  The model without that second tried at 4, 10, 20 and 30 s."""
    from blobedu import schedules

    s = schedules.postfix(minimal_backoff_time=2, maximal_backoff_time=8, queue_run_delay=2)
    starts, failures = [0.0], [1.0]
    while len(starts) < 5:
        starts.append(s.next_attempt(0, failures))
        failures.append(starts[-1] + 1)
    assert starts == [0, 2, 6, 14, 22]


def test_exim_times_out_a_message_queued_longer_than_the_last_cutoff():
    """A real Exim 4.96 with ``F,12s,2s`` and ``-q2s``: queued at 0, failures at 1, 5, 9 and 13 s; it
    bounced at 13 s ("retry timeout exceeded"), although its first failure was only 12 s before
    (retry.c:756-768: the message has been on the queue longer than the last cutoff)."""
    from blobedu import schedules

    s = schedules.exim("F,12s,2s", queue_interval=2)
    assert s.next_attempt(0, [1, 5, 9]) == 12
    assert s.next_attempt(0, [1, 5, 9, 13]) is None
