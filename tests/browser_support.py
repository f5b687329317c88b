"""Helpers for the slow, real-world tests: a JupyterLab server, headless Chromium, notebook pages.

Used by ``tests/test_browser.py`` (JupyterLab in a real browser) and ``tests/test_binder.py`` (the
Binder environment). Nothing here is collected as a test.

* :func:`notebook_dir` is ``notebooks/`` in the repository; ``BLOBEDU_NOTEBOOK_DIR`` points it
  elsewhere while notebooks are being drafted (the tests use the repository's folder otherwise).
* :func:`missing` fails when ``CI`` is set (CI installs everything the slow tests need) and skips
  otherwise, so a laptop without Chromium or Python 3.12 still runs the rest of the suite.
* :class:`JupyterLab` runs ``python -m jupyterlab`` from the test's own environment on 127.0.0.1,
  a free port and a random token, on a temporary copy of the repository root (so running the
  notebooks can never rewrite the stored ones), with everything that would reach the internet
  (news, update check, PyPI extension manager) switched off.
* :class:`NotebookPage` drives one notebook in JupyterLab: open, Run > Run All Cells, wait for the
  kernel, read errors, move a widget, take screenshots.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

import pytest

from conftest import READY_SECONDS

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# The JupyterLab settings the browser test runs with (user settings, in a temporary folder).
LAB_SETTINGS = {
    # Never write the running notebook back to disk (the copy is temporary anyway).
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    # Every cell in the DOM, so error outputs below the fold are seen too.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # No "fetch Jupyter news?" toast over the notebook, no update check.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True,
    },
    "@jupyterlab/extensionmanager-extension/plugin.jupyterlab-settings": {"enabled": False},
}

LAB_OPTIONS = [
    "--no-browser",
    "--ServerApp.ip=127.0.0.1",
    "--ServerApp.port_retries=0",
    "--ServerApp.terminals_enabled=False",
    "--LabApp.news_url=None",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--LabApp.extension_manager=readonly",
    "--LabApp.expose_app_in_browser=True",
]


def notebook_dir() -> Path:
    """The folder whose ``*.ipynb`` the tests run: ``notebooks/``, or ``$BLOBEDU_NOTEBOOK_DIR``."""
    override = os.environ.get("BLOBEDU_NOTEBOOK_DIR")
    return Path(override).resolve() if override else REPO / "notebooks"


def notebook_paths(directory: Optional[Path] = None) -> list[Path]:
    """The notebooks in ``directory`` (default :func:`notebook_dir`), sorted by name."""
    directory = directory or notebook_dir()
    return sorted(p for p in directory.glob("*.ipynb") if p.is_file())


def missing(message: str) -> None:
    """A prerequisite is absent: fail under CI (which installs it), skip elsewhere."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{message} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(message)


def require_chromium() -> str:
    """The Chromium executable, or fail/skip (see :func:`missing`)."""
    if not os.access(CHROMIUM, os.X_OK):
        missing(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("playwright is not installed: pip install -e '.[test]' (it pins playwright)")
    return CHROMIUM


def artifact_dir(*parts: str) -> Path:
    """``test-artifacts/<parts>``, created (the folder is git-ignored)."""
    path = ARTIFACTS.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what would leak one Python/Jupyter setup into another."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("JUPYTER") and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "MPLBACKEND",
                                                         "PYTHONSTARTUP", "PIP_REQUIRE_VIRTUALENV")}
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env.update(extra)
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def make_root(notebooks: Path, into: Path) -> Path:
    """A temporary repository root: ``notebooks/`` copied, every other top-level entry symlinked."""
    root = into / "repo"
    root.mkdir()
    shutil.copytree(notebooks, root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for entry in REPO.iterdir():
        if entry.name in ("notebooks", ".git", ".venv", "test-artifacts") or (root / entry.name).exists():
            continue
        (root / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return root


class JupyterLab:
    """``python -m jupyterlab`` on 127.0.0.1, isolated from the user's Jupyter config; a context manager."""

    def __init__(self, notebooks: Path, python: str = sys.executable, startup_timeout: float = READY_SECONDS):
        self.notebooks = notebooks
        self.python = python
        self.startup_timeout = startup_timeout
        self.token = secrets.token_hex(24)
        self.port = 0
        self.proc: Optional[subprocess.Popen] = None
        self._tmp = Path(tempfile.mkdtemp(prefix="blobedu-lab-"))
        self.log = self._tmp / "jupyterlab.log"
        self.root = make_root(notebooks, self._tmp)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, notebook: str) -> str:
        """The JupyterLab URL that opens ``notebooks/<notebook>``, token included."""
        # ?reset: start from an empty workspace, not from the tabs the last page left open.
        return f"{self.base}/lab/tree/notebooks/{urllib.request.quote(notebook)}?reset&token={self.token}"

    def api(self, path: str, method: str = "GET"):
        """One REST call to the server; the decoded JSON (or None for an empty body)."""
        req = urllib.request.Request(f"{self.base}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def _write_settings(self) -> Path:
        settings = self._tmp / "lab-user-settings"
        for rel, values in LAB_SETTINGS.items():
            path = settings / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values, indent=2))
        return settings

    def start(self) -> "JupyterLab":
        settings = self._write_settings()
        env = clean_env(
            JUPYTER_CONFIG_DIR=str(self._tmp / "config"),
            JUPYTER_DATA_DIR=str(self._tmp / "data"),
            JUPYTER_RUNTIME_DIR=str(self._tmp / "runtime"),
        )
        last = ""
        for _attempt in range(3):
            self.port = free_port()
            cmd = [self.python, "-m", "jupyterlab", *LAB_OPTIONS,
                   *(["--ServerApp.allow_root=True"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
                   f"--ServerApp.port={self.port}",
                   f"--IdentityProvider.token={self.token}",
                   f"--ServerApp.root_dir={self.root}",
                   f"--LabApp.user_settings_dir={settings}",
                   f"--LabApp.workspaces_dir={self._tmp / 'workspaces'}"]
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True)
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    self.api("/api/status")
                    return self
                except (urllib.error.URLError, ConnectionError, OSError):
                    time.sleep(0.25)
            last = _tail(self.log)
            self._kill()
            if "already in use" not in last:  # only a lost race for the port is worth another try
                break
        raise RuntimeError(f"JupyterLab did not start; its log ends with:\n{last}")

    def shutdown_kernels(self) -> None:
        """Stop every kernel (each notebook starts its own)."""
        try:
            for session in self.api("/api/sessions") or []:
                self.api(f"/api/sessions/{session['id']}", method="DELETE")
            for kernel in self.api("/api/kernels") or []:
                self.api(f"/api/kernels/{kernel['id']}", method="DELETE")
        except (urllib.error.URLError, OSError):
            pass

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.shutdown_kernels()
        self._kill()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> "JupyterLab":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


# ---- one notebook in the browser -----------------------------------------------------------------

_JS_PANEL = """() => {
  const app = window.jupyterapp;
  if (!app) return null;
  const w = app.shell.currentWidget;
  return w && w.context ? w.context.path : null;
}"""

_JS_KERNEL = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const ctx = w && w.sessionContext;
  const kernel = ctx && ctx.session && ctx.session.kernel;
  return {ready: !!(ctx && ctx.isReady), status: kernel ? kernel.status : 'none',
          busy: Array.from(w.node.querySelectorAll('.jp-Notebook .jp-InputPrompt'))
                     .filter(p => p.textContent.includes('*')).length};
}"""

_JS_CELLS = """() => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  return nb.widgets.map((cell, i) => {
    const m = cell.model;
    const tags = (m.getMetadata && m.getMetadata('tags')) || [];
    const outputs = m.type === 'code' ? m.outputs.toJSON() : [];
    return {index: i, type: m.type, tags: tags, count: m.type === 'code' ? m.executionCount : null,
            source: m.sharedModel.getSource().slice(0, 200),
            errors: outputs.filter(o => o.output_type === 'error')
                           .map(o => o.ename + ': ' + o.evalue + '\\n' + (o.traceback || []).join('\\n')
                                      .replace(/\\u001b\\[[0-9;]*m/g, '').slice(-1500))};
  });
}"""

# Error outputs shown inside widget Output areas (a callback that raised inside ``with out:``).
# JupyterLab renders an error output with the stderr MIME type, like a stderr stream, so a
# traceback in the text tells them apart. Errors in cell outputs come from the model instead.
_JS_DOM_ERRORS = """() => {
  const root = window.jupyterapp.shell.currentWidget.node;
  const cells = Array.from(root.querySelectorAll('.jp-Notebook .jp-Cell'));
  const sel = ['.widget-output', '.jupyter-widget-output'].map(w =>
      w + ' [data-mime-type="application/vnd.jupyter.stderr"], ' +
      w + ' [data-mime-type="application/vnd.jupyter.error"]').join(', ');
  const traceback = /Traceback \\(most recent call last\\)|^\\s*Cell In\\[|^[A-Za-z_.]*(Error|Exception)\\b.*$/m;
  return Array.from(root.querySelectorAll(sel))
    .filter((el, _, all) => !all.some(other => other !== el && other.contains(el)))
    .filter(el => el.getAttribute('data-mime-type') === 'application/vnd.jupyter.error' ||
                  traceback.test(el.innerText))
    .map(el => ({cell: cells.findIndex(c => c.contains(el)), text: el.innerText.slice(-1500)}));
}"""

# Requests the page sends the kernel (a widget's change is a comm_msg on the shell channel) and the
# ones the kernel has finished (its "idle" status whose parent is that request), counted from the
# moment this is armed: how the browser test knows the kernel has answered a move, however long that
# takes on a busy machine, instead of guessing with a fixed wait.
_JS_ARM_KERNEL_TRAFFIC = """() => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const traffic = {sent: 0, pending: []};
  if (window.__blobedu_hook) window.__blobedu_hook.kernel.anyMessage.disconnect(window.__blobedu_hook.slot);
  const slot = (_, args) => {
    const m = args.msg;
    if (args.direction === 'send' && m.channel === 'shell') {
      traffic.sent += 1;
      traffic.pending.push(m.header.msg_id);
    } else if (args.direction === 'recv' && m.header.msg_type === 'status' &&
               m.content.execution_state === 'idle' && m.parent_header) {
      traffic.pending = traffic.pending.filter(id => id !== m.parent_header.msg_id);
    }
  };
  kernel.anyMessage.connect(slot);
  window.__blobedu_hook = {kernel: kernel, slot: slot};
  window.__blobedu_traffic = traffic;
}"""

_JS_KERNEL_TRAFFIC = "() => ({sent: window.__blobedu_traffic.sent, pending: window.__blobedu_traffic.pending.length})"

# What a reader sees change when a widget moves: plot images and the widgets' text (HTML + Output).
_JS_VIEW_STATE = """() => {
  const nb = window.jupyterapp.shell.currentWidget.node.querySelector('.jp-Notebook');
  const imgs = Array.from(nb.querySelectorAll('.jp-OutputArea img, .jupyter-widgets img'))
                    .map(i => i.getAttribute('src') || '');
  const texts = Array.from(nb.querySelectorAll(
      '.widget-html-content, .widget-htmlmath-content, .jupyter-widget-output .jp-RenderedText, ' +
      '.widget-output .jp-RenderedText, .jupyter-widgets-output-area .jp-RenderedText'))
    .map(el => el.innerText.trim()).filter(Boolean);
  return {imgs: imgs, text: Array.from(new Set(texts)).join('\\n')};
}"""


class NotebookPage:
    """One notebook open in JupyterLab in a Playwright page."""

    def __init__(self, page, lab: JupyterLab, name: str, shots: Path):
        self.page = page
        self.lab = lab
        self.name = name
        self.shots = shots
        self.external_requests: list[str] = []
        self.panel_id = ""
        # Playwright's own waits (a click, a locator to appear) default to 30 s: on a busy machine
        # they are readiness waits like the others
        page.set_default_timeout(READY_SECONDS * 1000)
        page.route("**/*", self._only_loopback)

    def _only_loopback(self, route) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")):
            route.continue_()
        else:
            self.external_requests.append(url)
            route.abort()

    def panel(self):
        """The notebook's own panel (other tabs may exist)."""
        return self.page.locator(f"[id='{self.panel_id}']")

    def scroll_to(self, where: str) -> None:
        """Scroll the notebook to its ``"top"`` or ``"end"``."""
        self.panel().evaluate("""(panel, where) => {
          const cells = panel.querySelectorAll('.jp-Notebook .jp-Cell');
          if (!cells.length) return;
          if (where === 'end') cells[cells.length - 1].scrollIntoView({block: 'end'});
          else cells[0].scrollIntoView({block: 'start'});
        }""", where)
        self.page.wait_for_timeout(300)

    def shot(self, label: str) -> Path:
        path = self.shots / f"{Path(self.name).stem}-{label}.png"
        self.page.screenshot(path=str(path))
        return path

    def _dismiss_dialogs(self) -> None:
        dialog = self.page.locator(".jp-Dialog")
        if dialog.count() and dialog.first.is_visible():
            # e.g. "Select Kernel": accept the default (the notebook's own kernel).
            self.page.locator(".jp-Dialog .jp-mod-accept").first.click()

    def open(self, timeout: float = READY_SECONDS) -> None:
        self.page.goto(self.lab.url(self.name), wait_until="domcontentloaded")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._dismiss_dialogs()
            path = self.page.evaluate(_JS_PANEL)
            if path and path.endswith(self.name):
                state = self.page.evaluate(_JS_KERNEL)
                if state["ready"] and state["status"] == "idle":
                    self.panel_id = self.page.evaluate("() => window.jupyterapp.shell.currentWidget.id")
                    self.panel().locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible")
                    return
            self.page.wait_for_timeout(250)
        self.shot("open-timeout")
        raise AssertionError(f"{self.name}: the notebook or its kernel was not ready after {timeout:.0f} s "
                             f"(kernel: {self.page.evaluate(_JS_KERNEL) if path else 'no panel'})")

    def run_all(self) -> str:
        """Run > Run All Cells from the menu bar; the command itself if the menu is not there."""
        try:
            self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).first.click(timeout=5000)
            self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).first.click(
                timeout=5000)
            return "menu"
        except Exception:  # noqa: BLE001 - any menu trouble: fall back to the command the menu runs
            self.page.keyboard.press("Escape")
            self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            return "command"

    def wait_idle(self, timeout: float, settle: float = 1.0) -> None:
        """Until the kernel is idle and no cell shows ``[*]``, twice in a row ``settle`` seconds apart."""
        deadline = time.monotonic() + timeout
        quiet_since: Optional[float] = None
        while time.monotonic() < deadline:
            self._dismiss_dialogs()
            state = self.page.evaluate(_JS_KERNEL)
            if state["status"] == "idle" and state["busy"] == 0:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= settle:
                    return
            else:
                quiet_since = None
            self.page.wait_for_timeout(200)
        self.shot("busy-timeout")
        raise AssertionError(f"{self.name}: still running after {timeout:.0f} s "
                             f"(kernel {state['status']}, {state['busy']} cells at [*])")

    def cells(self) -> list[dict]:
        return self.page.evaluate(_JS_CELLS)

    def errors(self) -> list[str]:
        """Error outputs: cells' from the notebook model, widget Output areas' from the page.

        A cell tagged ``raises-exception`` may show an error on purpose (nbclient allows it too).
        """
        cells = self.cells()
        allowed = {c["index"] for c in cells if "raises-exception" in (c["tags"] or [])}
        found = [f"cell {c['index']}: {e}" for c in cells if c["index"] not in allowed for e in c["errors"]]
        for err in self.page.evaluate(_JS_DOM_ERRORS):
            if err["cell"] in allowed:
                continue
            if not any(line.startswith(f"cell {err['cell']}:") for line in found):
                found.append(f"cell {err['cell']}, in a widget Output: {err['text']}")
        return found

    def unexecuted_code_cells(self) -> list[int]:
        return [c["index"] for c in self.cells() if c["type"] == "code" and c["source"].strip() and not c["count"]]

    def view_state(self) -> dict:
        return self.page.evaluate(_JS_VIEW_STATE)

    # ---- widgets ----

    def widget(self, description: str):
        """The widget whose description label reads ``description`` (a locator; may match nothing)."""
        label = self.page.locator("label.widget-label, .widget-label",
                                  has_text=re.compile(rf"^\s*{re.escape(description)}\s*:?\s*$"))
        return self.panel().locator(".jp-Notebook .widget-inline-hbox, .jp-Notebook .widget-inline-vbox").filter(
            has=label)

    def show_widget(self, description: str) -> None:
        """Scroll so the output of the cell holding the widget (control, plot, verdict) is in view."""
        self.widget(description).first.evaluate("""el => {
          const cell = el.closest('.jp-Cell');
          const area = (cell && cell.querySelector('.jp-Cell-outputArea')) || el;
          area.scrollIntoView({block: 'center'});
        }""")
        self.page.wait_for_timeout(200)

    # A reader tries the neighbouring values first, then the ends of the range.
    SLIDER_KEYS = ("ArrowLeft", "ArrowRight", "ArrowRight", "Home", "End")

    def move(self, description: str, attempt: int = 0) -> Optional[str]:
        """Change the widget labelled ``description`` as a reader would, ``attempt``-th try; say what was done.

        Each attempt moves on from where the last one left the widget: a dropdown goes to the next
        option, a slider steps down one notch, then up, then to its ends; text and number boxes are
        not touched after the first attempt. None when this widget has nothing more to try.
        """
        box = self.widget(description).first
        box.scroll_into_view_if_needed()
        select = box.locator("select")
        if select.count():
            options = select.first.locator("option").all_inner_texts()
            if attempt >= len(options) - 1:
                return None
            current = select.first.evaluate("s => s.selectedIndex")
            target = (current + 1) % len(options)
            select.first.select_option(index=target)
            return f"{description}: {options[current]!r} -> {options[target]!r}"
        handle = box.locator(".noUi-handle")
        if handle.count():
            if attempt >= len(self.SLIDER_KEYS):
                return None
            key = self.SLIDER_KEYS[attempt]
            now = handle.first.get_attribute("aria-valuenow")
            handle.first.focus()
            handle.first.press(key)
            return f"{description}: {now} -> {handle.first.get_attribute('aria-valuenow')} ({key})"
        buttons = box.locator("button")
        if buttons.count() > 1:
            if attempt >= buttons.count() - 1:
                return None
            target = box.locator("button:not(.mod-active)").nth(attempt % max(1, buttons.count() - 1))
            text = target.inner_text()
            target.click()
            return f"{description}: button {text!r}"
        radios = box.locator("input[type=radio]")
        if radios.count() > 1:
            if attempt >= radios.count() - 1:
                return None
            box.locator("input[type=radio]:not(:checked)").first.check()
            return f"{description}: another radio button"
        if attempt > 0:
            return None
        checkbox = box.locator("input[type=checkbox]")
        if checkbox.count():
            checkbox.first.click()
            return f"{description}: checkbox toggled"
        number = box.locator("input[type=number], input[type=text]")
        if number.count():
            value = number.first.input_value()
            try:
                new = str(int(float(value)) + 1)
            except ValueError:
                new = value + "1"
            number.first.fill(new)
            number.first.press("Enter")
            return f"{description}: {value!r} -> {new!r}"
        raise AssertionError(f"{self.name}: don't know how to move the widget {description!r}")

    def arm(self) -> None:
        """Start counting the requests the page sends the kernel (call just before moving a widget)."""
        self.page.evaluate(_JS_ARM_KERNEL_TRAFFIC)

    def settle_after_move(self, before: dict, unsent: float = 10.0) -> dict:
        """The view once the kernel has answered a widget move (:meth:`arm` was called before the move).

        A move that changed the widget's value sends the kernel a request; this waits until the kernel
        has finished every request sent since :meth:`arm`, however long a busy machine takes.  Only
        when the page sent nothing at all for ``unsent`` seconds (the value did not change: a slider
        already at its end) does it stop waiting.
        """
        deadline = time.monotonic() + READY_SECONDS
        quiet_until = time.monotonic() + unsent
        while time.monotonic() < deadline:
            traffic = self.page.evaluate(_JS_KERNEL_TRAFFIC)
            if traffic["sent"] and not traffic["pending"]:
                break
            if not traffic["sent"] and (self.view_state() != before or time.monotonic() > quiet_until):
                break
            self.page.wait_for_timeout(200)
        self.wait_idle(timeout=READY_SECONDS, settle=0.75)
        return self.view_state()

    # ---- redraw timing ----

    _JS_ARM = """el => {
      const cell = el.closest('.jp-Cell');
      const srcs = () => Array.from(cell.querySelectorAll('.jupyter-widgets img, .jp-OutputArea img'))
                              .map(i => i.getAttribute('src') || '').join('|');
      const before = srcs();
      window.__blobedu_redraw = {t0: performance.now(), t1: null};
      const observer = new MutationObserver(() => {
        const now = srcs();
        if (now && now !== before && window.__blobedu_redraw.t1 === null) {
          window.__blobedu_redraw.t1 = performance.now();
          observer.disconnect();
        }
      });
      observer.observe(cell, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
    }"""

    def timed_move(self, description: str, key_or_index, timeout: float = READY_SECONDS) -> float:
        """Move the widget once and return the ms from the change to the new figure's ``src`` in the page.

        ``key_or_index``: a key for a slider handle (``"ArrowLeft"``), an option index for a dropdown, or
        a button's text for toggle buttons. The clock starts in the page just before the change is made.
        """
        box = self.widget(description).first
        box.evaluate(self._JS_ARM)
        select = box.locator("select")
        if isinstance(key_or_index, int) and select.count():
            if select.first.evaluate("s => s.selectedIndex") == key_or_index:  # no change: no redraw to wait for
                raise AssertionError(f"{description!r} already shows option {key_or_index}: a timed move must change it")
            select.first.select_option(index=key_or_index)
        elif box.locator(".noUi-handle").count():
            handle = box.locator(".noUi-handle").first
            handle.focus()
            handle.press(str(key_or_index))
        else:
            box.locator("button", has_text=str(key_or_index)).first.click()
        self.page.wait_for_function("() => window.__blobedu_redraw && window.__blobedu_redraw.t1 !== null",
                                    timeout=timeout * 1000)
        return float(self.page.evaluate("() => window.__blobedu_redraw.t1 - window.__blobedu_redraw.t0"))

    def set_text(self, description: str, text: str) -> None:
        """Type ``text`` into the text box or text area labelled ``description`` and commit it (leave the box)."""
        box = self.widget(description).first
        field = box.locator("textarea, input[type=text]").first
        if not field.is_visible():  # the faults box sits under the fault picker, in a collapsed "advanced" accordion
            field.evaluate("""el => {
              const collapse = el.closest('.jupyter-widget-Collapse');
              const header = collapse && collapse.querySelector('.jupyter-widget-Collapse-header');
              if (header && !collapse.classList.contains('jupyter-widget-Collapse-open')) header.click();
            }""")
            field.wait_for(state="visible")
        field.fill(text)
        field.press("Tab")  # a Textarea commits on blur when continuous_update is off
