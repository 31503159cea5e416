# One entry point for people and CI. Every target creates .venv on its own.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e . --group dev
	touch $(STAMP)

demo: $(STAMP)  ## a real suggestion from the shipped playbooks
	$(BIN)/cxplay suggest examples/incidents/parcel_damaged.json

test: $(STAMP)  ## the whole suite, as CI runs it
	$(BIN)/python -m pytest -q

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
