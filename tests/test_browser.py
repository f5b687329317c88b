"""Every notebook, run in JupyterLab in a real browser (headless Debian Chromium driven by Playwright).

For each ``notebooks/*.ipynb``: open it in JupyterLab, Run > Run All Cells, wait for the kernel to go
idle, and check that no cell (and no widget Output area) shows an error. In ``00_*`` and ``01_`` a
reader is also simulated (and in ``07_``): one widget, found by its description label, is moved and the plot (the
image's ``src``) and the verdict text must both change.

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

import pytest

from browser_support import (CHROMIUM, CHROMIUM_ARGS, JupyterLab, NotebookPage, artifact_dir, notebook_dir,
                             notebook_paths, require_chromium)

pytestmark = pytest.mark.browser

NOTEBOOKS = notebook_paths()

# Notebooks where a reader moves a widget: its description label, in order of preference.
WIDGET_NOTEBOOKS = {
    "00_": ("fault", "maxRetries", "version", "Stalwart"),
    "01_": ("maxRetries", "fault", "version", "Stalwart"),
    "07_": ("outage", "receiver", "Stalwart"),
}

RUN_TIMEOUT = float(os.environ.get("BLOBEDU_BROWSER_TIMEOUT", "300"))  # seconds, per notebook
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
