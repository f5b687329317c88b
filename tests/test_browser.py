"""Every notebook, run in JupyterLab in a real browser (headless Debian Chromium driven by Playwright).

For each ``notebooks/*.ipynb``: open it in JupyterLab, Run > Run All Cells, wait for the kernel to go
idle, and check that no cell (and no widget Output area) shows an error. In every notebook with a
panel (00-08) a reader is also simulated: one widget, found by its description label, is moved
and the plot (the image's ``src``) and the verdict text must both change.

Then the redraw is timed (:data:`REDRAWS`): 10 moves of one control of every panel (00-08), each from the change
in the page to the new figure's ``src`` in the page; the delivery panel of 00 also after its faults
box is set to a 1-day outage. The median and 90th percentile go to ``test-artifacts/redraw/<notebook>.json``,
and ``benchmarks/redraw.py`` prints them. This is a benchmark, not a timed assertion: only that
each move redrew is checked.

Screenshots go to ``test-artifacts/browser/`` (git-ignored): ``NAME-ran-top.png`` and ``NAME-ran-end.png`` after running,
``NAME-widget-before.png`` / ``NAME-widget-after.png`` around the widget move, ``NAME-failed.png``
when something went wrong. The browser may only talk to 127.0.0.1; anything else is blocked and
fails the test.

Needs ``/usr/bin/chromium`` (Debian's ``chromium`` package) and the ``playwright`` Python package
(never ``playwright install``: the test uses the system Chromium). Without them the test fails when
``CI`` is set and is skipped otherwise. Run just these with ``pytest -m browser``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from browser_support import (CHROMIUM, CHROMIUM_ARGS, JupyterLab, NotebookPage, artifact_dir, notebook_dir,
                             notebook_paths, require_chromium)
from conftest import READY_SECONDS

pytestmark = pytest.mark.browser

NOTEBOOKS = notebook_paths()

# Notebooks where a reader moves a widget: its description label, in order of preference.
WIDGET_NOTEBOOKS = {
    "00_": ("sender", "maxRetries", "Stalwart"),
    "01_": ("maxRetries", "Stalwart"),
    "02_": ("verifyAfterWrite", "Stalwart"),
    "03_": ("sender", "maxRetries", "Stalwart"),
    "04_": ("case", "sender"),
    "05_": ("maxRetries", "sender"),
    "06_": ("fault", "operation", "Stalwart"),
    "07_": ("outage", "receiver", "Stalwart"),
    "08_": ("bottom", "top", "sender"),
}

# The redraw benchmark: per notebook, (name, (text box, text) to type first or None, control, the 10 moves).
# Sliders step down and up; the 04 case menu
# cycles through its presets (not "custom", which changes nothing); 02's verify menu is on/off.
_SLIDE = ["ArrowLeft", "ArrowRight"] * 5
REDRAWS = {
    "00_": [("delivery panel, 00's default (refused@0-6h, a Postfix sender)", None, "maxRetries", _SLIDE),
            ("delivery panel, 1-day outage (503@0-1d)", ("faults", "503@0-1d"), "maxRetries", _SLIDE)],
    "01_": [("PUT panel, 01's default (503@0-20s, maxRetries 5)", None, "maxRetries", _SLIDE)],
    "02_": [("verify panel, 02's default (lost-write@0-10s, maxRetries 5)", None, "verifyAfterWrite", [0, 1] * 5)],
    "03_": [("delivery panel, 03's default (timeout@0-30m, a Postfix sender)", None, "maxRetries", _SLIDE)],
    "04_": [("side-by-side panel, the 4 cases", None, "case", [0, 1, 2, 3, 2] * 2),
            ("side-by-side panel, the sender", None, "sender", [2, 3, 1, 2, 3] * 2)],
    "05_": [("delivery panel, 05's default (503@0-15m, latency 29s, a Stalwart sender)", None, "maxRetries", _SLIDE)],
    # each first move leaves where _move_a_widget left the control (the option after the notebook's own)
    "06_": [("operation panel, 06's default (JMAP upload, 0.15.5): the S3 faults", None, "fault", [0, 1, 2, 3, 4] * 2)],
    "07_": [("fleet panel, 07's default (503, 1,000 messages): the outages", None, "outage", [3, 4, 5, 1, 2] * 2)],
    "08_": [("two designs, 08's default (TMail above): the design below", None, "bottom", [0, 2, 3, 5, 6] * 2)],
}
REDRAW_MOVES = 10

# seconds, per notebook: a wait for the kernel to finish, so only a hang may reach it on a busy machine
RUN_TIMEOUT = float(os.environ.get("BLOBEDU_BROWSER_TIMEOUT", str(3 * READY_SECONDS)))
MAX_MOVES = 5  # tries at moving the widget before the plot and verdict must have changed
VIEWPORT = {"width": 1400, "height": 1000}


@pytest.fixture(scope="module")
def lab():
    require_chromium()
    with JupyterLab(notebook_dir()) as server:
        yield server


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def test_there_are_notebooks_to_drive():
    names = [p.name for p in NOTEBOOKS]
    assert names, f"no notebooks in {notebook_dir()}"
    for prefix in WIDGET_NOTEBOOKS:
        assert any(n.startswith(prefix) for n in names), f"no {prefix}*.ipynb in {notebook_dir()}: {names}"


def _percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) by linear interpolation, as numpy's default does."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _time_redraws(nb: NotebookPage, prefix: str) -> None:
    """10 timed moves per panel of this notebook; figures to ``test-artifacts/redraw/<notebook>.json``."""
    import json
    import statistics
    import time

    results = []
    for name, typed, control, moves in REDRAWS.get(prefix, []):
        nb.show_widget(control)
        if typed is not None:
            before = nb.view_state()
            nb.arm()
            nb.set_text(*typed)
            nb.settle_after_move(before)
        times = []
        for move in moves[:REDRAW_MOVES]:
            times.append(nb.timed_move(control, move))
            nb.wait_idle(timeout=READY_SECONDS, settle=0.3)
        results.append({"panel": name, "control": control, "moves_ms": [round(t, 1) for t in times],
                        "median_ms": round(statistics.median(times), 1),
                        "p90_ms": round(_percentile(times, 0.9), 1)})
        assert len(times) == REDRAW_MOVES
    out = artifact_dir("redraw") / f"{Path(nb.name).stem}.json"
    out.write_text(json.dumps({"notebook": nb.name, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                               "cpus": os.cpu_count(), "panels": results}, indent=2))


def _widget_labels(nb: NotebookPage) -> list[str]:
    return [t.strip() for t in nb.panel().locator(".widget-label").all_inner_texts() if t.strip()]


def _move_a_widget(nb: NotebookPage, candidates: tuple[str, ...]) -> None:
    """Move the first widget found until the plot and the verdict both change (a reader's few tries)."""
    found = [d for d in candidates if nb.widget(d).count()]
    assert found, (f"{nb.name}: no widget labelled {' / '.join(candidates)}; "
                   f"widget labels on the page: {_widget_labels(nb)}")
    description = found[0]
    nb.show_widget(description)
    nb.shot("widget-before")
    before = nb.view_state()
    assert before["imgs"], f"{nb.name}: no plot image on the page before moving {description!r}"
    assert before["text"], f"{nb.name}: no widget text (verdict) on the page before moving {description!r}"
    tried = []
    after = before
    for attempt in range(MAX_MOVES):
        nb.arm()
        what = nb.move(description, attempt)
        if what is None:
            break
        after = nb.settle_after_move(after)
        errors = nb.errors()
        assert not errors, f"{nb.name}: errors after {what}:\n" + "\n\n".join(errors)
        tried.append(what)
        if after["imgs"] and after["imgs"] != before["imgs"] and after["text"] != before["text"]:
            break
    nb.show_widget(description)
    nb.shot("widget-after")
    assert after["imgs"], f"{nb.name}: the plot disappeared after {tried}; the page reads:\n{after['text']}"
    assert after["imgs"] != before["imgs"], f"{nb.name}: the plot never changed; tried {tried}"
    assert after["text"] != before["text"], (
        f"{nb.name}: the verdict never changed; tried {tried}; it still reads:\n{after['text']}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_in_jupyterlab(lab, browser, path):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    shots = artifact_dir("browser")
    for old in shots.glob(f"{path.stem}-*.png"):  # this notebook's pictures from an earlier run
        old.unlink()
    nb = NotebookPage(page, lab, path.name, shots)
    try:
        nb.open()
        nb.run_all()
        nb.wait_idle(RUN_TIMEOUT)
        nb.scroll_to("top")
        nb.shot("ran-top")
        nb.scroll_to("end")
        nb.shot("ran-end")
        errors = nb.errors()
        assert not errors, f"{path.name}: error output after Run All Cells:\n" + "\n\n".join(errors)
        skipped = nb.unexecuted_code_cells()
        assert not skipped, f"{path.name}: code cells that never ran: {skipped}"
        broken = nb.panel().get_by_text(re.compile(r"Error displaying widget|Failed to display widget"))
        assert not broken.count(), (f"{path.name}: a widget did not render: {broken.first.inner_text()} "
                                    f"(JavaScript errors: {page_errors})")
        for prefix, candidates in WIDGET_NOTEBOOKS.items():
            if path.name.startswith(prefix):
                _move_a_widget(nb, candidates)
                _time_redraws(nb, prefix)
        assert not nb.external_requests, f"{path.name}: the page tried to leave 127.0.0.1: {nb.external_requests}"
    except BaseException:
        try:
            nb.shot("failed")
        except Exception:  # noqa: BLE001 - the screenshot is a courtesy; report the real failure
            pass
        raise
    finally:
        context.close()
        lab.shutdown_kernels()
