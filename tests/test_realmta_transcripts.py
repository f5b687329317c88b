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
    assert c["times_within"], table
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
