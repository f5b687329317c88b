"""The notebooks travel inside the wheel without moving in the repository.

Everything about the project is in ``pyproject.toml``; this file only adds two data-only packages
that setuptools maps onto folders beside ``blobedu/`` (``[tool.setuptools]`` in pyproject.toml cannot
combine package discovery with such a mapping):

* ``blobedu/notebooks`` (in the wheel) is the repository's ``notebooks/``: every ``*.ipynb``, the
  glossary they link (``glossary.md``) and
  ``transcripts/*.json`` (the real Postfix and Exim runs that notebooks 03 and 05 read);
* ``blobedu/etc`` is the repository's ``etc/``: ``jupyter/labconfig/*.json``, ``make lab``'s
  JupyterLab settings, which ``blobedu lab`` puts on ``JUPYTER_CONFIG_PATH``.

:mod:`blobedu.packaged` finds them in the installed package, or in the clone for an editable
install. ``tests/test_wheel.py`` checks that every file git tracks under ``notebooks/`` is in
the wheel, so a new data folder cannot be forgotten here.
"""

from setuptools import find_packages, setup

# every folder is named as a package (setuptools will stop shipping data folders that are not)
DATA_PACKAGES = {
    "blobedu.notebooks": "notebooks",
    "blobedu.notebooks.transcripts": "notebooks/transcripts",
    "blobedu.etc": "etc",
    "blobedu.etc.jupyter": "etc/jupyter",
    "blobedu.etc.jupyter.labconfig": "etc/jupyter/labconfig",
}

setup(
    packages=find_packages(include=["blobedu", "blobedu.*"]) + list(DATA_PACKAGES),
    package_dir=DATA_PACKAGES,
    package_data={
        "blobedu.notebooks": ["*.ipynb", "*.md"],
        "blobedu.notebooks.transcripts": ["*.json"],
        "blobedu.etc.jupyter.labconfig": ["*.json"],
    },
)
