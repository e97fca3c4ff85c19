# Two commands on a fresh machine with Python 3.11, make, git, npm (and Java for Spark):
#   make demo   set up the environment, generate a sample, build the warehouse, print headline numbers
#   make test   set up the environment, lint SQL and Python, run all of pytest (CI; it builds + tests every model on fixture data)
#   make test-fast  lint + pytest without the Spark and slow tests (~6 min; see README "Development")
PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
TEST_WAREHOUSE := build/test/fixtures.duckdb
DOCS_ASSETS := gx/assets/node_modules
export UV_PYTHON_DOWNLOADS := never
# Python writes the packages' bytecode as the commands below first import them. Where
# PYTHONDONTWRITEBYTECODE is set (as on this project's CI machines) every process would
# otherwise compile Prefect, dbt, GX and pandas from source at each start (imports:
# 9.6 s -> 3.7 s; README "Speed"). Compiling only what is imported is cheaper than compiling
# every package at install (UV_COMPILE_BYTECODE: ~1 min of a fresh clone's set-up).
unexport PYTHONDONTWRITEBYTECODE
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1

.PHONY: setup demo test test-fast test-soak lint lint-sql lint-python lint-semantic dbt-test pytest bench clean browser

setup: $(VENV)/.installed $(DOCS_ASSETS)/.installed

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --all-extras --python $(PYTHON)
	touch $@

# Great Expectations Data Docs load Bootstrap, jQuery etc. from CDNs: the same files, locked in
# gx/assets/package-lock.json, are installed from the npm registry and served beside the pages.
$(DOCS_ASSETS)/.installed: gx/assets/package.json gx/assets/package-lock.json
	cd gx/assets && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

# headless Chromium (Debian package) for the browser test of the report and the Data Docs
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

demo: setup
	$(BIN)/loyalty demo

# (pytest builds the fixture warehouse with every data and unit test, as `make dbt-test` does,
# and test_build_phases.py checks that each node ran once and passed: no second build here)
test: setup lint pytest

test-fast: setup lint browser
	$(BIN)/pytest -m "not spark and not slow and not soak" -n 2 --dist loadfile

# the three lints run side by side (sqlfluff's two processes, mypy, the semantic layer's dbt
# parse): ~55 s instead of ~95 s from a fresh clone; --output-sync keeps each one's output whole
lint: setup
	$(MAKE) --no-print-directory -j 3 --output-sync=target lint-sql lint-python lint-semantic

lint-sql: setup
	LOYALTY_WAREHOUSE=build/lint/lint.duckdb DBT_TARGET_PATH=build/lint/target $(BIN)/sqlfluff lint --processes 2 models snapshots tests/*.sql

lint-python: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# the semantic layer: MetricFlow reads target/semantic_manifest.json (README, "Metrics")
lint-semantic: setup
	LOYALTY_WAREHOUSE=build/lint/lint.duckdb LOYALTY_TARGET=analyst $(BIN)/dbt parse --profiles-dir . --quiet
	LOYALTY_WAREHOUSE=build/lint/lint.duckdb LOYALTY_TARGET=analyst $(BIN)/mf validate-configs --skip-dw

dbt-test: setup
	rm -f $(TEST_WAREHOUSE)
	LOYALTY_DBT_UNIT_TESTS=run LOYALTY_DBT_CONSTRAINED_TESTS=run $(BIN)/loyalty run --transactions tests_py/fixtures/transactions.csv \
	    --customers tests_py/fixtures/customers.csv --warehouse $(TEST_WAREHOUSE) \
	    --var max_rejected_share=0.5

pytest: setup browser
	$(BIN)/pytest -m "not soak" -n 2 --dist loadfile --durations=25

# the exhaustive kill test: every step and random moments (~15 real runs; not in `make test`)
test-soak: setup
	$(BIN)/pytest -m soak

bench: setup
	$(BIN)/python benchmarks/bench_run.py --transactions 1000000

clean:
	rm -rf build target logs $(VENV) $(TOOLS) $(DOCS_ASSETS)
