"""``blobedu put`` on the command line: text and JSON output, exit status 2 for bad input, the entry point."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from blobedu.cli import main

from conftest import READY_SECONDS

ROOT = Path(__file__).resolve().parent.parent
LOST_WRITE = ("PUT acknowledged with 2xx but object not visibleto read path; "
              "backend may be silently losing writes")


def test_put_503_prints_the_backoff_then_stored(capsys):
    assert main(["put", "--fault", "503@0-5"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    sleeps = [line for line in lines if "sleep" in line]
    assert [re.search(r"sleep (\S+)", line).group(1) for line in sleeps] == ["1s", "2s", "4s"]
    assert all("backoff" in line for line in sleeps)
    requests = [line for line in lines if "->" in line]
    assert [line.split("->")[1].split()[0] for line in requests] == ["503", "503", "503", "200", "200"]
    assert any(line.startswith("stored") for line in lines)
    assert lines.index(sleeps[-1]) < next(i for i, line in enumerate(lines) if line.startswith("stored"))


def test_put_json_is_one_object(capsys):
    assert main(["put", "--fault", "503@0-5", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    d = json.loads(out)  # one object, nothing else on stdout
    assert isinstance(d, dict)
    assert {"outcome", "error", "elapsed", "requests", "durable"} <= set(d)
    assert d["outcome"] == "stored" and d["error"] is None and d["durable"] is True
    assert d["elapsed"] == 7.0
    assert [(r["t"], r["method"], r["result"]) for r in d["requests"]] == [
        (0.0, "PUT", 503), (1.0, "PUT", 503), (3.0, "PUT", 503), (7.0, "PUT", 200), (7.0, "HEAD", 200)]
    for r in d["requests"]:
        assert {"t", "method", "result"} <= set(r)


def test_put_json_max_retries_10(capsys):
    assert main(["put", "--fault", "503@0", "--max-retries", "10", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["outcome"] == "failed" and d["durable"] is False
    assert len(d["requests"]) == 11
    assert d["elapsed"] == 319.0


def test_put_json_lost_write_with_verify(capsys):
    assert main(["put", "--fault", "lost-write@0", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["outcome"] == "failed"
    assert d["error"].endswith(LOST_WRITE)
    assert d["durable"] is False


def test_put_lost_write_no_verify(capsys):
    assert main(["put", "--fault", "lost-write@0", "--no-verify", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["outcome"] == "stored" and d["durable"] is False


def test_put_old_version_refused(capsys):
    assert main(["put", "--stalwart", "0.15.5", "--fault", "refused@0", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [(r["method"], r["result"]) for r in d["requests"]] == [("PUT", "refused")]
    assert d["outcome"] == "failed"


BAD = {
    "bad fault kind": ["put", "--fault", "bogus@1"],
    "bad fault window": ["put", "--fault", "503@5-1"],
    "bad fault duration": ["put", "--fault", "503@x"],
    "receiver fault": ["put", "--fault", "crash@30m"],
    "bad duration": ["put", "--timeout", "5x"],
    "bad latency": ["put", "--latency", "-1"],
    "zero timeout": ["put", "--timeout", "0"],
    "unknown version": ["put", "--stalwart", "0.17.0"],
    "malformed version": ["put", "--stalwart", "abc"],
    "verify on 0.16.1": ["put", "--stalwart", "0.16.1", "--verify"],
    "max-retries 11": ["put", "--stalwart", "0.16.18", "--max-retries", "11"],
    "max-retries 0": ["put", "--max-retries", "0"],
    "max-retries not a number": ["put", "--max-retries", "many"],
    "max-retries on 0.9.0": ["put", "--stalwart", "0.9.0", "--max-retries", "3"],
    "unknown flag": ["put", "--bogus"],
    "verify and no-verify": ["put", "--verify", "--no-verify"],
    "no command": [],
    "unknown command": ["frobnicate"],
}


@pytest.mark.parametrize("argv", list(BAD.values()), ids=list(BAD))
def test_bad_input_exits_2_with_one_line(capsys, argv):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith("\n")
    assert len(err.splitlines()) == 1, err
    assert err.startswith("blobedu: error: ")
    assert "Traceback" not in err


def test_bad_fault_kind_message_names_allowed_kinds(capsys):
    main(["put", "--fault", "bogus@1"])
    err = capsys.readouterr().err
    for kind in ("refused", "timeout", "lost-write", "503", "429"):
        assert kind in err


def _env():
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def _blobedu_command():
    script = Path(sys.executable).parent / "blobedu"
    return [str(script)] if script.exists() else [sys.executable, "-m", "blobedu"]


def test_console_entry_point_runs():
    done = subprocess.run(_blobedu_command() + ["put", "--fault", "503@0-5"], capture_output=True, text=True,
                          cwd=ROOT, env=_env(), timeout=READY_SECONDS)
    assert done.returncode == 0, done.stderr
    assert "sleep 1s" in done.stdout and "sleep 4s" in done.stdout
    assert "stored" in done.stdout


def test_python_dash_m_bad_input_exits_2_without_traceback():
    done = subprocess.run([sys.executable, "-m", "blobedu", "put", "--max-retries", "11"], capture_output=True,
                          text=True, cwd=ROOT, env=_env(), timeout=READY_SECONDS)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert "Traceback" not in done.stderr
