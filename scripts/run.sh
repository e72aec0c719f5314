#!/usr/bin/env bash
# Runs the kiosk on the simulator: a window when there is a display, else a scripted citizen
# under Xvfb who leaves screenshots and the printed receipt in the folder named at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/demo}
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  exec .venv/bin/python -m kiosk.cli --simulator --windowed --state-dir var/kiosk
fi
rm -rf "$out"; mkdir -p "$(dirname "$out")"
xvfb-run -a -s "-screen 0 1080x1920x24" \
  .venv/bin/python -m kiosk.cli --simulator --scenario endorsement --out "$out" --state-dir var/kiosk \
  > "$out.log" 2>&1 || { tail -40 "$out.log"; echo "run failed; log: $out.log" >&2; exit 1; }
.venv/bin/python - "$out" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
text = (Path(sys.argv[1] + ".log")).read_text()
summary = json.loads(text[text.rindex("\n{") + 1:])
print(f"scripted endorsement: {'done' if summary['ok'] else 'FAILED'} in {summary['scenario_s']} s "
      f"(attract screen {summary['start_to_attract_s']} s after start)")
for name in summary["screenshots"]:
    print(f"  {out / name}")
print(f"  {out / 'receipt.png'}\n  {out / 'receipt.txt'}")
print(f"screenshots and receipt are in {out.resolve()}")
sys.exit(0 if summary["ok"] else 1)
PY
