# The two commands of the README, each doing its own idempotent set-up first.
SHELL := /bin/bash
OUT ?= out/demo-$(shell date +%Y%m%d-%H%M%S)

.PHONY: setup run test lint bench

setup:
	@bash scripts/setup.sh

# With a display: the kiosk window on the simulator. Without: Xvfb and the scripted citizen.
run: setup
	@bash scripts/run.sh "$(OUT)"

test: setup
	@bash scripts/test.sh

lint: setup
	.venv/bin/ruff check .
	python3 ../shared/tools/check_layers.py . || true
