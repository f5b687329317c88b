# The two commands a newcomer needs: `make lab` and `make test`. Both install everything first,
# into .venv, from pyproject.toml (which pins the versions the suite was run against).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install lab test bench site

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

# etc/jupyter is on JupyterLab's config path for this command only (no global state, nothing copied):
# its labconfig/default_setting_overrides.json says never fetch Jupyter news (so no "Jupyter news?"
# prompt) and never check for updates. Loopback only; --allow-root only when run as root
# (JupyterLab refuses root otherwise).
lab: install
	JUPYTER_CONFIG_PATH="$(CURDIR)/etc/jupyter$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH),)" \
		$(VENV)/bin/jupyter lab --ip=127.0.0.1 --LabApp.news_url=None \
		--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
		$(if $(filter 0,$(shell id -u)),--allow-root,) notebooks/00_start_here.ipynb

test: install
	$(PY) -m pytest

# The static site: site/index.html (the README's question table) and site/NN_name.html for every
# notebook, from the STORED notebooks (nothing is executed), with the widget manager's embed.js from
# npm (@jupyter-widgets/html-manager 1.x, fetched once into build/site-npm/ and checked against its
# sha512) so the pages' sliders work with no kernel and no CDN.  blobedu/site.py says how.
site: install
	$(PY) -m blobedu.site --out site

bench: install
	$(PY) benchmarks/run.py
	$(PY) benchmarks/redraw.py
