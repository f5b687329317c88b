"""A folder of one's own with the notebooks in it (``blobedu notebooks``), and JupyterLab on it (``blobedu lab``).

Copying never loses a reader's work.  The folder keeps a small record, ``.blobedu-notebooks.json``,
of the SHA-256 of every file as blobedu copied it.  A file is then

* **missing**: copied;
* **current**: the same bytes as the package's: left alone;
* **stale**: as blobedu copied it (the reader never changed it) but the package now has another
  version: replaced by the package's;
* **changed**: different from what blobedu copied (the reader ran and saved it, or edited it), or
  present but never copied by blobedu: *kept*, unless the reader says to overwrite it
  (``--force``, or "y" at the question, which is asked only when standard input is a terminal).

:func:`plan` decides, :func:`copy` carries a plan out; neither prints or asks.  :func:`lab_command`
is ``make lab``'s command line for such a folder: JupyterLab on 127.0.0.1 with ``etc/jupyter`` on
``JUPYTER_CONFIG_PATH`` (no "Jupyter news?" prompt, no update check), opened on 00.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BlobeduError
from .packaged import START_HERE, jupyter_config_folder, notebook_folder

RECORD = ".blobedu-notebooks.json"
DEFAULT_FOLDER = "blobedu-notebooks"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def shipped_files() -> list[str]:
    """The files ``blobedu notebooks`` copies, relative to the notebook folder: ``*.ipynb``, the glossary
    they link (``*.md``) and ``transcripts/*.json``."""
    source = notebook_folder()
    files = [p for p in source.glob("*.ipynb") if p.is_file()]
    files += [p for p in source.glob("*.md") if p.is_file()]
    files += [p for p in (source / "transcripts").glob("*.json") if p.is_file()]
    return sorted(p.relative_to(source).as_posix() for p in files)


@dataclass
class Plan:
    """What copying into ``target`` does, file by file (names relative to ``target``)."""

    target: Path
    missing: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    @property
    def notebook(self) -> Path:
        """The notebook to open first."""
        return self.target / START_HERE


def _shown(path: Path) -> str:
    shown = repr(str(path))
    return shown if len(shown) <= 80 else shown[:77] + "...'"


def _read_record(target: Path) -> dict[str, str]:
    try:
        record = json.loads((target / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = record.get("files") if isinstance(record, dict) else None
    if not isinstance(files, dict):
        return {}
    return {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, str)}


def plan(target: str | os.PathLike) -> Plan:
    """Sort every shipped file into missing, current, stale or changed for the folder ``target``."""
    text = os.fspath(target)
    if not text.strip() or "\0" in text:
        raise BlobeduError(f"folder {text!r} is not a usable folder name")
    folder = Path(text)  # a shell has expanded ~ already; a quoted '~' is a folder of that name
    try:
        folder = folder.resolve()
        if folder.exists() and not folder.is_dir():
            raise BlobeduError(f"{_shown(folder)} is a file, not a folder: give a folder for the notebooks")
        source = notebook_folder()
        record = _read_record(folder)
        result = Plan(folder)
        for name in shipped_files():
            here = folder / name
            if not here.exists():
                result.missing.append(name)
                continue
            if not here.is_file():
                result.changed.append(name)  # a folder in the way: never removed
                continue
            mine = _digest(here)
            if mine == _digest(source / name):
                result.current.append(name)
            elif record.get(name) == mine:
                result.stale.append(name)
            else:
                result.changed.append(name)
        return result
    except OSError as exc:
        raise BlobeduError(f"cannot read the folder {_shown(folder)}: {exc.strerror or exc}") from None


def copy(p: Plan, overwrite_changed: bool = False) -> list[str]:
    """Carry out ``p``: copy what is missing or stale (and what is changed, if ``overwrite_changed``).

    Returns the names written.  The record is updated for every file that now holds the package's bytes.
    """
    source = notebook_folder()
    names = p.missing + p.stale + (p.changed if overwrite_changed else [])
    try:
        p.target.mkdir(parents=True, exist_ok=True)
        record = _read_record(p.target)
        for name in names:
            dest = p.target / name
            if dest.is_dir() and not dest.is_symlink():
                raise BlobeduError(f"{_shown(dest)} is a folder where blobedu's {name} goes: move it away first")
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".blobedu-tmp")
            shutil.copyfile(source / name, tmp)
            os.replace(tmp, dest)
        for name in names + p.current:
            record[name] = _digest(source / name)
        (p.target / RECORD).write_text(json.dumps({"files": dict(sorted(record.items()))}, indent=1) + "\n",
                                       encoding="utf-8")
    except OSError as exc:
        raise BlobeduError(f"cannot copy the notebooks into {_shown(p.target)}: {exc.strerror or exc}") from None
    return names


def lab_command(folder: Path, port: int | None = None, open_browser: bool = True) -> tuple[list[str], dict[str, str]]:
    """``make lab``'s command for ``folder``: (argv, environment). Run it with ``folder`` as working directory."""
    config = str(jupyter_config_folder())
    env = dict(os.environ)
    env["JUPYTER_CONFIG_PATH"] = config + (os.pathsep + env["JUPYTER_CONFIG_PATH"] if env.get("JUPYTER_CONFIG_PATH") else "")
    argv = [sys.executable, "-m", "jupyterlab", "--ServerApp.ip=127.0.0.1", "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", f"--ServerApp.root_dir={folder}"]
    if port is not None:
        argv += [f"--ServerApp.port={port}", "--ServerApp.port_retries=0"]
    if not open_browser:
        argv.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")  # JupyterLab refuses root otherwise; make lab does the same
    argv.append(str(folder / START_HERE))
    return argv, env
