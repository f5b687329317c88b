# The two commands a newcomer needs: `make lab` and `make test`. Both install everything first,
# into .venv, from pyproject.toml (which pins the versions the suite was run against).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json

.PHONY: install lab test bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

# JupyterLab's settings defaults for this venv only (no global state): never ask "Jupyter news?", never
# check for updates. JupyterLab reads <sys.prefix>/share/jupyter/lab/settings/overrides.json.
$(OVERRIDES): etc/lab-overrides.json $(VENV)/.installed
	mkdir -p $(dir $@)
	cp etc/lab-overrides.json $@

# Loopback only; --allow-root only when run as root (JupyterLab refuses root otherwise).
lab: install $(OVERRIDES)
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --LabApp.news_url=None \
		--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
		$(if $(filter 0,$(shell id -u)),--allow-root,) notebooks/00_start_here.ipynb

test: install
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/run.py
	$(PY) benchmarks/redraw.py
