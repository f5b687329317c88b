"""The GitHub workflows: they parse, they trigger as RELEASING.md says, and they run only what a test here runs.

Workflows cannot run here, so every command in a ``run:`` step must be ``bash .ci/run`` (which runs
``make test``, this suite) or ``make TARGET`` for a target in the Makefile that a test here runs
too: :data:`RUN_HERE_BY` names that test, and this file checks that it really invokes the target.
Everything else in a workflow is a pinned ``uses:`` action (checkout, setup-python, Pages, artifacts).
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
import yaml

from browser_support import REPO

WORKFLOWS = REPO / ".github" / "workflows"
#: make target -> (test file that runs it, what that file must contain to run it)
RUN_HERE_BY = {
    "dist": ("tests/test_wheel.py", '"dist"'),
    "check-dist": ("tests/test_wheel.py", '"check-dist"'),
    "test-lowest": ("tests/test_lowest.py", '"test-lowest"'),
    # `make site` is `python -m blobedu.site --out site`; tests/test_site.py builds the site with blobedu.site
    "site": ("tests/test_site.py", "from blobedu.site import build"),
}
ACTIONS = {"actions/checkout@v4", "actions/setup-python@v5", "actions/upload-artifact@v4",
           "actions/upload-pages-artifact@v3", "actions/deploy-pages@v4"}


def _load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _on(workflow: dict) -> dict:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true


def _steps():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_name, job in _load(path.name)["jobs"].items():
            for step in job.get("steps", []):
                yield path.name, job_name, step


def _makefile_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z][A-Za-z0-9_-]*):", (REPO / "Makefile").read_text(), re.M))


def test_there_are_the_three_workflows_and_each_parses():
    assert sorted(p.name for p in WORKFLOWS.glob("*.y*ml")) == ["ci.yml", "pages.yml", "release.yml"]
    for path in WORKFLOWS.glob("*.yml"):
        workflow = _load(path.name)
        assert isinstance(workflow, dict) and workflow.get("name") and workflow.get("jobs"), path.name
        for job in workflow["jobs"].values():
            assert job["runs-on"] == "ubuntu-latest" and job.get("steps"), path.name


def test_ci_runs_ci_run_on_every_push_and_pull_request_and_the_lowest_bounds():
    ci = _load("ci.yml")
    assert set(_on(ci)) == {"push", "pull_request"} and not any(_on(ci).values()), "every push and PR, no filter"
    steps = {name: [s.get("run") for s in job["steps"] if "run" in s] for name, job in ci["jobs"].items()}
    assert steps["test"] == ["bash .ci/run"]
    assert steps["lowest"] == ["make test-lowest"]
    # the main job skips tests/test_lowest.py only because this job runs the same target
    assert ci["jobs"]["test"]["env"]["BLOBEDU_LOWEST_OWN_JOB"]
    lowest_python = [s["with"]["python-version"] for s in ci["jobs"]["lowest"]["steps"]
                     if s.get("uses", "").startswith("actions/setup-python")]
    assert lowest_python == ["3.10"], "the lowest job runs on the oldest Python requires-python allows"


def test_pages_runs_make_site_and_deploys_site():
    pages = _load("pages.yml")
    assert _on(pages)["push"]["branches"] == ["main"]
    build = pages["jobs"]["build"]["steps"]
    assert [s["run"] for s in build if "run" in s] == ["make site"]
    upload = [s for s in build if s.get("uses", "").startswith("actions/upload-pages-artifact")]
    assert upload and upload[0]["with"]["path"] == "site"
    assert pages["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert pages["jobs"]["deploy"]["needs"] == "build"


def test_release_builds_and_checks_the_wheel_on_a_version_tag():
    release = _load("release.yml")
    assert _on(release) == {"push": {"tags": ["v[0-9]*"]}}
    steps = release["jobs"]["dist"]["steps"]
    assert [s["run"] for s in steps if "run" in s] == ["make dist", "make check-dist"]


def test_every_action_is_a_known_pinned_major():
    used = {step["uses"] for _, _, step in _steps() if "uses" in step}
    assert used <= ACTIONS, f"unreviewed actions: {used - ACTIONS}"


def test_every_command_is_ci_run_or_a_make_target_that_a_test_here_runs():
    targets = _makefile_targets()
    commands = [(wf, job, step["run"]) for wf, job, step in _steps() if "run" in step]
    assert commands
    pending = []
    for wf, job, command in commands:
        assert "\n" not in command.strip(), f"{wf}/{job}: one command per step: {command!r}"
        argv = shlex.split(command)
        if argv == ["bash", ".ci/run"]:
            ci_lines = [line.strip() for line in (REPO / ".ci/run").read_text().splitlines()
                        if line.strip() and not line.lstrip().startswith("#")]
            assert ci_lines[-1] == "make test", ".ci/run must end by running the suite"
            continue
        assert argv[0] == "make" and len(argv) >= 2, f"{wf}/{job}: {command!r} is neither bash .ci/run nor make TARGET"
        target = argv[1]
        assert all(re.fullmatch(r"[A-Z_]+=\S*", a) for a in argv[2:]), f"{wf}/{job}: {command!r}: only VAR=value after the target"
        assert target in RUN_HERE_BY, f"{wf}/{job}: make {target}: no test here is known to run it (add it to RUN_HERE_BY)"
        test_file, needle = RUN_HERE_BY[target]
        if target not in targets or not (REPO / test_file).exists():
            pending.append(f"{wf}/{job}: make {target} (Makefile target: {target in targets}; {test_file})")
            continue
        assert needle in (REPO / test_file).read_text(), f"{test_file} does not run make {target} ({needle!r})"
        if target == "site":
            recipe = (REPO / "Makefile").read_text().split("\nsite:", 1)[1].split("\n\n", 1)[0]
            assert "-m blobedu.site" in recipe, "make site must be python -m blobedu.site, which test_site.py builds with"
    if pending:
        # make site and tests/test_site.py come with issue #19 (branch site); once merged this checks them
        if os.environ.get("CI"):
            pytest.fail(f"not in this checkout: {pending}")
        pytest.skip(f"not on this branch yet (issue #19): {pending}")
