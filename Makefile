# ssd_zoo — `make run` (the main job) and `make test` set everything up on a fresh machine.
#
# GPU users: make MXNET=mxnet-cu112==1.9.1 ...  (any mxnet 1.9.1 build; the default is the CPU
# wheel). The virtual environment is rebuilt when a requirements file changes.

PYTHON ?= python3
VENV ?= .venv
MXNET ?= mxnet==1.9.1
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(subst =,_,$(MXNET))

.PHONY: run test test-all bench lint clean venv

venv: $(STAMP)

$(STAMP): requirements/base.txt requirements/dev.txt setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel setuptools
	$(PY) -m pip install --quiet "$(MXNET)" -r requirements/base.txt -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP)
	$(PY) scripts/run_main.py

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow" tests

test-all: $(STAMP)
	$(PY) -m pytest -q tests

bench: $(STAMP)
	$(PY) scripts/benchmark_ssd.py inference

lint: $(STAMP)
	$(VENV)/bin/ruff check ssd_zoo scripts tests

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
