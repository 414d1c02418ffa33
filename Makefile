# Slatehouse: `make demo` and `make test` work from a fresh clone.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.slatehouse-installed
DEMO_ARGS ?=

.PHONY: setup test-deps demo test test-slow bench clean-demo

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Slatehouse needs Python 3.11, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q uv
	$(BIN)/uv pip sync -q requirements.lock --python $(BIN)/python
	$(BIN)/uv pip install -q --no-deps -e . --python $(BIN)/python
	touch $@

setup: $(STAMP)
	$(BIN)/slatehouse setup

demo: setup
	SLATEHOUSE_MODE=demo $(BIN)/python -m slatehouse.demo $(DEMO_ARGS)

# What only the tests need: a real browser for the dashboards, PostgreSQL for the shared
# metastore, Airflow in a virtual environment of its own, and an S3 API (moto's server)
# for the object-store warehouse.
test-deps:
	bash .ci/install-chromium.sh
	bash .ci/setup-postgres.sh
	bash .ci/tool-venv.sh airflow
	bash .ci/tool-venv.sh s3-server

# One BLAS thread: the forecast's small matrix work is slower, not faster, when its
# threads compete with Spark's for two cores.
test: setup test-deps
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest

# Only the long scenario (`@pytest.mark.slow`, part of `make test`): a week of daily runs, a
# crashed and resumed backfill, and a comparison with a build from scratch.
test-slow: setup test-deps
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -m slow

bench: setup
	SLATEHOUSE_MODE=demo $(BIN)/python bench/bench_ingest.py

clean-demo:
	rm -rf var
