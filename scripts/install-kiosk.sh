#!/usr/bin/env bash
# Installs the system side of a real kiosk: the kiosk user, the systemd units, the polkit rule
# that lets the kiosk reboot its machine (the fleet's "reboot" command), and the no-core-dump
# policy. For kiosks only, as root, after the project is in /opt/kiosk/venv (systemd/README.md).
# Never run by scripts/setup.sh: a developer's or CI machine gets none of this.
#
# DESTDIR=/some/root installs the files into a staging root instead (packaging, and the test
# tests/systemd/test_install.py); users, packages and systemctl are then left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

DESTDIR=${DESTDIR:-}
if [ -z "$DESTDIR" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install-kiosk: run as root (or set DESTDIR to stage the files)" >&2
  exit 1
fi

if [ -z "$DESTDIR" ]; then
  # cage: the compositor; pcscd: smart cards; polkitd: logind asks it whether the kiosk
  # user may reboot (without it the reboot is refused).
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cage pcscd polkitd
  if ! getent passwd kiosk >/dev/null; then
    adduser --system --group --home /var/lib/kiosk kiosk
  fi
  for group in dialout plugdev video lp input render; do
    if getent group "$group" >/dev/null; then adduser kiosk "$group" >/dev/null; fi
  done
fi

install -d -m 0755 "$DESTDIR/etc/systemd/system" "$DESTDIR/etc/systemd/coredump.conf.d"
install -m 0644 systemd/kiosk.service systemd/kiosk-session.service \
  systemd/kiosk-out-of-service.service "$DESTDIR/etc/systemd/system/"
install -m 0644 systemd/coredump.conf.d/50-kiosk.conf "$DESTDIR/etc/systemd/coredump.conf.d/"
# polkitd reads its rules folder as its own user; keep the folder's owner and mode as the
# package made them, only add the file.
if [ ! -d "$DESTDIR/etc/polkit-1/rules.d" ]; then
  install -d -m 0755 "$DESTDIR/etc/polkit-1/rules.d"
fi
install -m 0644 systemd/polkit/50-kiosk-reboot.rules "$DESTDIR/etc/polkit-1/rules.d/"

if [ -z "$DESTDIR" ]; then
  # polkitd picks up the new rule by itself: it watches its rules folders.
  systemctl daemon-reload
  systemctl enable kiosk-session.service kiosk.service
  echo "install-kiosk: installed; run kiosk-provision, then: systemctl start kiosk-session kiosk"
fi
