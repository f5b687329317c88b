"""``blobedu fleet``: the JSON contract, the text summary, and bad input (exit 2, one line, no traceback)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blobedu.cli import main

SERIES = ("t", "sender_backlog", "receiver_memory_bytes", "s3_requests_per_s", "spool_bytes")


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_contract(capsys):
    code, out, err = run_cli(capsys, "fleet", "--messages", "2000", "--fault", "refused@6h-12h", "--json")
    assert code == 0 and err == ""
    data = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert data["messages"] == 2000
    assert set(data["fates"]) == {"delivered", "bounced", "lost", "queued"}
    assert sum(data["fates"].values()) == 2000
    assert data["copies"] >= data["fates"]["delivered"] and data["duplicates"] >= 0
    assert set(data["delay"]) >= {"p50", "p90", "p99", "max"}
    assert data["delay"]["p50"] <= data["delay"]["p90"] <= data["delay"]["p99"] <= data["delay"]["max"]
    assert data["smtp_sessions"] > 2000 and data["s3_requests"] > data["smtp_sessions"]
    lengths = {len(data["series"][name]) for name in SERIES}
    assert len(lengths) == 1 and lengths.pop() >= 200
    assert data["series"]["t"] == sorted(data["series"]["t"])
    assert max(data["series"]["sender_backlog"]) > 0 and max(data["series"]["spool_bytes"]) == 0
    assert data["wall_seconds"] > 0


def test_wal_fills_the_spool_and_capacity_answers_slowdown(capsys):
    code, out, _ = run_cli(capsys, "fleet", "--messages", "500", "--receiver", "wal", "--fault", "refused@1h-3h",
                           "--s3-capacity", "3", "--size", "1000", "--senders", "postfix:1", "--json")
    data = json.loads(out)
    assert code == 0 and max(data["series"]["spool_bytes"]) > 0 and data["s3_slowdowns"] > 0
    assert data["config"]["senders"] == {"postfix": 1.0} and data["config"]["size"] == 1000


def test_text_summary(capsys):
    code, out, _ = run_cli(capsys, "fleet", "--messages", "300", "--fault", "refused@2h-4h")
    assert code == 0
    assert "300 messages: 300 delivered" in out and "drained in" in out


@pytest.mark.parametrize("argv, words", [
    (["--messages", "0"], "--messages"),
    (["--messages", "200001"], "--messages"),
    (["--messages", "1e3"], "--messages"),
    (["--senders", "stalwart:40,qmail:60"], "unknown sender"),
    (["--senders", ""], "NAME:SHARE"),
    (["--senders", "exim:0"], "more than 0"),
    (["--s3-capacity", "0"], "--s3-capacity"),
    (["--s3-capacity", "nan"], "--s3-capacity"),
    (["--s3-capacity", "inf"], "--s3-capacity"),
    (["--size", "-5"], "--size"),
    (["--over", "40d"], "30d"),
    (["--over", "soon"], "--over"),
    (["--receiver", "ram"], "--receiver"),
    (["--fault", "refused@2h-1h"], "END"),
    (["--endpoint", "loopback"], "endpoint"),
    (["--over", "-1h"], "bad duration"),  # was argparse's "expected one argument"
    (["--senders", "stalwart:" + "9" * 400], "finite"),  # shares that sum to infinity
    (["--sending-servers", "-1"], "--sending-servers"),
    (["--max-connections", "0"], "--max-connections"),
    (["--s3-burst", "2h"], "burst"),
    (["--no-verify", "--stalwart", "0.15.5", "--verify"], "not allowed"),
    # the other designs: their own clients' settings, no Stalwart data store, MongoDB has no S3 capacity
    (["--receiver", "maddy", "--max-retries", "3"], "Stalwart's S3 settings"),
    (["--receiver", "james", "--timeout", "10s"], "Stalwart's S3 settings"),
    (["--receiver", "cyrus", "--no-verify"], "Stalwart's S3 settings"),
    (["--receiver", "tmail", "--fault", "datastore-down@0-1h"], "data store"),
    (["--receiver", "wildduck", "--s3-capacity", "5"], "MongoDB"),
    (["--receiver", "MADDY"], "--receiver"),
    (["--receiver", "dovecot"], "--receiver"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, words):
    code, out, err = run_cli(capsys, "fleet", *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("blobedu: error: ") and words in err
    assert "Traceback" not in err


_FLAGS = {
    "--messages": st.one_of(st.integers(-5, 300).map(str), st.text(max_size=6)),
    "--over": st.one_of(st.sampled_from(["0", "1h", "1d", "30d", "31d", "-1h"]), st.text(max_size=6)),
    "--senders": st.one_of(st.sampled_from(["stalwart:1", "postfix:1,exim:2", "rfc5321:3"]), st.text(max_size=12)),
    "--s3-capacity": st.one_of(st.sampled_from(["0.5", "5", "1e9"]), st.text(max_size=6)),
    "--size": st.one_of(st.integers(-2, 10**10).map(str), st.text(max_size=6)),
    "--receiver": st.sampled_from(["stalwart", "wal", "x", "maddy", "james", "tmail", "dovecot-obox", "wildduck",
                                   "cyrus", "postfix-local", "Postfix-local", ""]),
    "--fault": st.one_of(st.sampled_from(["refused@1h-2h", "timeout@0", "crash@1h", "disk-loss@2h", "503@0-10m"]),
                         st.text(max_size=10)),
    "--stalwart": st.sampled_from(["0.15.5", "0.16.18", "0.10.5", "0.4.0", "9.9.9"]),
    "--max-retries": st.one_of(st.integers(-1, 12).map(str), st.text(max_size=4)),
    "--sending-servers": st.one_of(st.sampled_from(["0", "1", "3", "100", "-1"]), st.text(max_size=4)),
    "--max-connections": st.one_of(st.sampled_from(["1", "5", "8192", "0"]), st.text(max_size=4)),
    "--s3-burst": st.one_of(st.sampled_from(["1", "60", "0"]), st.text(max_size=4)),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(flags=st.dictionaries(st.sampled_from(sorted(_FLAGS)), st.just(None), max_size=5).flatmap(
    lambda keys: st.fixed_dictionaries({k: _FLAGS[k] for k in keys})))
def test_any_flags_exit_0_or_2_never_a_traceback(capsys, flags):
    argv = ["fleet", "--json"]
    for name, value in flags.items():
        argv += [f"{name}={value}"]
    if "--messages" not in flags:
        argv += ["--messages", "50"]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own --help/--version paths only
        code = exc.code
    out, err = capsys.readouterr()
    assert code in (0, 2)
    if code == 2:
        assert err.count("\n") == 1 and "Traceback" not in err and out == ""
    else:
        data = json.loads(out)
        assert sum(data["fates"].values()) == data["messages"]


def test_json_gains_the_receivers_sessions_and_the_sending_servers(capsys):
    code, out, _ = run_cli(capsys, "fleet", "--messages", "400", "--stalwart", "0.15.5", "--fault", "timeout@1h-3h",
                           "--max-connections", "50", "--json")
    data = json.loads(out)
    assert code == 0 and data["sending_servers"] == 100
    assert data["sessions_peak"] == 50 and data["sessions_refused"] > 0  # the cap binds; refused ones are deferred
    assert data["fates"]["delivered"] == 400
    assert max(data["series"]["receiver_sessions"]) == 50


def test_an_idle_s3_serves_one_message_at_any_capacity(capsys):
    for capacity in ("1", "0.1"):
        for servers in ("0", "100"):
            code, out, _ = run_cli(capsys, "fleet", "--messages", "1", "--s3-capacity", capacity,
                                   "--sending-servers", servers, "--json")
            data = json.loads(out)
            assert code == 0 and data["fates"]["delivered"] == 1
            assert data["s3_slowdowns"] == 0


def test_a_spool_against_an_endless_outage_is_refused_up_front(capsys):
    """Issue #21's first unbounded run: about 1,000 times the cost per message; refused at once, one line."""
    code, out, err = run_cli(capsys, "fleet", "--messages", "200000", "--receiver", "wal", "--fault", "refused@6h")
    assert code == 2 and out == "" and err.count("\n") == 1 and "refused" in err and "S3 requests" in err


def test_a_run_past_its_step_bound_is_stopped_with_one_line(capsys, monkeypatch):
    """Whatever the estimate misses, the kernel's step bound stops: exit 2, one line, never a long run."""
    import blobedu.fleet.engine as engine

    monkeypatch.setattr(engine, "step_budget", lambda messages: 5 * messages)
    code, out, err = run_cli(capsys, "fleet", "--messages", "300", "--fault", "refused@0-6h", "--s3-capacity", "1")
    assert code == 2 and out == "" and err.count("\n") == 1 and "steps" in err


DESIGNS = ("maddy", "james", "tmail", "dovecot-obox", "wildduck", "cyrus", "postfix-local")


@pytest.mark.parametrize("name", DESIGNS)
def test_every_design_keeps_the_json_contract(capsys, name):
    """``blobedu fleet --receiver NAME`` for the other servers' designs: the same JSON, its fates add up."""
    code, out, err = run_cli(capsys, "fleet", "--receiver", name, "--messages", "300", "--fault", "503@1h-3h",
                             "--fault", "disk-loss@5h", "--json")
    assert code == 0 and err == ""
    data = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert data["config"]["receiver"] == name and sum(data["fates"].values()) == 300
    assert {len(data["series"][k]) for k in SERIES} == {len(data["series"]["t"])}
    if name == "maddy":  # 554 to every message that met the storm: each bounced at once
        assert data["fates"]["bounced"] > 0 and data["fates"]["lost"] == 0
    elif name in ("cyrus", "postfix-local"):  # S3 does not touch them; the disk loss takes what is on the disk
        assert data["fates"]["lost"] > 0 and data["fates"]["bounced"] == 0
    else:  # 4xx (or one healthy store): nobody bounces in a 2-hour storm
        assert data["fates"]["bounced"] == 0 and data["fates"]["delivered"] == 300


def test_help_lists_the_receivers_the_fleet_takes(capsys):
    with pytest.raises(SystemExit):
        main(["fleet", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in ("stalwart", "wal") + DESIGNS:
        assert name.replace("-", "- ") in text or name in text


def test_a_design_the_fleet_refuses_exits_2_with_why(capsys, monkeypatch):
    """The refusal path (empty today: every design runs): one line naming the design and the reason."""
    import blobedu.cli as cli
    import blobedu.fleet.config as config

    monkeypatch.setitem(config.REFUSED, "maddy", "a test reason")
    monkeypatch.setattr(config, "RECEIVERS", tuple(n for n in config.RECEIVERS if n != "maddy"))
    assert cli.FLEET_REFUSED is config.REFUSED
    code, out, err = run_cli(capsys, "fleet", "--receiver", "maddy", "--messages", "1")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "maddy is not in the fleet: a test reason" in err and "blobedu deliver --receiver maddy" in err
