# One entry point for people and CI. Every target creates .venv on its own.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lint bench clean ci

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e . --group dev
	@# pip compiles what it installs, not an editable project: without this, a shell with
	@# PYTHONDONTWRITEBYTECODE=1 compiles cxplay's modules at every start (docs/performance.md)
	$(BIN)/python -m compileall -q cxplay > /dev/null
	touch $(STAMP)

demo: $(STAMP)  ## a real suggestion from the shipped playbooks
	$(BIN)/cxplay suggest examples/incidents/parcel_damaged.json

test: $(STAMP)  ## the whole suite (components that are missing: skipped, with the reason)
	$(BIN)/python -m pytest -q

# What .ci/run runs: the system components started or installed (.ci/services), then lint
# and the whole suite with CI=true, where a missing component fails instead of skipping.
CXPLAY_TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
ci: $(STAMP)  ## exactly what CI runs, services included
	.ci/services
	$(MAKE) lint
	CI=true CXPLAY_TEST_DATABASE_URL="$(CXPLAY_TEST_DATABASE_URL)" $(MAKE) test

test-fast: $(STAMP)  ## skip the slow stress/memory/property tests
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)  ## style and types
	$(BIN)/ruff check cxplay tests benchmarks examples scripts
	$(BIN)/ruff format --check cxplay tests benchmarks examples scripts
	$(BIN)/mypy

bench: $(STAMP)  ## engine and rendering benchmarks
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
