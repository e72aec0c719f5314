#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine: system packages, .venv, the project.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(
  pcscd libpcsclite-dev pcsc-tools swig vsmartcard-vpcd   # PC/SC daemon and the virtual reader driver
  libzbar0                                                 # pyzbar
  xvfb xauth libgl1 libgl1-mesa-dri libglx-mesa0 libegl1 libgles2 libmtdev1  # headless display for Kivy
  cage xwayland grim x11-xserver-utils libxtst6            # the kiosk's display session (tests/systemd/test_cage_session.py)
  fonts-wqy-microhei                                       # CJK font for the UI and receipts
  fonts-ocr-b                                              # OCR-B: the MRZ's font (drivers/mrz_ocr.py templates, simulated data pages)
  espeak-ng                                                # offline voice guidance (Mandarin, English)
  postgresql                                               # the fleet server's optional store
  haproxy                                                  # in front of the fleet's workers (tests, bench.fleet)
  chromium                                                 # dashboard tests (Playwright drives it)
  systemd                                                  # systemd-analyze verify on our units
  polkitd dbus                                             # tests/systemd/test_polkit.py asks a private polkitd
  cups-ipp-utils dbus-daemon                               # ippeveprinter: the simulated A4 printer (needs a D-Bus daemon)
  poppler-utils                                            # pdftoppm/pdftotext: tests render printed certificates
  coturn                                                   # the video call's TURN relay (tests start one; README)
  python3-venv python3-dev build-essential
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # The tests start their own turnserver on a free port, never the packaged one; a developer's
  # set-up changes no system service (tests/systemd/test_install.py). A hall configures its
  # relay as the README says (video help from the hall).
fi

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PY=$cand; break
    fi
  done
fi
[ -n "$PY" ] || { echo "setup: Python 3.11 is required" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PY"
  "$PY" -m venv .venv
fi
stamp=.venv/.kiosk-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing the project into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
  echo "$want" > "$stamp"
fi
