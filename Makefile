# The two commands a newcomer needs: `make lab` and `make test`. Both install everything first,
# into .venv, from pyproject.toml (which pins the versions the suite was run against).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install lab test bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

# Loopback only; --allow-root only when run as root (JupyterLab refuses root otherwise).
lab: install
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root,) notebooks/00_start_here.ipynb

test: install
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/run.py
