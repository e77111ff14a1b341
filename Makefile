# Two commands do all set-up: `make run` (demo data -> DuckDB -> marts, with a summary) and
# `make test`. Both bootstrap .venv, install the pinned set and prepare the dbt manifest first.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
MANIFEST := dbt_project/target/manifest.json
DBT_FILES := $(shell find dbt_project -path dbt_project/target -prune -o \( -name '*.sql' -o -name '*.py' -o -name '*.yml' -o -name '*.csv' \) -print)
CUSTOMERS ?= 10000
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: run test ui bench clean

run: $(MANIFEST)
	$(BIN)/klantkluis demo --customers $(CUSTOMERS)
	$(BIN)/klantkluis run

test: $(MANIFEST)
	$(BIN)/pytest

ui: $(MANIFEST)
	$(BIN)/klantkluis ui

bench: $(MANIFEST)
	$(BIN)/python -m orchestration.bench --customers $(CUSTOMERS)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { \
	  echo "klantkluis needs Python 3.11, and '$(PY)' is not: put python3.11 on PATH, or run make PY=/path/to/python3.11"; exit 1; }
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

$(MANIFEST): $(STAMP) $(DBT_FILES)
	cd dbt_project && ../$(BIN)/dbt parse --profiles-dir . --quiet
	@touch $(MANIFEST)

clean:
	rm -rf data dbt_project/target dbt_project/logs
