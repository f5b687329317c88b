"""``blobedu advise`` and the reproduction line of every hazard (issue #18)."""

from __future__ import annotations

import contextlib
import io
import json
import math
import shlex

import pytest

from blobedu import hazards
from blobedu.cli import main
from blobedu.versions import RELEASES

ALL = [".".join(map(str, r)) for r in RELEASES]


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def run_json(line: str) -> dict:
    argv = shlex.split(line)
    assert argv[0] == "blobedu"
    code, out, err = run(argv[1:])
    assert code == 0, err
    return json.loads(out)


# Each check reads the --json output of the hazard's reproduce line and says whether it shows the hazard.
def _no_retries(d):
    return d["outcome"] == "failed" and len(d["requests"]) == 1 and d["requests"][0]["result"] == 503 \
        and not d["sleeps"]


def _backoff_18h(d):
    return any(s["seconds"] >= 65536 for s in d["sleeps"])


def _silent_hang(d):
    # one PUT held for the whole hour of silence, far past the 30 s timeout
    return any(r["result"] == "hung" and r["duration"] > d["config"]["timeout"] * 10 for r in d["requests"])


def _lost_write(d):
    return d["outcome"] == "stored" and d["durable"] is False


def _duplicate(d):
    late = [s for s in d["sessions"] if s["reply"] == "timeout" and s["receiver_reply"].startswith("250")]
    return d["copies"] >= 2 and bool(late)


def _short_tolerance(d):
    return d["fate"] == "bounced" and d["delivered_at"] is None


def _dropped_bounce(d):
    return any(x["kind"] == "failed" and x.get("fate_kind") == "dropped" for x in d["dsns"]) \
        and d["author_told"] is False


def _purge_race(d):
    return d["committed"] and not d["readable"] and d["delete_at"] > d["final_put_at"]


def _spool_lost(d):
    # the spool answered 250, then its disk was lost before the upload: nobody has the message, nobody is told
    return d["fate"] == "lost" and d["copies"] >= 1 and d["author_told"] is False


SHOWS = {
    "no-retries": _no_retries,
    "backoff-18h": _backoff_18h,
    "silent-s3-hang": _silent_hang,
    "lost-write-after-250": _lost_write,
    "duplicate-past-final-dot": _duplicate,
    "short-tolerance": _short_tolerance,
    "dropped-bounce": _dropped_bounce,
    "purge-race": _purge_race,
    "spool-lost-with-disk": _spool_lost,
}


def test_every_hazard_has_a_check():
    assert set(SHOWS) == set(hazards.HAZARD_IDS)


@pytest.mark.parametrize("hazard", hazards.HAZARDS, ids=lambda h: h.id)
def test_every_reproduce_line_runs_as_printed_and_shows_its_hazard(hazard):
    assert SHOWS[hazard.id](run_json(hazard.reproduce))


def test_the_short_tolerance_line_is_just_past_the_tolerance():
    """The line's 29 h outage bounces, and an outage ending at the tolerance is delivered."""
    from blobedu.tolerance import tolerance

    t = tolerance("stalwart")
    assert t.longest_outage_delivered < 29 * 3600
    d = run_json(f"blobedu deliver --sender stalwart --fault refused@0-{t.longest_outage_delivered:g}s --json")
    assert d["fate"] == "delivered"


def _check_card(d: dict, version: str) -> None:
    assert d["version"] == version
    assert set(d) >= {"version", "settings", "hazards", "tolerance", "config_keys", "monitor"}
    assert [h["id"] for h in d["hazards"]] == [f.hazard.id for f in hazards.applicable(version)]
    for h in d["hazards"]:
        assert set(h) >= {"id", "title", "versions", "effect", "reproduce", "fix"}
    assert set(d["tolerance"]) == {"stalwart", "postfix", "exim"}
    for t in d["tolerance"].values():
        assert math.isfinite(t["longest_outage_delivered"]) and math.isfinite(t["bounce_at"])
        assert 0 < t["longest_outage_delivered"] <= t["bounce_at"]
    assert any("451 4.3.5" in m["watch"] for m in d["monitor"])


@pytest.mark.parametrize("version", ALL)
def test_advise_follows_the_contract_for_every_release(version):
    code, out, err = run(["advise", "--stalwart", version, "--json"])
    assert code == 0 and err == ""
    _check_card(json.loads(out), version)


def test_the_text_card_for_the_latest_release():
    code, out, _ = run(["advise"])
    assert code == 0
    for part in ("Hazards, worst first:", "Stalwart 0.16.18 sender", "1d04h", "maxRetries = 3",
                 "timeout = 30000 (milliseconds)", "verifyAfterWrite = true", "store.s3-error"):
        assert part in out
    assert len(out.splitlines()) < 45  # a card, not a report


def test_the_card_names_this_versions_keys():
    d = run_json("blobedu advise --stalwart 0.15.5 --max-retries 10 --timeout 5s --json")
    assert d["config_keys"]["max_retries"]["key"] == "store.<id>.max-retries"
    assert d["config_keys"]["timeout"] == {**d["config_keys"]["timeout"], "key": "store.<id>.timeout", "value": "5s"}
    assert d["config_keys"]["verify"]["key"] is None
    assert d["settings"]["given"] == {"max_retries": True, "timeout": True, "verify": False}
    d = run_json("blobedu advise --stalwart 0.16.18 --max-retries 10 --no-verify --json")
    assert d["config_keys"]["timeout"]["value"] == 30000
    ids = [h["id"] for h in d["hazards"]]
    assert ids[0] == "lost-write-after-250" and "duplicate-past-final-dot" in ids
    assert "queue.dsn-queued" in json.dumps(d["monitor"])


def test_the_suggested_limits_hold():
    """The maxRetries and timeout the card suggests do clear the hazards it says they clear."""
    d = run_json("blobedu advise --stalwart 0.16.18 --max-retries 10 --json")
    assert "at most 3 keeps" in d["config_keys"]["max_retries"]["advice"]
    assert "duplicate-past-final-dot" not in [f.hazard.id for f in hazards.applicable("0.16.18", max_retries=3)]
    assert "duplicate-past-final-dot" in [f.hazard.id for f in hazards.applicable("0.16.18", max_retries=4)]
    d = run_json("blobedu advise --json")
    assert "at most 14 s" in d["config_keys"]["timeout"]["advice"]
    assert "purge-race" not in [f.hazard.id for f in hazards.applicable("0.16.18", timeout=14.0)]
    assert "purge-race" in [f.hazard.id for f in hazards.applicable("0.16.18", timeout=15.0)]


def test_a_release_group_shares_its_tolerance():
    """advise computes tolerance once per (version row, queue schedule) group: check that it is the same."""
    from blobedu.advice import _group_release
    from blobedu.tolerance import tolerance

    assert _group_release("0.16.2") == "0.16.18" and _group_release("0.13.0") == "0.15.5"
    assert _group_release("0.12.5") == "0.12.5"
    a, b = tolerance("stalwart", "0.16.2", "0.16.2"), tolerance("stalwart", "0.16.18", "0.16.18")
    assert (a.longest_outage_delivered, a.bounce_at) == (b.longest_outage_delivered, b.bounce_at)


@pytest.mark.parametrize("argv", [
    ["advise", "--stalwart", "0.4.0"], ["advise", "--stalwart", "0.16.19"], ["advise", "--max-retries", "11"],
    ["advise", "--stalwart", "0.9.0", "--max-retries", "3"], ["advise", "--stalwart", "0.15.5", "--verify"],
    ["advise", "--timeout", "0"], ["advise", "--timeout", "31d"], ["advise", "--fault", "503@0"],
    ["advise", "--stalwart", "0.15.5", "--max-retries", "4294967295"],
    ["purge-race", "--scan", "2m", "--delete", "1m"], ["purge-race", "--fault", "crash@1"],
])
def test_bad_input_is_one_line_and_status_2(argv):
    code, out, err = run(argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("blobedu: error: ")
