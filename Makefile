# aiida-clathrate: every target installs what it needs first (system packages, .venv, AiiDA profile).
SHELL := /bin/bash
VENV ?= .venv
export AIIDA_PATH ?= $(CURDIR)/.aiida
AIIDA_PROFILE ?= clathrate
export AIIDA_PROFILE
export OMP_NUM_THREADS ?= 1
# The daemon (and its tests) look for `verdi` on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
PYTEST_ARGS ?=
DEMO_MPIPROCS ?= 2

.PHONY: install profile demo test lint docs benchmarks clean

install:
	@bash scripts/install.sh

profile: install
	@bash scripts/profile.sh

## The main job: KRbB6C6 at 0 GPa from the metal pair to Tc (harmonic, SSCHA, EPC, Eliashberg),
## fast protocol, through the daemon (scripts/demo.sh starts and stops it).
demo: profile
	DEMO_MPIPROCS=$(DEMO_MPIPROCS) bash scripts/demo.sh

## The test suite (what CI runs): real pw.x/ph.x, python-sscha and torch at tiny settings.
test: install
	$(VENV)/bin/python -m pytest -ra --durations=15 $(PYTEST_ARGS)

## The documentation site (Sphinx, MyST): docs/_build/html/index.html; warnings are errors.
docs: install
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

benchmarks: install
	$(VENV)/bin/python benchmarks/eliashberg.py
	$(VENV)/bin/python benchmarks/mlp.py

clean:
	rm -rf $(VENV) .aiida .pytest_cache
