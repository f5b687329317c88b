"""Ranges for users, pins for reproducibility.

* ``pyproject.toml`` declares ranges: every requirement has exactly one lower bound (``>=X``), no
  ``==``, and a comment in the file gives the reason for it, naming the package and that version.
* ``requirements/pins.txt`` holds the tested versions: every requirement is pinned there, inside its
  range; ``make`` installs through it (``-c``), ``.ci/run`` runs ``make test``, Binder's
  requirements take it with ``-c`` (checked in tests/test_binder.py).
* The suite, run from ``.venv``, runs at those pins.
* ``requirements/lower_bounds.py`` (``make test-lowest``) turns the runtime ranges into ``==`` at
  their lower bounds, and can check a ``pip freeze`` against them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from browser_support import REPO

sys.path.insert(0, str(REPO / "requirements"))
import lower_bounds  # noqa: E402

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (make test-lowest)
    import tomli as tomllib

PYPROJECT = REPO / "pyproject.toml"
PINS = REPO / "requirements" / "pins.txt"


def _project() -> dict:
    return tomllib.loads(PYPROJECT.read_text())["project"]


def _requirements() -> list[Requirement]:
    project = _project()
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    return [Requirement(r) for r in reqs]


def _pins() -> dict[str, str]:
    pins = {}
    for line in PINS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==", 1)
            pins[_canonical(name)] = version
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _short(version: str) -> str:
    """``3.9`` for ``3.9.0``: how a reason may name a version."""
    return re.sub(r"(\.0)+$", "", version)


def test_every_requirement_is_a_range_with_one_lower_bound():
    for req in _requirements():
        ops = [spec.operator for spec in req.specifier]
        assert ops == [">="], f"{req}: a range with exactly one lower bound (>=X) and no pin, not {ops}"


def test_every_lower_bound_has_its_reason_in_a_comment():
    comments = " ".join(line.split("#", 1)[1] for line in PYPROJECT.read_text().splitlines() if "#" in line)
    for req in _requirements():
        bound = _short(next(iter(req.specifier)).version)
        pattern = rf"\b{re.escape(req.name)}\s+{re.escape(bound)}(?:\.0)*(?![.\d])"
        assert re.search(pattern, comments, re.IGNORECASE), (
            f"pyproject.toml: no comment gives the reason for {req} (expected it to name '{req.name} {bound}')")


def test_pins_are_exact_and_every_requirement_is_pinned_inside_its_range():
    text = PINS.read_text()
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    loose = [line for line in lines if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[0-9][0-9A-Za-z.+!-]*", line)]
    assert not loose, f"requirements/pins.txt holds name==version lines only: {loose}"
    names = [_canonical(line.split("==")[0]) for line in lines]
    assert len(names) == len(set(names)), "a package is pinned twice in requirements/pins.txt"
    pins = _pins()
    for req in _requirements():
        pinned = pins.get(_canonical(req.name))
        assert pinned, f"{req.name} is a requirement but requirements/pins.txt does not pin it"
        assert req.specifier.contains(Version(pinned)), f"requirements/pins.txt pins {req.name} {pinned}, outside {req}"


def test_make_installs_through_the_pins_and_ci_runs_make_test():
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile.split("$(VENV)/.installed:", 1)[1].split("\n\n", 1)[0]
    assert "PINS := requirements/pins.txt" in makefile and "$(PINS)" in recipe.splitlines()[0]
    assert re.search(r"pip install .*-c \$\(PINS\) -e \"\.\[test\]\"", recipe), recipe
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert "make test" in [line.strip() for line in ci if not line.lstrip().startswith("#")]


def test_this_suite_runs_at_the_pins():
    if Path(sys.prefix).resolve() != (REPO / ".venv").resolve():
        pytest.skip(f"not run from the repository's .venv ({sys.prefix}): make test-lowest, or another environment")
    pins = _pins()
    differ = {}
    for req in _requirements():
        try:
            got = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            got = None
        if got != pins[_canonical(req.name)]:
            differ[req.name] = (got, pins[_canonical(req.name)])
    assert not differ, f".venv differs from requirements/pins.txt (installed, pinned): {differ}; run make install"


def test_lower_bounds_are_the_runtime_requirements_held_at_their_bounds():
    lines = lower_bounds.constraints()
    project = _project()
    runtime = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["lab"]]
    expected = sorted({f"{r.name.lower()}=={next(iter(r.specifier)).version}" for r in runtime})
    assert lines == expected
    assert "moto==5.0.0" in lines  # extras dropped: a constraint cannot carry them


def test_lower_bounds_refuse_a_requirement_without_exactly_one_bound(tmp_path):
    for bad in ('"boto3"', '"boto3==1.0"', '"boto3>=1,>=2"', '"boto3<2"'):
        path = tmp_path / "pyproject.toml"
        path.write_text(f"[project]\nname = 'x'\ndependencies = [{bad}]\n")
        with pytest.raises(ValueError):
            lower_bounds.constraints(path)


def test_lower_bounds_check_finds_every_package_above_its_bound():
    lines = lower_bounds.constraints()
    at_bounds = "\n".join(lines + ["numpy==2.2.6"])
    assert lower_bounds.check(at_bounds) == []
    moved = at_bounds.replace("moto==5.0.0", "moto==5.2.1")
    assert lower_bounds.check(moved) == ["moto: installed 5.2.1, lower bound 5.0.0"]
    missing = "\n".join(line for line in lines if not line.startswith("looptime=="))
    assert lower_bounds.check(missing) == ["looptime: installed nothing, lower bound 0.3"]


def test_lower_bounds_command_line():
    run = subprocess.run([sys.executable, str(REPO / "requirements" / "lower_bounds.py")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.splitlines()[1:] == lower_bounds.constraints()
    bad = subprocess.run([sys.executable, str(REPO / "requirements" / "lower_bounds.py"), "--nope"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_make_test_lowest_installs_the_bounds_on_the_oldest_python_and_runs_the_fast_tests():
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile.split("\ntest-lowest:", 1)[1].split("\n\n", 1)[0]
    requires = _project()["requires-python"]
    assert requires == ">=3.10" and "LOWEST_PYTHON ?= python3.10" in makefile
    assert "requirements/lower_bounds.py > $(LOWEST_VENV)/lower-bounds.txt" in recipe
    assert '-c $(LOWEST_VENV)/lower-bounds.txt -e ".[test,lab]"' in recipe
    assert "requirements/lower_bounds.py --check" in recipe
    assert 'pytest -m "$(FAST_TESTS)" tests' in recipe


def test_the_python_3_10_reader_reads_what_tomllib_reads():
    text = PYPROJECT.read_text()
    project = tomllib.loads(text)["project"]
    assert lower_bounds._read_project(text) == {"dependencies": project["dependencies"],
                                                "optional-dependencies": project["optional-dependencies"]}


def test_the_readme_table_of_tested_and_lowest_versions_matches_the_pins_and_the_bounds():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Tested versions", 1)[1].split("\n## ", 1)[0]
    block = section.split("```", 2)[1]
    rows = {}
    for line in block.strip().splitlines()[2:]:
        name, tested, lowest = line.split()
        rows[name] = (tested, lowest)
    pins = _pins()
    expected = {line.split("==")[0]: (pins[line.split("==")[0]], line.split("==")[1])
                for line in lower_bounds.constraints()}
    assert rows == expected, "README.md's 'Tested versions' table differs from requirements/pins.txt and pyproject.toml"
    python_row = block.strip().splitlines()[1]
    assert python_row.split()[-1] == _project()["requires-python"].removeprefix(">=")
    assert f"{(REPO / 'binder' / 'runtime.txt').read_text().strip().removeprefix('python-')} in CI and Binder" in python_row
