"""Issue #14, panels and links: a panel always shows a result or one clear message; link takes tags and SHAs.

A panel must never raise at a reader nor keep the verdict of an earlier run on screen, and a
value that could run past the 30-day horizon must come back at once as a message.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from blobedu import widgets as W  # noqa: E402
from blobedu.cli import main  # noqa: E402
from blobedu.errors import BlobeduError  # noqa: E402
from blobedu.links import binder_url, nbviewer_url  # noqa: E402
from conftest import cpu_seconds  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HUGE = "1" + "0" * 310


@pytest.fixture(scope="module")
def panel():
    return W.delivery_panel()


def shows_a_message(p, *words: str) -> None:
    """The panel shows one clear message now, not the last result."""
    assert p.error is not None and p.trace is None and p.png is None
    assert p.verdict_text.startswith("⚠ cannot run this: ") and "\n" not in p.verdict_text
    assert bytes(p.output.value) == b"" and p.output.layout.display == "none"  # the message shows once
    for word in words:
        assert word in p.verdict_text, p.verdict_text


def shows_a_result(p) -> None:
    assert p.error is None and p.trace is not None and p.png and not p.verdict_text.startswith("⚠")


def test_a_silent_s3_with_a_200_day_timeout_is_a_message_at_once(panel):
    started = cpu_seconds()
    panel.update(faults="timeout@0", timeout="200d")
    shows_a_message(panel, "horizon of 30 days")
    assert cpu_seconds() - started < 5  # CPU seconds: refused up front, no simulation ran
    panel.update(timeout="29d")  # within the 30d of a duration, but a write could last 16 × 29 days
    shows_a_message(panel, "horizon of 30 days")
    panel.update(faults="503@0-1h", timeout="30s")
    shows_a_result(panel)


@pytest.mark.parametrize("values, words", [
    ({"faults": f"503@{HUGE}"}, ("horizon",)),
    ({"timeout": HUGE}, ("horizon",)),
    ({"data_timeout": HUGE}, ("horizon",)),
    ({"max_retries": 10**400}, ("outside this slider",)),
    ({"max_retries": "١٢"}, ("whole number",)),
    ({"version": "9.9.9"}, ("not a value this control can take",)),
    ({"colour": "red"}, ("unknown control colour",)),
])
def test_update_never_raises_and_never_leaves_a_stale_verdict(panel, values, words):
    panel.update(faults="503@0-1h", timeout="30s", max_retries=3, version="0.16.18", data_timeout="10m")
    shows_a_result(panel)
    panel.update(**values)  # must not raise
    shows_a_message(panel, *words)
    assert "OverflowError" not in panel.verdict_text


def test_a_failure_while_drawing_is_a_message_too(panel, monkeypatch):
    panel.update(faults="503@0-1h", timeout="30s", max_retries=3, version="0.16.18")
    shows_a_result(panel)

    def broken(*_args, **_kwargs):
        raise OverflowError("cannot convert float infinity to integer")

    monkeypatch.setattr(panel, "lanes_of", broken)
    panel.refresh()
    shows_a_message(panel, "too large")


def test_max_retries_as_text_takes_ascii_digits_only():
    with pytest.raises(BlobeduError, match="ASCII"):
        W.scenario_from_values({"max_retries": "１"})
    assert W.scenario_from_values({"max_retries": "5"})[1].store.max_retries == 5


# ---- link -------------------------------------------------------------------------------------------------

def run_link(repo: str, ref: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["link", "03", "--repo", repo, "--ref", ref])
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("repo, ref, says", [
    ("blobedu\n/blobedu", "v0.1.0", "OWNER/NAME"),
    ("blobedu/blobedu\n", "v0.1.0", "OWNER/NAME"),
    ("blobedu/blobedu", "v0.1.0\x01", "not a valid git ref"),
    ("blobedu/blobedu", "v0.1.0\x7f", "not a valid git ref"),
    ("blobedu/blobedu", "v1\n", "not a valid git ref"),
    ("blobedu/blobedu", "@", "not a valid git ref"),
    ("blobedu/blobedu", "feature-x", "looks like a branch"),
    ("blobedu/blobedu", "dev2", "looks like a branch"),
    ("blobedu/blobedu", "stable", "looks like a branch"),
    ("blobedu/blobedu", "café-1.0", "not a valid git ref"),
])
def test_link_refuses(repo, ref, says):
    code, out, err = run_link(repo, ref)
    assert code == 2 and out == "" and err.count("\n") == 1 and says in err, err
    assert "%0A" not in err


@pytest.mark.parametrize("ref", ["v0.1.0", "0.2.0", "v1", "v0.1.0-rc1", "release/v1.0", "2026.11.28", "a874fca",
                                 "a874fca0123456789abcdef0123456789abcdef0"])
def test_link_accepts_what_looks_like_a_tag_or_a_sha(ref):
    code, out, err = run_link("blobedu/blobedu", ref)
    assert code == 0 and err == ""
    assert "%0A" not in out and "\x01" not in out
    assert binder_url("blobedu/blobedu", ref, "03") in out and nbviewer_url("blobedu/blobedu", ref, "03") in out


def test_readme_says_what_link_can_and_cannot_know():
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "`blobedu link` refuses one" not in readme
    assert "accepts only what looks like a tag" in readme and "commit SHA" in readme
    assert "a branch named like a version gets through" in readme
