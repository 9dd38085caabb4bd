# Two commands for a newcomer: `make serve` and `make test`. Each creates .venv if it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
ASSETS := node_modules/.installed

.PHONY: serve test lint typecheck pytest screenshots bench bench-quick eval schema clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

# GraphiQL's scripts and styles, so the explorer works without internet access.
$(ASSETS): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for tests/test_browser.py, driven by Playwright from the dev extras. Never
# `playwright install`: it downloads browsers from a CDN. The tests fail (never skip) without it.
CHROMIUM := $(or $(CHROMIUM),$(shell command -v chromium 2>/dev/null),/usr/bin/chromium)
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "no $@: install Chromium or set CHROMIUM=path" >&2; exit 1; }
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

serve: $(STAMP) $(ASSETS)
	$(BIN)/python -m graph

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

pytest: $(DEV_STAMP) $(ASSETS) $(CHROMIUM)
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest
	$(BIN)/coverage combine --quiet || true
	$(BIN)/coverage report

test: lint typecheck pytest

# Re-take docs/graphiql.png and docs/live.png from a real browser run.
screenshots: $(DEV_STAMP) $(ASSETS) $(CHROMIUM)
	UPDATE_SCREENSHOTS=1 $(BIN)/pytest -q -p no:cacheprovider tests/test_browser.py

# Every benchmark, ours next to the peers (< 10 min on 2 cores); writes bench/results/latest.json.
bench: $(STAMP)
	$(BIN)/python -m bench

# The reduced set (about a minute; query N=200 included), written outside the repository;
# tests/test_bench.py runs it too.
bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick --out $${TMPDIR:-/tmp}/kalshi-graph-bench-quick.json

eval: $(STAMP)
	$(BIN)/python -m bench.eval

schema: $(STAMP)
	$(BIN)/python -c 'from graph.schema import schema; print(schema, end="")' > schema.graphql

clean:
	rm -rf $(VENV) node_modules .coverage .mypy_cache .ruff_cache .pytest_cache
