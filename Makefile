# The two set-up commands are `make run` and `make test`; everything they need is here.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run demo test test-clock docs browser-test lint format fuzz bench bench-quick wrk clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "heatmeter needs Python 3.11 or newer (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps: reinstall when pyproject.toml changes, not on every call.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

## run: install, migrate and serve (embedded Postgres unless DATABASE_URL is set)
run: $(VENV)/.installed
	$(BIN)/heatmeter serve

## demo: fill the database `make run` uses with a labelled synthetic history
demo: $(VENV)/.installed
	$(BIN)/heatmeter demo

## test: install the dev dependencies, lint, and run the whole suite
test: lint tests/js/node_modules/.installed
	$(BIN)/python -m pytest

## test-clock: the suite with heatmeter's clock a year ahead, then a year back, so a test
## that pins a calendar date fails today rather than when a rolling window leaves it behind
test-clock: $(VENV)/.installed-dev tests/js/node_modules/.installed
	HEATMETER_CLOCK_OFFSET=+365d $(BIN)/python -m pytest
	HEATMETER_CLOCK_OFFSET=-365d $(BIN)/python -m pytest

## docs: the docs site from docs/ into site/ (MkDocs, Material); make test builds it --strict
docs: $(VENV)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
	@echo "open site/index.html"

## fuzz: the fuzzers of tests/fuzz/ with random seeds and many more cases (a few minutes)
FUZZ_EXAMPLES ?= 1500
fuzz: $(VENV)/.installed-dev
	HEATMETER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/fuzz --durations=0
# Mermaid 11 (and jsdom) for the test that parses every chart the PR comment emits:
# the versions locked in tests/js/package-lock.json, reinstalled when it changes.
tests/js/node_modules/.installed: tests/js/package-lock.json
	@command -v npm >/dev/null || { echo "make test needs node 18+ and npm (for the Mermaid chart check)"; exit 1; }
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
	@touch $@

## browser-test: the scorecard in a real headless Chromium (needs the chromium package)
browser-test: $(VENV)/.installed-dev
	@command -v chromium >/dev/null || [ -n "$$HEATMETER_CHROMIUM" ] \
		|| { echo "browser-test needs Chromium: apt-get install -y chromium"; exit 1; }
	$(BIN)/python -m pytest -m browser tests/browser

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench: the benchmarks in bench/, printing their figures (installs wrk when it can)
bench: $(VENV)/.installed-dev wrk
	$(BIN)/python bench/action_overhead.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/history.py $(HISTORY_ARGS)
	$(BIN)/python bench/comment_burst.py
	$(BIN)/python bench/scorecard_pages.py

## bench-quick: the same with 200k history rows and 5 s of load
bench-quick: $(VENV)/.installed-dev wrk
	$(BIN)/python bench/ingest.py --duration 5
	$(BIN)/python bench/history.py --rows 200000

# wrk, the external load generator: Debian's package, installed when we are root.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing wrk (Debian package)"; \
	    apt-get install -y -q wrk >/dev/null 2>&1 \
	      || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; } \
	      || { echo "apt-get could not install wrk"; exit 1; }; \
	  else \
	    echo "make bench needs wrk: sudo apt-get install wrk (Debian/Ubuntu), brew install wrk (macOS)"; \
	    exit 1; \
	  fi; }

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tests/js/node_modules site
