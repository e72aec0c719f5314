#!/usr/bin/env bash
# Runs the kiosk on the simulator: a window when there is a display, else a scripted citizen
# under Xvfb who walks every screen in Chinese, English and elder mode (one panel size, or
# three), leaving a gallery of screenshots (with an index page) and the printed receipt.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/demo}
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  exec .venv/bin/python -m kiosk.cli --simulator --windowed --state-dir var/kiosk
fi
rm -rf "$out"; mkdir -p "$out"
# name:width:height. The portrait panel by default (about 3 minutes); all three sizes with
# GALLERY_PANELS="portrait:1080:1920 landscape:1920:1080 village:768:1366" (about 10 minutes).
panels=${GALLERY_PANELS:-"portrait:1080:1920"}
for panel in $panels; do
  IFS=: read -r name width height <<<"$panel"
  mkdir -p "$out/$name"
  # The gallery shows the "still there?" prompt after 2 s on the menu, and out of service
  # within a second of the catalog going down: demo settings, not a kiosk's.
  cat > "$out/$name/kiosk.toml" <<TOML
[ui]
width = $width
height = $height
fullscreen = false
idle_prompt_s = 2.0
[backends]
health_interval_s = 1.0
TOML
  echo "gallery on the $name panel (${width}x${height})..."
  SDL_AUDIODRIVER=dummy xvfb-run -a -s "-screen 0 1920x1920x24" \
    .venv/bin/python -m kiosk.cli --simulator --scenario gallery --config "$out/$name/kiosk.toml" \
    --out "$out/$name" --state-dir "var/kiosk-$name" > "$out/$name.log" 2>&1 \
    || { tail -40 "$out/$name.log"; echo "run failed; log: $out/$name.log" >&2; exit 1; }
  # The video call's help panel and overlay in every phase (no card needed; ~30 s).
  SDL_AUDIODRIVER=dummy xvfb-run -a -s "-screen 0 1920x1920x24" \
    .venv/bin/python -m tests.videocall.call_gallery --width "$width" --height "$height" \
    --out "$out/$name/call-gallery" > "$out/$name/call-gallery.log" 2>&1 \
    || { tail -40 "$out/$name/call-gallery.log"; echo "call gallery failed" >&2; exit 1; }
  # The service hall's screens (menu by department and life event, search, guide, rating,
  # progress, queue, phone keypad, collection): no chip, about 3 minutes more.
  echo "hall screens on the $name panel..."
  SDL_AUDIODRIVER=dummy xvfb-run -a -s "-screen 0 1920x1920x24" \
    .venv/bin/python -m kiosk.cli --simulator --scenario hall_gallery \
    --config "$out/$name/kiosk.toml" --out "$out/$name-hall" --state-dir "var/kiosk-$name-hall" \
    > "$out/$name-hall.log" 2>&1 \
    || { tail -40 "$out/$name-hall.log"; echo "run failed; log: $out/$name-hall.log" >&2; exit 1; }
done
.venv/bin/python - "$out" <<'PY'
import json, sys
from pathlib import Path
from scenarios.gallery import write_top_index
out = Path(sys.argv[1])
ok = True
for log in sorted(out.glob("*.log")):
    text = log.read_text()
    summary = json.loads(text[text.rindex("\n{") + 1:])
    name = log.stem
    shots = sum(len(modes) for modes in summary.get("gallery_shots", {}).values())
    slowest = max(summary.get("transitions", []), key=lambda t: t[2], default=None)
    print(f"{name}: {'done' if summary['ok'] else 'FAILED: ' + summary.get('error', '')} in "
          f"{summary['scenario_s']} s, {shots} screenshots, "
          f"{len(summary.get('layout_problems', []))} layout problems"
          + (f", slowest screen change {slowest[0]} -> {slowest[1]} {slowest[2]} ms"
             if slowest else ""))
    for problem in summary.get("layout_problems", []):
        print(f"  {problem}")
    ok = ok and summary["ok"]
page = write_top_index(out)
first = sorted(out.glob("*/receipt.png"))
for receipt in first[:1]:
    print(f"  {receipt}\n  {receipt.with_suffix('.txt')}")
print(f"gallery: {page.resolve()}")
sys.exit(0 if ok else 1)
PY
