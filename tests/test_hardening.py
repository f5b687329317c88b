"""Issue #14: no hang on any input, no traceback, one line on stderr, strict JSON, one model.

Each test names the input that broke before.  The horizon (``HORIZON_SECONDS``, 30 days) is what
keeps every run bounded: durations past it are refused, settings whose longest S3 write could
outlast it are refused up front, and a virtual run that still reaches it stops there.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from blobedu import clock as clock_module
from blobedu.cli import main
from blobedu.clock import HORIZON_SECONDS, RealClock, VirtualClock, run_virtual
from blobedu.durations import format_duration, parse_duration
from blobedu.errors import BlobeduError
from blobedu.store import S3BlobStore, StoreConfig, longest_operation
from blobedu.versions import behaviour

from conftest import cpu_seconds

HUGE = "1" + "0" * 310


def run(*argv: str) -> tuple[int, str, str, float]:
    """Run the CLI in this process: exit status, stdout, stderr and the CPU seconds it used."""
    out, err = io.StringIO(), io.StringIO()
    started = cpu_seconds()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue(), cpu_seconds() - started


def refused(*argv: str) -> str:
    """Run ``argv``; it must exit 2 at once with one line on stderr. Returns that line."""
    code, out, err, seconds = run(*argv)
    assert code == 2 and out == "", (argv, code, err)
    assert err.startswith("blobedu: error: ") and err.count("\n") == 1 and err.endswith("\n"), err
    assert seconds < 10, seconds  # CPU seconds: refused before any simulation runs
    return err


# ---- the horizon ------------------------------------------------------------------------------------

def test_the_horizon_is_30_days():
    assert HORIZON_SECONDS == 30 * 86400


@pytest.mark.parametrize("argv", [
    ("deliver", "--stalwart", "0.10.5", "--max-retries", "24"),
    ("put", "--stalwart", "0.10.5", "--max-retries", "24", "--fault", "503@0"),
    ("deliver", "--stalwart", "0.10.5", "--max-retries", "100"),
    ("deliver", "--timeout", "200d", "--fault", "timeout@0"),
    ("deliver", "--timeout", "29d", "--fault", "timeout@0"),
])
def test_inputs_that_spun_forever_are_refused_with_the_horizon(argv):
    assert "horizon of 30 days" in refused(*argv)


def test_the_0_10_backoff_bug_is_modelled_up_to_the_horizon():
    """maxRetries 20 sleeps 16 × 65,536 s + 2**16 + ... + 2**19 s = 2,031,616 s (23.5 days): it runs."""
    code, out, err, seconds = run("put", "--stalwart", "0.10.5", "--max-retries", "20", "--fault", "503@0", "--json")
    assert code == 0 and err == ""
    d = json.loads(out)
    assert d["outcome"] == "failed" and len(d["requests"]) == 21
    assert sum(s["seconds"] for s in d["sleeps"]) == 16 * 65536 + 2**16 + 2**17 + 2**18 + 2**19
    assert d["elapsed"] < HORIZON_SECONDS and seconds < 10
    assert "horizon" in refused("put", "--stalwart", "0.10.5", "--max-retries", "21")


def test_no_finish_time_of_ten_to_the_nineteen_days():
    err = refused("put", "--stalwart", "0.10.5", "--max-retries", "100", "--fault", "503@0")
    assert "horizon of 30 days" in err and "backoff" in err


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(version=st.sampled_from(["0.8.1", "0.9.0", "0.10.5", "0.12.3", "0.15.5", "0.16.1", "0.16.18"]),
       retries=st.integers(0, 10), timeout=st.sampled_from([0.5, 30.0, 600.0, 86400.0]),
       latency=st.sampled_from([0.0, 0.2, 29.0, 700.0]),
       kinds=st.lists(st.sampled_from(["503", "500", "timeout", "refused", "lost-write", "429"]), max_size=4),
       gaps=st.lists(st.integers(0, 10**5), min_size=4, max_size=4))
def test_longest_operation_bounds_every_put(endpoint, version, retries, timeout, latency, kinds, gaps):
    """The bound the horizon check uses is a real upper bound on what the model does."""
    b = behaviour(version)
    config = StoreConfig(version=version, max_retries=retries if b.retries else None, timeout=timeout,
                         latency=latency)
    try:
        s = config.check_horizon()
    except BlobeduError:
        event("refused up front")
        return  # refused up front (out of range, or past the horizon)
    specs, t = [], 0
    for kind, gap in zip(kinds, gaps):
        specs.append(f"{kind}@{t}-{t + gap + 1}")
        t += gap + 1
    store = S3BlobStore(config, endpoint, VirtualClock(), specs)
    trace = store.put(f"bound {version} {retries} {timeout} {latency} {specs}".encode())
    bound, _ = longest_operation(b, s["max_retries"], s["timeout"], s["verify"], s["latency"])
    if b.hangs_on_silent_s3:
        # a request hung on a silent S3 lasts until its window ends, and ends the operation
        bound = max(bound, t)
    assert trace.elapsed <= bound + 1e-6
    event(f"ran, {trace.outcome}")


def test_a_virtual_run_stops_at_the_horizon_without_spinning():
    async def forever():
        async def background():
            await asyncio.sleep(10 * HORIZON_SECONDS)

        asyncio.ensure_future(background())  # left running: must be cancelled quietly, not leaked
        await asyncio.sleep(40 * 86400)

    started = cpu_seconds()
    with pytest.raises(BlobeduError, match="horizon of 30 days"):
        run_virtual(forever)
    assert cpu_seconds() - started < 5  # a spinning loop would burn CPU until the horizon, or forever


def test_clocks_refuse_to_pass_the_horizon(monkeypatch):
    clock = VirtualClock()
    clock.sleep(HORIZON_SECONDS - 1)
    with pytest.raises(BlobeduError, match="horizon"):
        clock.sleep(2)
    with pytest.raises(BlobeduError, match="horizon"):
        VirtualClock().spend(float("inf"))

    slept = []  # what RealClock hands to time.sleep: recorded, never waited for
    monkeypatch.setattr(clock_module, "time", SimpleNamespace(monotonic=time.monotonic, sleep=slept.append))
    with pytest.raises(BlobeduError, match="horizon"):
        RealClock().sleep(8.6e12)  # time.sleep would raise OverflowError
    assert slept == []  # refused before waiting at all
    RealClock().sleep(0.25)
    assert slept == [0.25]  # (the record works: a sleep within the horizon does reach time.sleep)


@pytest.mark.parametrize("command", ["put", "deliver"])
def test_help_states_the_horizon(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "blobedu simulates at most 30 days (the horizon)" in text and "at most 30d" in text


# ---- numbers and durations ---------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ("put", "--fault", f"503@0-{HUGE}"),
    ("put", "--timeout", HUGE),
    ("put", "--latency", HUGE),
    ("deliver", "--data-timeout", HUGE),
    ("deliver", "--fault", f"crash@{HUGE}"),
    ("deliver", "--fault", f"disk-full@0-{HUGE}"),
    ("put", "--timeout", "31d"),
])
def test_a_310_digit_duration_is_one_line_not_a_crash(argv):
    assert "horizon" in refused(*argv)


@pytest.mark.parametrize("text", ["١٢", "１２", "1_0", "٣d", "inf", "nan", "1e3", "-1", "7\n"])
def test_durations_take_ascii_digits_only(text):
    with pytest.raises(BlobeduError):
        parse_duration(text)
    refused("put", "--timeout", text)


@pytest.mark.parametrize("flag", ["--max-retries", "--queue-quota"])
@pytest.mark.parametrize("text", ["١٢", "１٢", "1_0", "３", "1e3", "0x10", HUGE])
def test_numbers_take_ascii_digits_only(flag, text):
    command = "deliver"
    assert "ASCII digits" in refused(command, flag, text)


def test_ascii_numbers_still_work():
    assert run("put", "--max-retries", "5", "--fault", "503@0-10")[0] == 0
    assert parse_duration(" 1.5h ") == 5400.0 and parse_duration("250ms") == 0.25


def test_format_duration_of_infinity_does_not_crash():
    assert format_duration(float("inf")) == "forever"


# ---- versions ---------------------------------------------------------------------------------------

def test_a_version_with_a_trailing_newline_is_one_line():
    err = refused("put", "--stalwart", "0.16.18\n")
    assert "'0.16.18\\n'" in err


@pytest.mark.parametrize("version", ["０.１６.１８", "0.١٦.18", "0.16.18\x00"])
def test_versions_take_ascii_digits_only(version):
    refused("put", "--stalwart", version)


def test_a_version_that_was_never_released_is_not_said_to_be_covered():
    err = refused("put", "--stalwart", "0.15.1000")
    assert "never released" in err and "0.15.0 to 0.15.5" in err and "cover" not in err


def test_no_verify_on_a_version_without_verify_is_refused():
    err = refused("put", "--stalwart", "0.16.1", "--no-verify")
    assert "no verifyAfterWrite" in err and "0.16.2" in err
    assert run("put", "--stalwart", "0.16.2", "--no-verify")[0] == 0


# ---- output -----------------------------------------------------------------------------------------

def _strict(text: str):
    def reject(name):
        raise AssertionError(f"not JSON: {name}")
    return json.loads(text, parse_constant=reject)


@pytest.mark.parametrize("argv", [
    ("put", "--json", "--fault", "timeout@0", "--timeout", "1d"),
    ("put", "--json", "--stalwart", "0.10.5", "--max-retries", "20", "--fault", "503@0"),
    ("deliver", "--json", "--fault", "refused@0-30d"),
    ("deliver", "--json", "--fault", "503@29d"),
    ("put", "--json", "--stalwart", "0.15.5", "--fault", "timeout@0"),  # hangs until the horizon
    ("deliver", "--json", "--stalwart", "0.15.5", "--fault", "timeout@0"),
])
def test_json_is_strict(argv):
    code, out, err, _ = run(*argv)
    assert code == 0 and err == ""
    assert isinstance(_strict(out), dict)


def test_error_messages_are_one_line_whatever_the_input():
    from blobedu.cli import one_line

    assert one_line("a\nb\rc\x00d\udcffe·f") == "a\\nb\\rc\\x00d\\udcffe·f"
    err = refused("deliver", "--receiver", "x\ny")
    assert "\\n" in err


# ---- one model, one answer --------------------------------------------------------------------------

def test_a_short_timeout_gives_the_same_answer_on_both_endpoints():
    """On a virtual clock the model decides what times out, not how fast the machine answers."""
    answers = []
    for endpoint in ("in-process", "loopback"):
        code, out, err, _ = run("put", "--endpoint", endpoint, "--timeout", "1ms", "--json")
        assert code == 0 and err == ""
        d = json.loads(out)
        answers.append((d["outcome"], d["durable"], [r["result"] for r in d["requests"]]))
    assert answers[0] == answers[1] == ("stored", True, [200, 200])
