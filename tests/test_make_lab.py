"""`make lab` opens JupyterLab without the "Jupyter news?" prompt, from a fresh clone, with no global state.

The Makefile puts ``etc/jupyter`` on ``JUPYTER_CONFIG_PATH`` for the ``jupyter lab`` command only; its
``labconfig/default_setting_overrides.json`` changes the notification plugin's defaults (fetch news:
never; check for updates: no). JupyterLab's announcements plugin asks its question only while
``fetchNews`` is still ``"none"``, so the defaults the server hands the page decide it. The server
runs here with temporary Jupyter folders, on 127.0.0.1 and a random token.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from browser_support import REPO, clean_env, free_port
from conftest import READY_SECONDS

PLUGIN = "@jupyterlab/apputils-extension:notification"


def _notification_defaults(config_path: str | None) -> dict:
    """The notification plugin's setting defaults a JupyterLab started with ``JUPYTER_CONFIG_PATH`` serves."""
    tmp = Path(tempfile.mkdtemp(prefix="blobedu-makelab-"))
    token, port = secrets.token_hex(16), free_port()
    env = clean_env(JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_DATA_DIR=str(tmp / "data"),
                    JUPYTER_RUNTIME_DIR=str(tmp / "runtime"))
    if config_path:
        env["JUPYTER_CONFIG_PATH"] = config_path
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", "--ServerApp.allow_root=True",
           f"--ServerApp.root_dir={tmp}", f"--LabApp.user_settings_dir={tmp / 'user-settings'}"]
    proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + READY_SECONDS  # a wait for the server to start: only a hang reaches it
        while True:
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/lab/api/settings/{PLUGIN}",
                                             headers={"Authorization": f"token {token}"})
                with urllib.request.urlopen(req, timeout=10) as resp:
                    schema = json.loads(resp.read())["schema"]["properties"]
                return {name: prop["default"] for name, prop in schema.items()}
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(f"JupyterLab did not answer on port {port} (exit {proc.poll()})") from None
                time.sleep(0.25)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_make_lab_puts_the_repository_config_on_the_path():
    recipe = (REPO / "Makefile").read_text().split("\nlab:", 1)[1].split("\n\n", 1)[0]
    assert 'JUPYTER_CONFIG_PATH="$(CURDIR)/etc/jupyter' in recipe and "jupyter lab" in recipe
    overrides = json.loads((REPO / "etc/jupyter/labconfig/default_setting_overrides.json").read_text())
    assert overrides[PLUGIN]["fetchNews"] == "false"


def test_jupyterlab_never_asks_about_news_with_the_repository_config():
    assert _notification_defaults(None)["fetchNews"] == "none"  # JupyterLab's own default: it asks
    defaults = _notification_defaults(str(REPO / "etc" / "jupyter"))
    assert defaults["fetchNews"] == "false" and defaults["checkForUpdates"] is False
