# The two commands of the README: `make demo` and `make test`.
VENV := .venv
DEMO_DIR := .demo

.PHONY: demo test setup setup-dev

## set up .venv, build the demo workspace if absent, open the dashboard on it
demo: setup
	$(VENV)/bin/qbtui demo $(DEMO_DIR)

## set up .venv with the test tools and run the whole suite
test: setup-dev
	$(VENV)/bin/python -m pytest -q

setup:
	scripts/setup

setup-dev:
	scripts/setup --dev
