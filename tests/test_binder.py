"""The Binder environment, built the way repo2docker builds it, runs every notebook.

repo2docker (what mybinder.org runs) reads ``binder/runtime.txt`` for the Python version, runs
``pip install -r binder/requirements.txt`` from the repository root (``-e .`` there installs
blobedu itself; with a ``binder/`` folder repo2docker does not), then ``binder/postBuild`` if there
is one, as the notebook user (never root). This test does the same in a fresh virtual environment
on the Python that ``runtime.txt`` names, then executes every ``notebooks/*.ipynb`` with that
environment's ``jupyter nbconvert --execute``; the executed copies go to ``test-artifacts/binder/``.

The environment is cached in ``~/.cache/blobedu-binder-venv-<hash>`` ($XDG_CACHE_HOME respected),
the hash covering ``binder/*``, ``requirements/pins.txt`` (the constraints it installs through),
what ``pyproject.toml`` says about installing (``-e .`` installs its dependencies; pytest options do
not count), the repository path (the install is editable) and the
interpreter; older environments of the same checkout are removed when a new one is built. A cache without its completion
marker, or one whose interpreter no longer imports blobedu and JupyterLab, is rebuilt.

Needs a Python of runtime.txt's version (pyenv's is found): without it the test fails when ``CI``
is set and is skipped otherwise. Run just these with ``pytest -m binder``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

import pytest

from browser_support import REPO, artifact_dir, clean_env, missing, notebook_dir, notebook_paths
from conftest import READY_SECONDS

BINDER = REPO / "binder"
NOTEBOOKS = notebook_paths()
MARKER = ".blobedu-binder-ready"
EXECUTE_TIMEOUT = int(os.environ.get("BLOBEDU_BINDER_CELL_TIMEOUT", "900"))  # seconds per cell


# ---- static checks of binder/ (fast) -------------------------------------------------------------

def _requirements() -> list[str]:
    lines = []
    for raw in (BINDER / "requirements.txt").read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def runtime_version() -> str:
    """``3.12`` for a runtime.txt reading ``python-3.12``."""
    runtime = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(\d+\.\d+)", runtime)
    assert match, f"binder/runtime.txt should read python-X.Y, not {runtime!r}"
    return match.group(1)


def test_runtime_is_python_3_12():
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.12"


def test_requirements_install_the_package_through_the_pins():
    lines = _requirements()
    assert "-c ../requirements/pins.txt" in lines, (
        "binder/requirements.txt must install through the pinned file: -c ../requirements/pins.txt")
    assert "-e .[lab]" in lines, "binder/requirements.txt must install blobedu itself, with JupyterLab: -e .[lab]"
    pins = {line.split("==", 1)[0].lower() for line in (REPO / "requirements" / "pins.txt").read_text().splitlines()
            if "==" in line and not line.startswith("#")}
    others = [line for line in lines if not line.startswith(("-c ", "-e "))]
    own_versions = [line for line in others if re.search(r"[=<>~!]", line)]
    assert not own_versions, f"versions belong in requirements/pins.txt, not binder/requirements.txt: {own_versions}"
    unpinned = [line for line in others if line.lower() not in pins]
    assert not unpinned, f"binder/requirements.txt installs what requirements/pins.txt does not pin: {unpinned}"
    assert {"jupyterlab", "notebook", "ipykernel"} <= pins


def test_postbuild_if_any_needs_no_root():
    post = BINDER / "postBuild"
    if not post.exists():
        return
    lines = [line.strip() for line in post.read_text().splitlines()]
    body = [line for line in lines if line and not line.startswith("#")]
    assert body and body[0].startswith("set -e"), "binder/postBuild must start with 'set -e'"
    assert not any(re.search(r"\b(sudo|apt-get|apt|su)\b", line) for line in body), (
        "binder/postBuild runs as the notebook user: no sudo/apt (use binder/apt.txt for system packages)")


# ---- the environment, for real -----------------------------------------------------------------

def _version_of(python: str) -> Optional[str]:
    try:
        out = subprocess.run([python, "-c", "import sys, venv; print('%d.%d.%d' % sys.version_info[:3])"],
                             capture_output=True, text=True, timeout=60, env=clean_env())
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def find_python(version: str) -> Optional[tuple[str, str]]:
    """(path, full version) of a working ``python<version>`` with venv, or None. pyenv's first."""
    candidates: list[Path] = []
    roots = [os.environ.get("PYENV_ROOT"), str(Path.home() / ".pyenv")]
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        roots.append(subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=30).stdout.strip())
    for root in filter(None, roots):
        versions = Path(root) / "versions"
        found = versions.glob(f"{version}.*/bin/python{version}") if versions.is_dir() else []
        # newest patch release first
        candidates += sorted(found, key=lambda p: [int(x) if x.isdigit() else -1
                                                   for x in re.split(r"[.\-]", p.parents[1].name)], reverse=True)
    for name in (f"python{version}",):
        which = shutil.which(name)
        if which:
            candidates.append(Path(which))
    candidates += [Path(f"/usr/bin/python{version}"), Path(f"/usr/local/bin/python{version}")]
    seen = set()
    for path in candidates:
        if str(path) in seen or not path.exists():
            continue
        seen.add(str(path))
        full = _version_of(str(path))
        if full and full.rsplit(".", 1)[0] == version:
            return str(path), full
    return None


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base)


def _install_inputs_of_pyproject() -> str:
    """The parts of pyproject.toml that change what ``pip install -e .`` installs (not pytest's options)."""
    text = (REPO / "pyproject.toml").read_text()
    parts = [m.group(0) for m in re.finditer(
        r"^(?:requires|requires-python|dependencies|name|build-backend)\s*=\s*(?:\[.*?\]|\S.*?)$", text, re.S | re.M)]
    extras = re.search(r"^\[project\.optional-dependencies\](.*?)(?=^\[)", text + "\n[", re.S | re.M)
    return "\n".join(parts + ([extras.group(1)] if extras else []))


def env_key(python: str, full_version: str) -> str:
    h = hashlib.sha256()
    for path in sorted(BINDER.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    for path in (REPO / "requirements" / "pins.txt", REPO / "setup.py"):
        h.update(path.read_bytes() + b"\0")
    h.update(_install_inputs_of_pyproject().encode() + b"\0")
    h.update(f"{REPO}\0{os.path.realpath(python)}\0{full_version}".encode())
    return h.hexdigest()[:16]


def _remove_stale_envs(keep: Path) -> None:
    """Earlier environments of this same checkout (other keys) are dead weight: remove them."""
    for other in keep.parent.glob("blobedu-binder-venv-*"):
        if other == keep or not other.is_dir():
            continue
        try:
            facts = json.loads((other / MARKER).read_text())
        except (OSError, ValueError):
            continue
        if facts.get("repo") == str(REPO):
            shutil.rmtree(other, ignore_errors=True)
            with contextlib.suppress(OSError):
                other.with_name(other.name + ".lock").unlink()


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive lock on ``path`` (two test runs must not build the same environment at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _env_for(venv: Path, **extra: str) -> dict[str, str]:
    env = clean_env(**extra)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return env


def _usable(venv: Path) -> bool:
    if not (venv / MARKER).is_file():
        return False
    check = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import blobedu, jupyterlab, ipywidgets, nbconvert, ipykernel; print(blobedu.__file__)"],
                           capture_output=True, text=True, timeout=120, env=_env_for(venv), cwd=tempfile.gettempdir())
    return check.returncode == 0 and Path(check.stdout.strip()).resolve().is_relative_to(REPO)


def _run_logged(cmd: list[str], log: Path, **kwargs) -> None:
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, **kwargs)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-60:])
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}; {log} ends with:\n{tail}", pytrace=False)


def build_env() -> tuple[Path, dict]:
    """The cached Binder-like environment: (venv path, facts about the build)."""
    version = runtime_version()
    found = find_python(version)
    if not found:
        missing(f"no Python {version} found (binder/runtime.txt asks for it): install it, e.g. pyenv install {version}")
    python, full = found
    venv = _cache_root() / f"blobedu-binder-venv-{env_key(python, full)}"
    facts = {"python": python, "version": full, "venv": str(venv), "repo": str(REPO), "cached": True, "seconds": 0.0}
    with _locked(venv.with_name(venv.name + ".lock")):
        if _usable(venv):
            return venv, facts
        facts["cached"] = False
        started = time.monotonic()
        shutil.rmtree(venv, ignore_errors=True)
        venv.mkdir(parents=True)
        log = venv / "build.log"
        _run_logged([python, "-m", "venv", str(venv)], log, env=clean_env(), timeout=600)
        env = _env_for(venv)
        # What repo2docker runs, from the repository root (so '-e .' is the repository).
        _run_logged([str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", "-r",
                     "binder/requirements.txt"], log, cwd=REPO, env=env, timeout=3600)
        post = BINDER / "postBuild"
        if post.exists():
            _run_logged(["bash", str(post)], log, cwd=REPO, env=env, timeout=3600)
        facts["seconds"] = round(time.monotonic() - started, 1)
        (venv / MARKER).write_text(json.dumps(facts, indent=2))
        _remove_stale_envs(venv)
        if not _usable(venv):
            pytest.fail(f"{venv}: built, but its Python cannot import blobedu (from {REPO}) and JupyterLab; "
                        f"see {log}", pytrace=False)
    return venv, facts


_ENV: dict = {}


@pytest.fixture(scope="module")
def binder_env():
    if "venv" not in _ENV:
        _ENV["venv"], _ENV["facts"] = build_env()
    return _ENV["venv"]


@pytest.mark.binder
def test_binder_env_builds_with_a_python3_kernel_of_its_own(binder_env):
    env = _env_for(binder_env, JUPYTER_DATA_DIR=tempfile.mkdtemp(prefix="blobedu-binder-data-"))
    out = subprocess.run([str(binder_env / "bin" / "jupyter"), "kernelspec", "list", "--json"],
                         capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
    assert out.returncode == 0, out.stderr
    specs = json.loads(out.stdout)["kernelspecs"]
    assert "python3" in specs, f"no python3 kernel in the Binder environment: {list(specs)}"
    argv0 = specs["python3"]["spec"]["argv"][0]
    # "python" means "the interpreter running Jupyter" to jupyter_client: the environment's own.
    assert argv0 in ("python", "python3", f"python{runtime_version()}") or argv0.startswith(str(binder_env) + os.sep), (
        f"the python3 kernel runs {argv0}, not the Binder environment's Python")
    assert specs["python3"]["resource_dir"].startswith(str(binder_env) + os.sep), specs["python3"]["resource_dir"]
    version = subprocess.run([str(binder_env / "bin" / "python"), "-c", "import sys; print(sys.version)"],
                             capture_output=True, text=True, timeout=60).stdout
    assert version.startswith(runtime_version() + "."), version


@pytest.mark.binder
def test_binder_has_notebooks():
    assert NOTEBOOKS, f"no notebooks in {notebook_dir()}: Binder would open an empty folder"


@pytest.mark.binder
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_in_binder_env(binder_env, path):
    out_dir = artifact_dir("binder")
    jupyter_tmp = Path(tempfile.mkdtemp(prefix="blobedu-binder-jupyter-"))
    try:
        env = _env_for(binder_env, JUPYTER_CONFIG_DIR=str(jupyter_tmp / "config"),
                       JUPYTER_DATA_DIR=str(jupyter_tmp / "data"), JUPYTER_RUNTIME_DIR=str(jupyter_tmp / "runtime"))
        # startup_timeout (60 s) and iopub_timeout (4 s, after which outputs are silently dropped) are
        # nbclient's waits for the kernel: readiness waits, generous on a busy machine
        cmd = [str(binder_env / "bin" / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
               f"--ExecutePreprocessor.timeout={EXECUTE_TIMEOUT}", "--ExecutePreprocessor.kernel_name=python3",
               f"--ExecutePreprocessor.startup_timeout={READY_SECONDS}",
               f"--ExecutePreprocessor.iopub_timeout={READY_SECONDS}",
               "--output-dir", str(out_dir), str(path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=EXECUTE_TIMEOUT * 4)
    finally:
        shutil.rmtree(jupyter_tmp, ignore_errors=True)
    assert proc.returncode == 0, (f"{path.name} failed in the Binder environment ({binder_env}):\n"
                                  + "\n".join(proc.stderr.splitlines()[-60:]))
    executed = json.loads((out_dir / path.name).read_text())
    ran_on = executed["metadata"].get("language_info", {}).get("version", "")
    assert ran_on.startswith(runtime_version() + "."), f"{path.name} ran on Python {ran_on!r}, not {runtime_version()}"
    errors = [o for c in executed["cells"] if c["cell_type"] == "code"
              and "raises-exception" not in c.get("metadata", {}).get("tags", [])
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: error outputs: {[e.get('ename') + ': ' + e.get('evalue', '') for e in errors]}"
