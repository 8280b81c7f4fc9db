# The two commands a newcomer needs: `make run` and `make test`.
# Each creates the virtual environment in .venv and installs what it needs.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Test processes side by side (pytest-xdist); 1 runs the suite in this process.
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help install run test test-postgres lint typecheck check openapi client-check schema-check clean bench soak scale-check

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the package with its dev tools

run: $(STAMP) ## Migrate, seed and serve the API on http://$(HOST):$(PORT) (SQLite under var/)
	$(BIN)/rehab migrate
	$(BIN)/rehab seed --placeholder-media
	$(BIN)/rehab serve --host $(HOST) --port $(PORT)

test: $(STAMP) ## Run the test suite (PostgreSQL too when TEST_DATABASE_URL is set)
	$(BIN)/pytest -q -n $(TEST_WORKERS)

test-postgres: $(STAMP) ## Run the test suite against the local PostgreSQL
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} $(BIN)/pytest -q -n $(TEST_WORKERS)

lint: $(STAMP) ## ruff (lint and formatting) and the layering contracts (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP) ## mypy --strict
	$(BIN)/mypy

check: lint typecheck test ## Everything CI checks on SQLite

openapi: $(STAMP) ## Write the OpenAPI document to openapi.json
	$(BIN)/rehab openapi --output openapi.json

client-check: $(STAMP) ## Type-check the mobile flows against a client generated from the OpenAPI document (Node.js)
	clients/typescript/check

schema-check: $(STAMP) ## schemathesis run --checks all against a served instance, as a member, a clinic owner and an API client
	SCHEMATHESIS_CLI=1 $(BIN)/pytest -q -p no:cacheprovider tests/test_schemathesis_cli.py

bench: $(STAMP) ## Measure the API against a hello-world with wrk (BENCH_SECONDS, BENCH_DATABASE_URL)
	$(BIN)/python -m bench $(BENCH_ARGS)

soak: $(STAMP) ## Soak and crash test, SQLite then PostgreSQL (SOAK_DATABASE_URL, SOAK_ARGS)
	$(BIN)/python -m soak $(SOAK_ARGS)

scale-check: $(STAMP) ## Several instances on PostgreSQL and Redis: concurrent start, cross-instance freshness, same-UUID race, no deadlocks, a PostgreSQL restart (SCALE_DATABASE_URL, SCALE_REDIS_URL, SCALE_POSTGRES_STOP/START)
	SCALE_CHECK=1 TEST_DATABASE_URL=$${SCALE_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} \
	TEST_REDIS_URL=$${SCALE_REDIS_URL:-redis://127.0.0.1:6379/1} \
	$(BIN)/pytest -q -s -p no:cacheprovider tests/scale

clean: ## Remove the virtual environment and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
