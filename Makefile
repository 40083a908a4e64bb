# Jincheng public-resource trading platform. `make help` lists the targets.
# Everything installs into .venv on first use, so a fresh clone needs only Python >= 3.11.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test lint format migrate check-migrations smoke bench verify-audit clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 required"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the platform with its dev tools

run: $(STAMP) ## Start PostgreSQL (embedded unless DATABASE_URL), migrate, seed, run the four services
	$(PY) -m tools.run_platform

test: $(STAMP) ## Run the whole test suite on real PostgreSQL (embedded unless TEST_DATABASE_URL)
	$(PY) -m pytest

lint: $(STAMP) ## ruff (lint + format check) and mypy
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: $(STAMP) ## Apply ruff's formatting and safe fixes
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

migrate: $(STAMP) ## Apply all four services' migrations (embedded PostgreSQL unless DATABASE_URL)
	$(PY) -m tools.migrate

check-migrations: $(STAMP) ## Migrate, then `alembic check` every tree: models and migrations must agree
	$(PY) -m tools.migrate --check

smoke: $(STAMP) ## Start the whole platform, check all four /ready, stop
	$(PY) -m tools.run_platform --smoke

bench: $(STAMP) ## Run the benchmarks; figures are printed and written to bench/results/
	$(PY) -m bench.bench_auth
	$(PY) -m bench.bench_ledger
	$(PY) -m bench.bench_trail
	$(PY) -m bench.bench_bids
	$(PY) -m bench.bench_draw

verify-audit: $(STAMP) ## Verify the audit ledger end to end; ARGS="--tree-head sth.json" also checks a saved tree head
	$(PY) -m tools.verify_audit $(ARGS)

clean: ## Remove the virtualenv and local data (var/)
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
