# Two commands for a newcomer: `make serve` and `make test`. Each creates .venv if it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
ASSETS := node_modules/.installed

.PHONY: serve test test-fast lint typecheck pytest screenshots bench bench-quick eval schema constraints clean cluster

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# constraints.txt pins every installed distribution to the versions the tests passed on, so a
# fresh clone (and CI) gets those, not whatever was released since.
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(DEV_STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@ $(STAMP)

# GraphiQL's scripts and styles, so the explorer works without internet access: npm fetches
# them, then they are copied into the package (graph/web/vendor/, git-ignored package data).
$(ASSETS): package.json package-lock.json | $(STAMP)
	npm ci --no-audit --no-fund --loglevel=error
	$(BIN)/python -m graph.web.graphiql
	touch $@

# Debian's Chromium for tests/test_browser.py, driven by Playwright from the dev extras. Never
# `playwright install`: it downloads browsers from a CDN. The tests fail (never skip) without it.
CHROMIUM := $(or $(CHROMIUM),$(shell command -v chromium 2>/dev/null),/usr/bin/chromium)
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "no $@: install Chromium or set CHROMIUM=path" >&2; exit 1; }
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

# Debian's redis-server for the scale-out tests (tests/cluster/) and `make cluster`. The tests
# fail (never skip) without it under CI.
REDIS_SERVER := $(or $(REDIS_SERVER),$(shell command -v redis-server 2>/dev/null),/usr/bin/redis-server)
$(REDIS_SERVER):
	@command -v apt-get >/dev/null || { echo "no $@: install redis-server or set REDIS_SERVER=path" >&2; exit 1; }
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server

serve: $(STAMP) $(ASSETS)
	$(BIN)/python -m graph

# Two workers on HOST:PORT sharing a local redis-server and one simulator (README "Scaling out").
cluster: $(STAMP) $(ASSETS) $(REDIS_SERVER)
	$(BIN)/python -m graph.cluster

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

pytest: $(DEV_STAMP) $(ASSETS) $(CHROMIUM) $(REDIS_SERVER)
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest
	$(BIN)/coverage combine --quiet || true
	$(BIN)/coverage report

test: lint typecheck pytest

# The fast tier (< 1 min): everything but end-to-end, browser, npm, fuzz and bench tests.
test-fast: $(DEV_STAMP) $(ASSETS)
	$(BIN)/pytest -q -m "not (e2e or browser or npm or fuzz or bench)"

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
	$(BIN)/python -c 'from graph.api.schema import schema; print(schema, end="")' > schema.graphql

# After changing dependencies in pyproject.toml: re-resolve and pin what the tests will run on.
constraints: | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade -e '.[dev]'
	{ sed -n 1,2p constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v '^-e'; } > constraints.tmp
	mv constraints.tmp constraints.txt

clean:
	rm -rf $(VENV) node_modules .coverage .mypy_cache .ruff_cache .pytest_cache
