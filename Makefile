# The commands of the README: `make demo`, `make test` and, while developing, `make check`.
VENV := .venv
DEMO_DIR := .demo
# test processes (pytest-xdist); `make test TEST_WORKERS=0` runs the suite in this one process
TEST_WORKERS ?= 2

.PHONY: demo test check setup setup-dev

## set up .venv, build the demo workspace if absent, open the dashboard on it
demo: setup
	$(VENV)/bin/qbtui demo $(DEMO_DIR)

## set up .venv with the test tools and run the whole suite, TEST_WORKERS tests at a time
test: setup-dev
	$(VENV)/bin/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal

## lint, format, types, import contracts, no import cycles (the dev extra's tools; PYTHONPATH: this checkout)
check: setup-dev
	$(VENV)/bin/ruff check qbtui tests benchmarks scripts
	$(VENV)/bin/ruff format --check qbtui tests benchmarks scripts
	PYTHONPATH=$(CURDIR) $(VENV)/bin/mypy
	PYTHONPATH=$(CURDIR) $(VENV)/bin/lint-imports
	PYTHONPATH=$(CURDIR) $(VENV)/bin/python scripts/import_cycles.py qbtui

setup:
	scripts/setup

setup-dev:
	scripts/setup --dev
