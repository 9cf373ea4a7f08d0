# The two set-up commands are `make run` and `make test`; everything they need is here.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint format fuzz bench clean

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

## test: install the dev dependencies, lint, and run the whole suite
test: lint
	$(BIN)/python -m pytest

## fuzz: the fuzzers of tests/fuzz/ with random seeds and many more cases (a few minutes)
FUZZ_EXAMPLES ?= 1500
fuzz: $(VENV)/.installed-dev
	HEATMETER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/fuzz --durations=0

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench: the benchmarks in bench/, printing their figures
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/action_overhead.py
	$(BIN)/python bench/report_ingest.py
	$(BIN)/python bench/comment_burst.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
