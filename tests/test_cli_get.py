"""``blobedu get``: Stalwart's GET loop through the same faults, versions and clocks as ``put``.

The contract (issue #12): the JSON has put's keys (``requests``, ``elapsed``, ``error``) and an
``outcome`` of "found", "not-found" (a 404 is ``None``, not an error: get_blob, mod.rs@v0.16.18:94-135)
or "failed"; bad input exits 2 with one line on stderr.  One test per facts §1/§5 read row.
"""

from __future__ import annotations

import json

import pytest

from blobedu.cli import main


def get_json(capsys, *args):
    assert main(["get", *args, "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return json.loads(out)


def results(d):
    return [(r["t"], r["method"], r["result"]) for r in d["requests"]]


def test_get_json_has_puts_keys_and_found(capsys):
    d = get_json(capsys)
    assert {"requests", "elapsed", "error", "outcome", "sleeps", "config", "faults"} <= set(d)
    assert d["operation"] == "get" and d["outcome"] == "found" and d["error"] is None
    assert results(d) == [(0.0, "GET", 200)]


def test_facts1_get_404_is_not_found_not_an_error(capsys):
    d = get_json(capsys, "--missing")
    assert d["outcome"] == "not-found" and d["error"] is None
    assert results(d) == [(0.0, "GET", 404)]


def test_facts5_reads_pay_the_same_loop_about_7s_on_a_5xx_storm(capsys):
    d = get_json(capsys, "--fault", "503@0")
    assert d["outcome"] == "failed" and d["elapsed"] == 7.0
    assert [r["result"] for r in d["requests"]] == [503] * 4
    assert [s["seconds"] for s in d["sleeps"]] == [1, 2, 4]
    assert d["error"].startswith("S3Error (code 503)")


def test_facts5_reads_refused_cost_about_1s_on_v016(capsys):
    d = get_json(capsys, "--fault", "refused@0")
    assert d["outcome"] == "failed" and d["elapsed"] == 1.0
    assert results(d) == [(0.0, "GET", "refused"), (1.0, "GET", "refused")]  # rust-s3's hidden retry


def test_facts5_reads_silent_s3_cost_61s_on_v016(capsys):
    d = get_json(capsys, "--fault", "timeout@0")
    assert d["outcome"] == "failed" and d["elapsed"] == 61.0


def test_facts5_reads_silent_s3_hang_forever_on_v015(capsys):
    d = get_json(capsys, "--stalwart", "0.15.5", "--fault", "timeout@0")
    assert d["outcome"] == "hung" and d["error"] is None
    assert [r["result"] for r in d["requests"]] == ["hung"]


def test_get_silent_s3_with_an_end_on_v015_fails_when_the_window_ends(capsys):
    d = get_json(capsys, "--stalwart", "0.15.5", "--fault", "timeout@0-10m")
    assert d["outcome"] == "failed" and d["elapsed"] == 600.0


def test_get_429_is_not_retried(capsys):
    d = get_json(capsys, "--fault", "429@0")
    assert d["outcome"] == "failed" and results(d) == [(0.0, "GET", 429)]


def test_get_recovers_inside_the_retries(capsys):
    d = get_json(capsys, "--fault", "500@0-5")
    assert d["outcome"] == "found" and d["elapsed"] == 7.0


def test_get_text_says_what_the_reader_gets(capsys):
    assert main(["get", "--missing"]) == 0
    out = capsys.readouterr().out
    assert "GET    -> 404" in out and "not as an error" in out and "verify" not in out.splitlines()[0]


def test_get_loopback_endpoint(capsys):
    d = get_json(capsys, "--endpoint", "loopback", "--fault", "503@0-2")
    assert d["outcome"] == "found" and [r["result"] for r in d["requests"]] == [503, 503, 200]


BAD = {
    "bad fault kind": ["get", "--fault", "bogus@1"],
    "receiver fault": ["get", "--fault", "crash@30m"],
    "data-store fault": ["get", "--fault", "datastore-down@0"],
    "unknown version": ["get", "--stalwart", "0.17.0"],
    "before S3": ["get", "--stalwart", "0.4.0"],
    "max-retries 11": ["get", "--max-retries", "11"],
    "bad timeout": ["get", "--timeout", "0"],
    "missing takes no value": ["get", "--missing", "yes"],
}


@pytest.mark.parametrize("argv", list(BAD.values()), ids=list(BAD))
def test_get_bad_input_exits_2_with_one_line(capsys, argv):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and err.startswith("blobedu: error: ")
