"""Where the notebooks, their transcripts and ``make lab``'s JupyterLab settings are: in the wheel, or in the clone.

The wheel carries them as package data (``setup.py`` maps the repository's ``notebooks/`` onto
``blobedu/notebooks`` and ``etc/`` onto ``blobedu/etc``), so an installed blobedu finds them beside
its own modules.  A clone (``make install`` installs it editable) has no such folders inside
``blobedu/``; there they are the repository's ``notebooks/`` and ``etc/``, one level up.  The
package's copy comes first; the clone's is used only when the folder above ``blobedu/`` really is
blobedu's checkout (it holds ``pyproject.toml`` and ``setup.py`` beside ``blobedu/``), never some
other ``site-packages/notebooks``.  No behaviour here.
"""

from __future__ import annotations

from pathlib import Path

from .errors import BlobeduError

PACKAGE = Path(__file__).resolve().parent
START_HERE = "00_start_here.ipynb"


def _checkout() -> Path | None:
    root = PACKAGE.parent
    if (root / "pyproject.toml").is_file() and (root / "setup.py").is_file() and (root / "blobedu").is_dir():
        return root
    return None


def notebook_folder() -> Path:
    """The folder holding the notebooks (``*.ipynb``) and ``transcripts/``."""
    for candidate in (PACKAGE / "notebooks", (_checkout() or PACKAGE) / "notebooks"):
        if (candidate / START_HERE).is_file():
            return candidate
    raise BlobeduError(f"blobedu's notebooks are not installed beside {PACKAGE} (a broken install?): "
                       "reinstall it with pip install --force-reinstall blobedu")


def notebooks() -> list[Path]:
    """The notebooks, in reading order (by file name: 00_start_here first)."""
    return sorted(p for p in notebook_folder().glob("*.ipynb") if p.is_file())


def transcripts_folder() -> Path:
    """The recorded real-Postfix and real-Exim runs that notebooks 03 and 05 read."""
    return notebook_folder() / "transcripts"


def jupyter_config_folder() -> Path:
    """``etc/jupyter``: put on ``JUPYTER_CONFIG_PATH``, its labconfig turns off Jupyter news and update checks."""
    for candidate in (PACKAGE / "etc" / "jupyter", (_checkout() or PACKAGE) / "etc" / "jupyter"):
        if (candidate / "labconfig").is_dir():
            return candidate
    raise BlobeduError(f"blobedu's JupyterLab settings are not installed beside {PACKAGE} (a broken install?): "
                       "reinstall it with pip install --force-reinstall blobedu")
