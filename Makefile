# The two commands a newcomer needs: `make lab` and `make test`. Both install everything first,
# into .venv, from pyproject.toml at the versions requirements/pins.txt pins (the tested ones).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

# The oldest Python pyproject.toml's requires-python allows, for `make test-lowest`.
LOWEST_PYTHON ?= python3.10
LOWEST_VENV ?= .venv-lowest
FAST_TESTS := not browser and not binder and not mta and not wheel and not lowest
# The lower-bounds job is small: the tests that drive each runtime dependency's API (boto3/botocore
# and moto, aiosmtpd and aiosmtplib on looptime, blake3, matplotlib, ipywidgets), not the whole suite.
LOWEST_TESTS := tests/test_policy.py tests/test_store.py tests/test_loopback.py tests/test_receiver.py \
	tests/test_delivery.py tests/test_flow.py tests/test_plots.py tests/test_widgets.py tests/test_frames.py \
	tests/test_cli_put.py tests/test_cli_deliver.py tests/test_tolerance.py

DIST ?= dist

.PHONY: install lab test bench site test-lowest dist check-dist

PINS := requirements/pins.txt

# pyproject.toml says what is installed (its ranges); requirements/pins.txt, as constraints, says
# which versions: the tested ones.
$(VENV)/.installed: pyproject.toml setup.py $(PINS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c $(PINS) -e ".[test]"
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

# The second, small job: blobedu's runtime dependencies at the lower bounds pyproject.toml gives
# (requirements/lower_bounds.py turns each >=X into ==X), on the oldest Python it allows, test tools
# at the newest that fit; then the tests that drive those dependencies (LOWEST_TESTS; no notebooks: their
# stored outputs are the pinned versions'). Always a fresh environment.
test-lowest:
	rm -rf $(LOWEST_VENV)
	$(LOWEST_PYTHON) -m venv $(LOWEST_VENV)
	$(PYTHON) requirements/lower_bounds.py > $(LOWEST_VENV)/lower-bounds.txt
	$(LOWEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LOWEST_VENV)/bin/python -m pip install --quiet -c $(LOWEST_VENV)/lower-bounds.txt -e ".[test,lab]"
	$(LOWEST_VENV)/bin/python -m pip freeze --exclude-editable > $(LOWEST_VENV)/installed.txt
	$(LOWEST_VENV)/bin/python requirements/lower_bounds.py --check $(LOWEST_VENV)/installed.txt
	$(LOWEST_VENV)/bin/python -m pytest -m "$(FAST_TESTS)" $(LOWEST_TESTS)

# The release's files: the sdist, and the wheel built from it (so the sdist is proved complete).
# The wheel carries the notebooks and etc/jupyter (setup.py).
dist: install
	rm -rf $(DIST)
	$(PY) -m build --outdir $(DIST) .

# The wheel alone: installed with the pins into a new environment outside the repository, then
# `blobedu notebooks` into a temporary folder and nbval on the copies (.ci/check_wheel.py says how).
# tests/test_wheel.py runs dist and check-dist; CHECK_VENV keeps its environment between runs.
check-dist: install
	$(PY) .ci/check_wheel.py $(wildcard $(DIST)/*.whl) $(if $(CHECK_VENV),--venv $(CHECK_VENV) --reuse,)
