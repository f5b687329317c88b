"""The package stands alone: install a built wheel outside the repository, copy its notebooks out, run them.

    python .ci/check_wheel.py dist/blobedu-0.1.0-py3-none-any.whl            # what `make check-dist` runs
    python .ci/check_wheel.py WHEEL --venv ~/.cache/blobedu-wheel-venv --reuse  # tests/test_wheel.py

1. A virtual environment outside the repository gets the wheel, with JupyterLab (``[lab]``), nbval and
   pytest, through ``requirements/pins.txt`` as constraints: the tested versions.
2. From a temporary folder, that environment's Python must import blobedu from its own site-packages
   (not from a clone), and ``blobedu notebooks DIR`` must copy the notebooks into a temporary DIR.
3. nbval runs on the copied notebooks with that environment (``pytest --nbval --nbval-current-env``,
   in DIR, with temporary Jupyter folders): every cell runs and its text output matches the stored one.

With ``--reuse`` the environment at ``--venv`` is kept between runs while its key (the pins, the
wheel's declared dependencies, the Python) is unchanged; the wheel itself is reinstalled every time
(``--force-reinstall --no-deps``), so the check is always of this wheel.  Without ``--reuse`` the
environment is new (a temporary folder unless ``--venv`` is given, then it is replaced).  Exit status:
pytest's (0 when every notebook passes); 2 for a bad argument or a failed install, with one line on
stderr.  Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PINS = REPO / "requirements" / "pins.txt"
MARKER = ".blobedu-wheel-venv-ready"
#: besides the wheel and its [lab] extra: what runs the notebooks
RUNNERS = ["nbval", "pytest"]


class CheckFailed(Exception):
    """A step that is not the notebooks' own test failed (an install, the copy): one line for stderr."""


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what would leak the repository's Python or Jupyter setup in."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("JUPYTER") and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "MPLBACKEND",
                                                         "PYTHONSTARTUP", "PIP_REQUIRE_VIRTUALENV")}
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env.update(extra)
    return env


def _requires(wheel: Path) -> str:
    """The wheel's Requires-Dist lines: what its dependencies are, whatever its code."""
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        lines = zf.read(meta).decode("utf-8").splitlines()
    return "\n".join(sorted(line for line in lines if line.startswith(("Requires-Dist:", "Requires-Python:"))))


def env_key(wheel: Path, python: str) -> str:
    h = hashlib.sha256()
    h.update(PINS.read_bytes() + b"\0" + _requires(wheel).encode() + b"\0")
    version = subprocess.run([python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True,
                             timeout=120).stdout
    h.update(f"{os.path.realpath(python)}\0{version}\0{' '.join(RUNNERS)}".encode())
    return h.hexdigest()[:16]


def _run(cmd: list[str], log: Path, **kwargs) -> None:
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, **kwargs)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        print(tail, file=sys.stderr)
        raise CheckFailed(f"{' '.join(cmd[:4])} ... exited {proc.returncode} (log: {log})")


@contextlib.contextmanager
def _locked(path: Path):
    """Two runs must not build or reinstall into the same environment at once."""
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


def prepare(wheel: Path, venv: Path, reuse: bool, python: str, work: Path) -> bool:
    """The environment at ``venv`` with this wheel installed; True if it was built anew."""
    key = env_key(wheel, python)
    marker = venv / MARKER
    log = work / "install.log"
    env = clean_env()
    fresh = not (reuse and marker.is_file() and json.loads(marker.read_text()).get("key") == key)
    if fresh:
        shutil.rmtree(venv, ignore_errors=True)
        _run([python, "-m", "venv", str(venv)], log, env=env, cwd=work, timeout=600)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
        _run(pip + ["-c", str(PINS), f"blobedu[lab] @ {wheel.resolve().as_uri()}", *RUNNERS], log, env=env, cwd=work,
             timeout=3600)
        marker.write_text(json.dumps({"key": key, "wheel": wheel.name}))
    else:
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
        _run(pip + ["--force-reinstall", "--no-deps", str(wheel.resolve())], log, env=env, cwd=work, timeout=1200)
    return fresh


def check(wheel: Path, venv: Path | None = None, reuse: bool = False, python: str = sys.executable,
          notebooks: Path | None = None) -> int:
    if not wheel.is_file() or wheel.suffix != ".whl":
        raise CheckFailed(f"{wheel} is not a wheel file (build one with make dist)")
    work = Path(tempfile.mkdtemp(prefix="blobedu-check-wheel-"))
    try:
        if venv is None:
            venv = work / "venv"
        lock = venv.with_name(venv.name + ".lock")
        with _locked(lock):
            fresh = prepare(wheel, venv, reuse, python, work)
            vpy = str(venv / "bin" / "python")
            where = subprocess.run([vpy, "-c", "import blobedu; print(blobedu.__file__)"], capture_output=True,
                                   text=True, cwd=work, env=clean_env(), timeout=300)
            location = Path(where.stdout.strip()).resolve() if where.returncode == 0 else None
            if location is None or not location.is_relative_to(venv.resolve()) or location.is_relative_to(REPO):
                raise CheckFailed(f"the environment imports blobedu from {location or where.stderr.strip()[-200:]}, "
                                  f"not from its own site-packages under {venv}")
            folder = notebooks or work / "notebooks"
            copied = subprocess.run([str(venv / "bin" / "blobedu"), "notebooks", str(folder)], capture_output=True,
                                    text=True, cwd=work, env=clean_env(), stdin=subprocess.DEVNULL, timeout=300)
            if copied.returncode != 0 or not (folder / "00_start_here.ipynb").is_file():
                raise CheckFailed(f"blobedu notebooks {folder} failed ({copied.returncode}): "
                                  f"{(copied.stderr or copied.stdout).strip()[-300:]}")
            print(copied.stdout.strip())
            print(f"check_wheel: {wheel.name} in {venv} ({'new' if fresh else 'reused'} environment, "
                  f"blobedu from {location})", flush=True)
            jupyter = work / "jupyter"
            env = clean_env(JUPYTER_CONFIG_DIR=str(jupyter / "config"), JUPYTER_DATA_DIR=str(jupyter / "data"),
                            JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"))
            env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
            env["VIRTUAL_ENV"] = str(venv)
            # -p no:looptime_plugin: looptime's pytest plugin needs pytest-asyncio, which is not installed
            cmd = [vpy, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
                   "-p", "no:looptime_plugin", "-v", "-rf", str(folder)]
            return subprocess.run(cmd, cwd=folder, env=env, stdin=subprocess.DEVNULL, timeout=7200).returncode
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="check_wheel.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, nargs="+", help="the wheel (one; a glob such as dist/*.whl is fine)")
    parser.add_argument("--venv", type=Path, default=None, help="where the environment goes (default: temporary)")
    parser.add_argument("--reuse", action="store_true", help="keep the environment at --venv while its key holds")
    parser.add_argument("--python", default=sys.executable, help="the Python that makes the environment")
    parser.add_argument("--notebooks", type=Path, default=None, help="copy the notebooks here (default: temporary)")
    args = parser.parse_args(argv)
    wheels = [w for w in args.wheel if w.suffix == ".whl"]
    try:
        if len(wheels) != 1:
            raise CheckFailed(f"give exactly one wheel, not {len(wheels)}: {[str(w) for w in args.wheel]}")
        if args.reuse and args.venv is None:
            raise CheckFailed("--reuse needs --venv (a temporary environment cannot be reused)")
        if args.venv is not None and args.venv.resolve().is_relative_to(REPO):
            raise CheckFailed(f"--venv {args.venv} is inside the repository; the point is an environment outside it")
        return check(wheels[0], args.venv, args.reuse, args.python, args.notebooks)
    except CheckFailed as exc:
        print(f"check_wheel: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
