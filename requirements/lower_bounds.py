"""Print pip constraints that hold every dependency of blobedu at the lower bound pyproject.toml gives it.

    python requirements/lower_bounds.py > lowest.txt     # what `make test-lowest` does
    python requirements/lower_bounds.py --check FREEZE   # exit 1 unless pip freeze shows every bound

Runtime dependencies (``[project] dependencies`` and the ``lab`` extra) are held at their lower
bounds (``name>=X`` becomes ``name==X``); test tools are a developer's and stay at their pins, so
they are left out here and ``make test-lowest`` takes them from ``requirements/pins.txt``.  Only
``>=`` bounds are understood: a dependency without one is an error (every dependency has one, with
its reason beside it in pyproject.toml).  Standard library only: tomllib (Python 3.11+), else
tomli, else a small reader of the two lists it needs (Python 3.10 with nothing installed).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomli if it is there, else the small reader below
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError:
        tomllib = None  # type: ignore[assignment]

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
RUNTIME_EXTRAS = ("lab",)
_REQ = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)")


def runtime_requirements(pyproject: Path = PYPROJECT) -> list[str]:
    """The requirement strings of blobedu's runtime dependencies and its ``lab`` extra."""
    text = pyproject.read_text(encoding="utf-8")
    project = tomllib.loads(text)["project"] if tomllib else _read_project(text)
    reqs = list(project["dependencies"])
    for extra in RUNTIME_EXTRAS:
        reqs += project.get("optional-dependencies", {}).get(extra, [])
    return reqs


def _read_project(text: str) -> dict:
    """``[project]``'s dependencies and optional-dependencies, read without a TOML library.

    Enough for this file's own pyproject.toml (one string per requirement, in double quotes, lists in
    square brackets, ``#`` comments); tests/test_dependencies.py checks it reads what tomllib reads.
    """
    def strings(body: str) -> list[str]:
        body = "\n".join(line.split("#", 1)[0] for line in body.splitlines())
        return re.findall(r'"([^"]*)"', body)

    sections = re.split(r"^\[([^\]\n]+)\]\s*$", text, flags=re.M)
    tables = dict(zip(sections[1::2], sections[2::2]))
    deps = re.search(r"^dependencies\s*=\s*\[(.*?)^\]", tables.get("project", ""), re.S | re.M)
    if not deps:
        raise ValueError("pyproject.toml: [project] has no dependencies list")
    extras = {name: strings(body) for name, body in re.findall(
        r"^([A-Za-z0-9_-]+)\s*=\s*\[(.*?)\]", tables.get("project.optional-dependencies", ""), re.S | re.M)}
    return {"dependencies": strings(deps.group(1)), "optional-dependencies": extras}


def lower_bound(requirement: str) -> tuple[str, str]:
    """(name, version) of ``requirement``'s ``>=`` bound; ValueError without exactly one."""
    match = _REQ.fullmatch(requirement)
    if not match:
        raise ValueError(f"cannot read requirement {requirement!r}")
    name, spec = match.group(1), match.group(2)
    bounds = re.findall(r">=\s*([0-9][0-9A-Za-z.+!-]*)", spec)
    if len(bounds) != 1 or "==" in spec:
        raise ValueError(f"{requirement!r} needs exactly one lower bound (>=X)")
    return name.lower(), bounds[0]


def constraints(pyproject: Path = PYPROJECT) -> list[str]:
    """``name==version`` lines, one per runtime dependency, sorted by name."""
    pins: dict[str, str] = {}
    for req in runtime_requirements(pyproject):
        name, version = lower_bound(req)
        if pins.get(name, version) != version:
            raise ValueError(f"{name} has two different lower bounds: {pins[name]} and {version}")
        pins[name] = version
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def check(freeze: str, pyproject: Path = PYPROJECT) -> list[str]:
    """What in ``pip freeze`` output is not at its lower bound: one line per runtime dependency that differs."""
    installed = {}
    for line in freeze.splitlines():
        if "==" in line and not line.startswith(("#", "-")):
            name, version = line.split("==", 1)
            installed[_canonical(name)] = version.strip()
    wrong = []
    for line in constraints(pyproject):
        name, version = line.split("==", 1)
        got = installed.get(_canonical(name))
        if got is None or got.split("+")[0] not in (version, version + ".0", version + ".0.0"):
            wrong.append(f"{name}: installed {got or 'nothing'}, lower bound {version}")
    return wrong


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["--check"] and len(argv) == 2:
            wrong = check(Path(argv[1]).read_text(encoding="utf-8"))
            for line in wrong:
                print(f"lower_bounds: not at its lower bound: {line}", file=sys.stderr)
            if not wrong:
                print(f"lower_bounds: every runtime dependency is at its lower bound ({len(constraints())})")
            return 1 if wrong else 0
        if argv:
            print("usage: lower_bounds.py [--check FREEZE_FILE]", file=sys.stderr)
            return 2
        lines = constraints()
    except (ValueError, KeyError, OSError) as exc:
        print(f"lower_bounds: error: {exc}", file=sys.stderr)
        return 2
    print("# blobedu's runtime dependencies at their lower bounds (generated from pyproject.toml)")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
