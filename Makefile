# Spaceport: one entry point. `make run` starts the platform, `make test` runs every test.
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)

.PHONY: help venv run test test-unit lint typecheck fmt bench bench-quick clean

help:
	@echo "make run        start NATS, Postgres, S3 and every service (Ctrl-C stops all)"
	@echo "make test       run the whole suite against real NATS, Postgres and S3"
	@echo "make test-unit  fast tests that start no servers"
	@echo "make lint       ruff + mypy strict"
	@echo "make bench      every benchmark next to raw ceilings; writes bench/results.json and prints one table"
	@echo "make bench-quick the same, small (under two minutes); also run by the test suite"

$(UV):
	@echo ">> bootstrapping uv into $(TOOLS)/ (once)"
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv

$(VENV)/.synced: $(UV) pyproject.toml uv.lock shared/pyproject.toml $(wildcard services/*/pyproject.toml)
	@echo ">> syncing the virtualenv from uv.lock"
	$(UV) sync --frozen --all-packages
	@touch $@

venv: $(VENV)/.synced

run: venv
	$(PY) -m spaceport.devinfra.launcher

test: venv
	$(PY) -m pytest

test-unit: venv
	$(PY) -m pytest -m unit

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

fmt: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: venv
	$(PY) -m spaceport.bench

bench-quick: venv
	$(PY) -m spaceport.bench --quick

clean:
	rm -rf $(VENV) $(TOOLS)
