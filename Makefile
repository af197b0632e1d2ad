# The two commands: `make demo` and `make test`. Each sets up what is missing first (safe to rerun).
SHELL := /bin/bash
VENV := .venv
DEMO_OUT ?= out/demo
PYTEST_ARGS ?=

.PHONY: demo test setup bench clean

setup:
	@bash scripts/bootstrap.sh

demo: setup
	$(VENV)/bin/robot-brain replay tests/data/sample_bag --out $(DEMO_OUT)

test: setup
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(VENV)/bin/robot-brain bench pipeline --json out/bench-pipeline.json

clean:
	rm -rf out .pytest_cache
