"""``blobedu notebooks DIR`` copies the notebooks without ever losing a reader's work; ``blobedu lab`` opens them.

The copy rules (blobedu/workspace.py): missing files are copied, files blobedu copied and the reader
never touched are brought up to date, files the reader changed are kept unless ``--force`` (or "y"
on a terminal); without a terminal a changed file makes the command refuse with exit status 2 and
one line, having copied nothing.  ``blobedu lab`` is started for real (on 127.0.0.1, a free port,
temporary Jupyter folders) and must serve ``make lab``'s settings from the package's config.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blobedu import packaged, workspace
from blobedu.cli import main
from browser_support import REPO, clean_env, free_port

PLUGIN = "@jupyterlab/apputils-extension:notification"


def run_cli(*argv: str, stdin_tty: bool = False, answer: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    fake_in = io.StringIO(answer)
    fake_in.isatty = lambda: stdin_tty  # type: ignore[method-assign]
    old_in = sys.stdin
    sys.stdin = fake_in
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
    finally:
        sys.stdin = old_in
    return code, out.getvalue(), err.getvalue()


def test_the_package_finds_every_notebook_and_transcript_of_the_repository():
    assert packaged.notebook_folder() == REPO / "notebooks"  # an editable install reads the clone
    tracked = subprocess.run(["git", "ls-files", "notebooks"], cwd=REPO, capture_output=True, text=True).stdout.split()
    assert tracked, "git lists no notebooks"
    assert sorted(workspace.shipped_files()) == sorted(p[len("notebooks/"):] for p in tracked)
    assert (packaged.jupyter_config_folder() / "labconfig" / "default_setting_overrides.json").is_file()


def test_copies_everything_into_a_new_folder_and_says_where(tmp_path):
    target = tmp_path / "mine"
    code, out, err = run_cli("notebooks", str(target))
    assert code == 0, err
    names = workspace.shipped_files()
    for name in names:
        assert (target / name).read_bytes() == (packaged.notebook_folder() / name).read_bytes()
    assert str(target) in out and f"blobedu lab {target}" in out and f"{len(names)} file(s) copied" in out
    again = run_cli("notebooks", str(target))
    assert again[0] == 0 and "0 file(s) copied" in again[1] and f"{len(names)} already up to date" in again[1]


def test_the_default_folder_is_blobedu_notebooks_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("notebooks")
    assert code == 0, err
    assert (tmp_path / "blobedu-notebooks" / packaged.START_HERE).is_file()


def test_a_changed_notebook_without_a_terminal_is_refused_and_nothing_is_copied(tmp_path):
    target = tmp_path / "nb"
    assert run_cli("notebooks", str(target))[0] == 0
    edited = target / "01_retry_loop.ipynb"
    edited.write_text(edited.read_text() + " ")
    (target / "03_tempfail_flow.ipynb").unlink()
    code, out, err = run_cli("notebooks", str(target))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("blobedu: error: ") and "01_retry_loop.ipynb" in err
    assert "--force" in err and "nothing was copied" in err
    assert edited.read_text().endswith(" ") and not (target / "03_tempfail_flow.ipynb").exists()


def test_force_overwrites_a_changed_notebook(tmp_path):
    target = tmp_path / "nb"
    assert run_cli("notebooks", str(target))[0] == 0
    edited = target / "02_verify_after_write.ipynb"
    edited.write_text("{}")
    assert run_cli("notebooks", str(target), "--force")[0] == 0
    assert edited.read_bytes() == (packaged.notebook_folder() / edited.name).read_bytes()


@pytest.mark.parametrize("answer, overwritten", [("y\n", True), ("yes\n", True), ("\n", False), ("n\n", False),
                                                 ("", False)])
def test_on_a_terminal_it_asks_and_only_yes_overwrites(tmp_path, answer, overwritten):
    target = tmp_path / "nb"
    assert run_cli("notebooks", str(target))[0] == 0
    edited = target / "00_start_here.ipynb"
    edited.write_text("mine")
    code, out, err = run_cli("notebooks", str(target), stdin_tty=True, answer=answer)
    assert code == 0 and "00_start_here.ipynb" in err
    assert (edited.read_text() != "mine") is overwritten
    assert ("changed by you, kept" in out) is not overwritten


def test_an_untouched_copy_of_an_older_release_is_brought_up_to_date(tmp_path):
    target = tmp_path / "nb"
    assert run_cli("notebooks", str(target))[0] == 0
    old = target / "05_tuning.ipynb"
    old.write_text('{"an": "older release"}')
    record = json.loads((target / workspace.RECORD).read_text())
    record["files"]["05_tuning.ipynb"] = workspace._digest(old)  # as if blobedu had copied these bytes
    (target / workspace.RECORD).write_text(json.dumps(record))
    p = workspace.plan(target)
    assert p.stale == ["05_tuning.ipynb"] and not p.changed
    assert run_cli("notebooks", str(target))[0] == 0
    assert old.read_bytes() == (packaged.notebook_folder() / old.name).read_bytes()


def test_a_file_that_blobedu_never_copied_counts_as_changed(tmp_path):
    target = tmp_path / "nb"
    target.mkdir()
    (target / "00_start_here.ipynb").write_text("someone else's notebook")
    p = workspace.plan(target)
    assert p.changed == ["00_start_here.ipynb"] and "01_retry_loop.ipynb" in p.missing
    assert run_cli("notebooks", str(target))[0] == 2


def test_a_file_where_the_folder_should_be_is_one_line_and_status_2(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    code, out, err = run_cli("notebooks", str(path))
    assert code == 2 and err.count("\n") == 1 and "is a file, not a folder" in err


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# no "/": every generated folder stays inside this test's temporary folder
@given(name=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/"), min_size=0, max_size=40))
def test_any_folder_name_copies_or_is_one_line_and_status_2(tmp_path, name):
    base = Path(tempfile.mkdtemp(dir=tmp_path))
    cwd = os.getcwd()
    os.chdir(base)
    try:
        code, out, err = run_cli("notebooks", name, "--force")
    finally:
        os.chdir(cwd)
    assert code in (0, 2), (code, err)
    assert "Traceback" not in err
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("blobedu: error: ") and out == ""
    else:
        assert err == ""
        target = Path(out.split("blobedu's notebooks are in ", 1)[1].split(" (", 1)[0])
        assert (target / packaged.START_HERE).is_file()


def test_lab_without_jupyterlab_says_how_to_install_it(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jupyterlab" else real(name, *a))
    code, out, err = run_cli("lab", str(tmp_path / "nb"))
    assert code == 2 and "pip install 'blobedu[lab]'" in err and err.count("\n") == 1
    assert not (tmp_path / "nb").exists()


def test_lab_command_is_make_labs():
    argv, env = workspace.lab_command(Path("/x/nb"), port=9999, open_browser=False)
    assert argv[:3] == [sys.executable, "-m", "jupyterlab"]
    for option in ("--ServerApp.ip=127.0.0.1", "--LabApp.news_url=None",
                   "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--ServerApp.port=9999",
                   "--no-browser"):
        assert option in argv
    assert argv[-1] == "/x/nb/00_start_here.ipynb"
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0] == str(packaged.jupyter_config_folder())
    makefile = (REPO / "Makefile").read_text().split("\nlab:", 1)[1].split("\n\n", 1)[0]
    for option in ("--ip=127.0.0.1", "--LabApp.news_url=None",
                   "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "etc/jupyter"):
        assert option in makefile, f"make lab no longer passes {option}: keep blobedu lab the same"


def test_blobedu_lab_serves_on_loopback_without_news_and_copies_the_notebooks(tmp_path):
    """The real command: JupyterLab on 127.0.0.1 with the package's labconfig, rooted at the copied folder."""
    target, port, token = tmp_path / "nb", free_port(), "t" + os.urandom(12).hex()
    env = clean_env(JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_DATA_DIR=str(tmp_path / "data"),
                    JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_TOKEN=token)
    env.pop("JUPYTER_CONFIG_PATH", None)
    proc = subprocess.Popen([sys.executable, "-m", "blobedu", "lab", str(target), "--port", str(port), "--no-browser"],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True, text=True)
    try:
        deadline = time.monotonic() + 120  # how long to keep trying, not a speed requirement
        while True:
            try:
                def get(path):
                    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                                 headers={"Authorization": f"token {token}"})
                    with urllib.request.urlopen(req, timeout=10) as resp:
                        return json.loads(resp.read())
                schema = get(f"/lab/api/settings/{PLUGIN}")["schema"]["properties"]
                contents = get("/api/contents")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(f"blobedu lab did not answer on 127.0.0.1:{port} (exit {proc.poll()})")
                time.sleep(0.5)
        assert schema["fetchNews"]["default"] == "false" and schema["checkForUpdates"]["default"] is False
        listed = {item["name"] for item in contents["content"]}
        assert packaged.START_HERE in listed and "transcripts" in listed
        assert (target / packaged.START_HERE).is_file()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    assert "opening JupyterLab on" in proc.stderr.read()
