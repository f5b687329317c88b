"""The package stands alone: the built wheel, installed outside the repository, brings notebooks that pass nbval.

``make dist`` builds the sdist and, from it, the wheel (into a temporary folder here); then
``make check-dist`` (``.ci/check_wheel.py``) installs the wheel with ``requirements/pins.txt`` into a
virtual environment outside the repository, runs ``blobedu notebooks`` into a temporary folder and
nbval on the copies with that environment: exactly what the release workflow runs on a tag.

The environment is cached in ``~/.cache/blobedu-wheel-venv-<hash>`` ($XDG_CACHE_HOME respected; the
hash covers the repository path, so two checkouts do not share one): rebuilt when the pins, the
wheel's declared dependencies or the Python change; the wheel itself is reinstalled on every run.
Slow (a build, and every notebook run once): marked ``wheel``; ``make test`` runs it.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from browser_support import REPO, clean_env

pytestmark = pytest.mark.wheel


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(["make", "-s", "dist", f"DIST={out}"], cwd=REPO, capture_output=True, text=True,
                          timeout=3600, env=clean_env(), stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"make dist failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return out


def _tracked(folder: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", folder], cwd=REPO, capture_output=True, text=True, check=True)
    return sorted(out.stdout.split())


def test_dist_holds_an_sdist_and_a_wheel_with_every_notebook_and_transcript(dist):
    wheels, sdists = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in dist.iterdir())
    with zipfile.ZipFile(wheels[0]) as zf:
        names = set(zf.namelist())
        for path in _tracked("notebooks"):
            inside = "blobedu/" + path
            assert inside in names, f"the wheel lacks {inside}"
            assert zf.read(inside) == (REPO / path).read_bytes(), f"the wheel's {inside} differs from {path}"
        for path in _tracked("etc"):
            assert "blobedu/" + path in names, f"the wheel lacks blobedu/{path} (blobedu lab's settings)"
        for path in _tracked("blobedu"):
            if path.endswith(".py"):
                assert path in names, f"the wheel lacks {path} (a package setup.py does not list?)"
    with tarfile.open(sdists[0]) as tf:
        root = tf.getnames()[0].split("/")[0]
        members = set(tf.getnames())
    for path in _tracked("notebooks") + ["setup.py", "pyproject.toml", "README.md"]:
        assert f"{root}/{path}" in members, f"the sdist lacks {path}"


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def test_the_installed_wheel_copies_its_notebooks_out_and_they_pass_nbval(dist):
    venv = _cache_root() / f"blobedu-wheel-venv-{hashlib.sha256(str(REPO).encode()).hexdigest()[:12]}"
    proc = subprocess.run(["make", "-s", "check-dist", f"DIST={dist}", f"CHECK_VENV={venv}"], cwd=REPO,
                          capture_output=True, text=True, timeout=7200, env=clean_env(), stdin=subprocess.DEVNULL)
    report = f"{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, f"make check-dist failed:\n{report}"
    assert "blobedu's notebooks are in " in proc.stdout, report
    assert f"({len(_tracked('notebooks'))} file(s) copied" in proc.stdout, report  # into a new, empty folder
    assert "blobedu from " + str(venv.resolve()) in proc.stdout, report  # its own site-packages, not the clone
    # nbval (pytest -v) ran the first cell of every notebook that was copied out, and nothing failed
    # (pytest 9.2 with nbval 0.11 writes the node id of a notebook in the rootdir as "00_x::ipynb::Cell 0";
    # older pairs wrote "00_x.ipynb::Cell 0")
    for stem in sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb")):
        ran = re.search(rf"^{re.escape(stem)}(\.|::)ipynb::Cell 0 PASSED", proc.stdout, re.MULTILINE)
        assert ran, f"{stem}.ipynb did not run from the wheel:\n{report}"
    assert " failed" not in proc.stdout and " passed" in proc.stdout, report
