"""A fuzz test of the command line: random argument lists from the real flags, values good and hostile.

Every run must end with status 0 or 2 after a bounded amount of work (CPU seconds, which a busy
machine does not stretch as it does wall time); status 2 prints exactly one line on
stderr ("blobedu: error: ..."); nothing prints a traceback; ``--json`` prints strict JSON (no
``Infinity``, no ``NaN``).  Most examples call :func:`blobedu.cli.main` in this process (fast); a
few run the real ``blobedu`` command in a subprocess, with an ASCII-only output encoding and with
a reader that closes the pipe at once, where only a real process shows a traceback or a broken pipe.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from blobedu.cli import main
from blobedu.servers import NAMES as RECEIVERS

from conftest import READY_SECONDS, cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
PER_RUN_SECONDS = 30.0  # CPU seconds: a bound on the work of any one run (most use well under 1)

HUGE = "1" + "0" * 310
NON_ASCII = ["١٢", "１２", "1_0", "٣d", "１h", "²"]


def mostly(valid, hostile):
    """Valid values 7 times in 8, so that many runs get past the parser and really run."""
    return st.integers(0, 7).flatmap(lambda n: hostile if n == 7 else valid)


durations = mostly(
    st.one_of(st.sampled_from(["0", "1", "5s", "250ms", "2m", "10m", "1h", "3d", "29d", "30d"]),
              st.integers(0, 10**5).map(str), st.floats(0, 1e4, allow_nan=False).map(lambda f: f"{f:.3f}")),
    st.sampled_from([HUGE, "200d", "31d", "1e9", "-1", "inf", "nan", "", " ", "1.5.h", "abc", "7\n"] + NON_ASCII),
)
numbers = mostly(
    st.integers(0, 12).map(str),
    st.sampled_from([HUGE, "10" * 200, "-1", "-0", "+3", "3.0", "", "1e3", "0x10", "3\n", "30", "100"] + NON_ASCII),
)
versions = mostly(
    st.sampled_from(["0.16.18", "0.16.2", "0.16.1", "0.16.0", "0.15.5", "0.11.2", "0.10.5", "0.10.3", "0.9.0",
                     "0.5.0", "v0.16.2", "0.16"]),
    st.sampled_from(["0.1.0", "0.15.1000", "0.16.19", "0.16.18\n", "x", "９.１", "0.16.18\x00", "1" * 50, ""]),
)
kinds = mostly(
    st.sampled_from(["503", "500", "429", "403", "404", "599", "refused", "timeout", "lost-write", "crash",
                     "disk-loss", "disk-full"]),
    st.sampled_from(["600", "teapot", "", "５０３"]),
)


@st.composite
def faults(draw):
    kind, start = draw(kinds), draw(durations)
    if draw(st.booleans()):
        return f"{kind}@{start}-{draw(durations)}"
    return f"{kind}@{start}"


def _settings_flags(draw) -> list[str]:
    """The four store settings (and --json) that every command takes, advise included."""
    args: list[str] = []
    if draw(st.booleans()):
        args += ["--stalwart", draw(versions)]
    if draw(st.booleans()):
        args += ["--max-retries", draw(numbers)]
    if draw(st.booleans()):
        args += ["--timeout", draw(durations)]
    if draw(st.booleans()):
        args += [draw(st.sampled_from(["--verify", "--no-verify"]))]
    if draw(st.booleans()):
        args += ["--json"]
    return args


def _store_flags(draw) -> list[str]:
    args: list[str] = []
    if draw(st.booleans()):
        args += ["--stalwart", draw(versions)]
    if draw(st.booleans()):
        args += ["--max-retries", draw(numbers)]
    if draw(st.booleans()):
        args += ["--timeout", draw(durations)]
    if draw(st.booleans()):
        args += [draw(st.sampled_from(["--verify", "--no-verify"]))]
    if draw(st.booleans()):
        args += ["--latency", draw(durations)]
    for _ in range(draw(st.integers(0, 3))):
        args += ["--fault", draw(faults())]
    if draw(st.booleans()):
        args += ["--json"]
    return args


@st.composite
def argvs(draw):
    command = draw(st.sampled_from(["put", "put", "get", "deliver", "deliver", "deliver", "link", "bogus",
                                    "advise", "advise", "purge-race", "fleet", "fleet"]))
    args = [command]
    if command in ("put", "get", "deliver", "fleet"):
        args += _store_flags(draw)
    if command == "fleet":
        # a few messages (the fleet's own speed is benchmarks/'), every receiver name and a few hostile ones
        args += ["--messages", draw(mostly(st.integers(1, 40).map(str), st.sampled_from(["0", "-1", "1e3", HUGE])))]
        if draw(st.booleans()):
            args += ["--receiver", draw(mostly(st.sampled_from(RECEIVERS), st.sampled_from(["maildir", "MADDY", ""])))]
        if draw(st.booleans()):
            args += ["--s3-capacity", draw(mostly(st.sampled_from(["1", "50"]), st.sampled_from(["0", "nan", HUGE])))]
    if command in ("advise", "purge-race"):
        # put's four store settings and --json; now and then a flag of put's that advise does not take
        args += _settings_flags(draw)
        if command == "purge-race" or draw(st.integers(0, 7)) == 7:
            args += draw(st.sampled_from([["--latency", "1s"], ["--fault", draw(faults())], []]))
    if command == "purge-race":
        for flag in ("--scan", "--delete"):
            if draw(st.booleans()):
                args += [flag, draw(durations)]
    if command == "get" and draw(st.booleans()):
        args += ["--missing"]
    if command == "deliver" and draw(st.integers(0, 3)) == 3:
        args += ["--sender-fault", draw(faults())]
    if command == "deliver":
        if draw(st.booleans()):
            args += ["--sender", draw(mostly(st.sampled_from(["stalwart", "postfix", "exim", "rfc5321"]),
                                             st.just("sendmail")))]
        if draw(st.booleans()):
            args += ["--sender-version", draw(versions)]
        if draw(st.booleans()):
            args += ["--data-timeout", draw(durations)]
        if draw(st.booleans()):
            # not "wal": its uploader retries every 60 s until the 3-day expiry, each round a real
            # boto3 call (measured 39 s for --fault 503@0); bounded, but too slow for many examples
            args += ["--receiver", draw(mostly(st.sampled_from([n for n in RECEIVERS if n != "wal"]),
                                               st.just("maildir")))]
        if draw(st.booleans()):
            args += ["--queue-quota", draw(numbers)]
    if command == "link":
        args += [draw(st.sampled_from(["03", "00_start_here", "notebooks/05_tuning.ipynb", "99", "", "0３"]))]
        args += ["--repo", draw(st.sampled_from(["blobedu/blobedu", "blobedu\n/blobedu", "o/r.git", "a/b/c", "ö/r"]))]
        args += ["--ref", draw(st.sampled_from(["v0.1.0", "a874fca", "main", "@", "v1\x01", "feature-x",
                                                "release/v1.0", "v1..2", ""]))]
    if draw(st.integers(0, 9)) == 9:  # (hypothesis leans to small integers)
        args.insert(draw(st.integers(1, len(args))), draw(st.sampled_from(["--nope", "-x", "--", "--json=1"])))
    return args


def _reject_constant(name: str):
    raise ValueError(f"not JSON: {name}")


def check(argv: list[str], code: int, out: str, err: str, seconds: float) -> None:
    assert seconds < PER_RUN_SECONDS, (argv, seconds)
    assert code in (0, 2), (argv, code, err)
    assert "Traceback" not in err and "Traceback" not in out, (argv, err)
    if code == 2:
        assert out == "", (argv, out)
        assert err.startswith("blobedu: error: ") and err.endswith("\n") and err.count("\n") == 1, (argv, err)
    else:
        assert err == "", (argv, err)
        if "--json" in argv and argv[0] in ("put", "get", "deliver", "advise", "purge-race", "fleet"):
            data = json.loads(out, parse_constant=_reject_constant)  # strict: no Infinity or NaN
            assert isinstance(data, dict)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(argvs())
def test_cli_in_process(argv):
    out, err = io.StringIO(), io.StringIO()
    started = cpu_seconds()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    check(argv, code, out.getvalue(), err.getvalue(), cpu_seconds() - started)
    event(f"{argv[0]} exit {code}")


def _blobedu(argv: list[str], env_extra: dict, close_stdout: bool = False) -> tuple[int, str, str, float]:
    """The real ``blobedu`` command: exit status, stdout, stderr, and the CPU seconds the process used.

    The wall-clock timeout only stops a process that hangs; it is far above any run on a loaded machine.
    """
    env = dict(os.environ, **env_extra)
    started = cpu_seconds()  # the child's CPU time is added once it has been waited for
    proc = subprocess.Popen([sys.executable, "-m", "blobedu", *argv], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if close_stdout:
        proc.stdout.close()  # like `blobedu put | true`: the reader is gone before anything is written
        out = b""
        err = proc.stderr.read()
        code = proc.wait(timeout=READY_SECONDS)
    else:
        out, err = proc.communicate(timeout=READY_SECONDS)
        code = proc.returncode
    return code, out.decode("ascii", "replace"), err.decode("ascii", "replace"), cpu_seconds() - started


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(argvs())
def test_cli_subprocess_ascii_output(argv):
    assume(not any("\x00" in a for a in argv))  # a real process cannot receive a NUL in its argv
    code, out, err, seconds = _blobedu(argv, {"PYTHONIOENCODING": "ascii"})
    check(argv, code, out, err, seconds)


def test_ascii_output_escapes_the_middle_dot():
    code, out, err, _ = _blobedu(["put"], {"PYTHONIOENCODING": "ascii"})
    assert (code, err) == (0, "")
    assert "\\xb7" in out.splitlines()[0]  # "·", shown escaped instead of a UnicodeEncodeError


def test_ascii_errors_are_one_escaped_line():
    code, out, err, _ = _blobedu(["put", "--stalwart", "０.１٦.18\n"], {"PYTHONIOENCODING": "ascii"})
    assert (code, out) == (2, "") and err.count("\n") == 1 and "Traceback" not in err
    assert "\\uff10" in err  # "０" shown escaped, not a UnicodeEncodeError


def test_a_closed_pipe_is_quiet():
    for argv in (["put"], ["put", "--json"], ["link", "03", "--repo", "o/r", "--ref", "v1.0"]):
        code, _, err, _ = _blobedu(argv, {}, close_stdout=True)
        assert (code, err) == (0, ""), (argv, err)
