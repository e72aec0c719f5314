#!/usr/bin/env bash
# Runs the whole test suite. Starts pcscd (the vpcd reader) if it is not running.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -c "from simulator.pcscd import ensure_pcscd; ensure_pcscd()"
exec .venv/bin/python -m pytest -q -p no:cacheprovider --durations=25 "$@"
