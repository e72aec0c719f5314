#!/usr/bin/env bash
# Runs the whole test suite. Starts pcscd (the vpcd reader) if it is not running.
# With no arguments: on two workers (one vpcd card slot each, tests/conftest.py), then the tests
# marked `serial` (they restart pcscd) alone. With arguments: one process, as pytest is given them.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -c "from simulator.pcscd import ensure_pcscd; ensure_pcscd()"
PYTEST=(.venv/bin/python -m pytest -q -p no:cacheprovider --durations=25)
if [ "$#" -gt 0 ]; then
  exec "${PYTEST[@]}" "$@"
fi
status=0
"${PYTEST[@]}" -n 2 --dist loadfile -m "not slow and not serial" || status=$?
serial=0
"${PYTEST[@]}" -m "serial and not slow" || serial=$?
if [ "$serial" -ne 0 ] && [ "$serial" -ne 5 ]; then  # 5: no test is marked serial
  status=$serial
fi
exit "$status"
