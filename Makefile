# The two commands: `make demo` and `make test`. Each sets up what is missing first (safe to rerun).
SHELL := /bin/bash
VENV := .venv
DEMO_OUT ?= out/demo
PYTEST_ARGS ?=

.PHONY: demo test test-ros setup setup-ros bench clean

setup:
	@bash scripts/bootstrap.sh

setup-ros: setup
	@bash scripts/setup_ros.sh

demo: setup
	$(VENV)/bin/robot-brain --set asr.model=demo-ear --set brain.model=demo-tabletop replay tests/data/sample_bag --out $(DEMO_OUT)

test: setup
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory test-ros

# Real rclpy nodes, inside a network namespace with only loopback (DDS never leaves the machine).
test-ros: setup-ros
	bash scripts/isolated.sh .venv-ros/bin/python -m pytest tests/ros $(PYTEST_ARGS)

bench: setup
	$(VENV)/bin/robot-brain bench pipeline --json out/bench-pipeline.json

clean:
	rm -rf out .pytest_cache
