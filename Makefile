# The two commands of the README, each doing its own idempotent set-up first.
SHELL := /bin/bash
OUT ?= out/demo-$(shell date +%Y%m%d-%H%M%S)

.PHONY: setup run test lint bench install uninstall

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

# On a real kiosk, as root: the users, folders, units and policies (scripts/install-kiosk.sh,
# systemd/README.md). Never part of setup: a developer's or CI machine gets none of it.
install:
	@bash scripts/install-kiosk.sh

uninstall:
	@bash scripts/install-kiosk.sh --uninstall
