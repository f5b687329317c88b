"""``make test-lowest`` for real: every runtime dependency at its lower bound, on Python 3.10, the fast tests pass.

The target makes a fresh environment (here in a temporary folder), installs blobedu with
``requirements/lower_bounds.py``'s constraints, checks with ``pip freeze`` that every bound is what
got installed, and runs the fast tests there.  It is the CI workflow's ``lowest`` job.  It needs a
Python 3.10 (pyenv's is found, as for the Binder test): without one it fails when ``CI`` is set
(this project's CI machine has pyenv's) and is skipped otherwise; the GitHub CI workflow runs it as a
job of its own and says so in ``BLOBEDU_LOWEST_OWN_JOB`` for its main job.  Slow: marked ``lowest``.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from browser_support import REPO, clean_env, missing
from test_binder import find_python

pytestmark = pytest.mark.lowest


def test_make_test_lowest_installs_the_lower_bounds_and_passes_the_fast_tests(tmp_path):
    if os.environ.get("BLOBEDU_LOWEST_OWN_JOB"):
        pytest.skip(f"this CI run has a job of its own for it: {os.environ['BLOBEDU_LOWEST_OWN_JOB']}")
    found = find_python("3.10")
    if not found:
        missing("no Python 3.10 found (requires-python's oldest): install it, e.g. pyenv install 3.10")
    python, _version = found
    venv = tmp_path / "venv-lowest"
    proc = subprocess.run(["make", "test-lowest", f"LOWEST_PYTHON={python}", f"LOWEST_VENV={venv}"], cwd=REPO,
                          capture_output=True, text=True, timeout=7200, env=clean_env(), stdin=subprocess.DEVNULL)
    report = f"{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, f"make test-lowest failed:\n{report}"
    assert "every runtime dependency is at its lower bound" in proc.stdout, report
    assert "Python 3.10." in proc.stdout and " passed" in proc.stdout and " failed" not in proc.stdout, report
