#!/usr/bin/env bash
# Installs the system side of a real kiosk: the kiosk and kiosk-update users, the systemd units,
# the slots folder and the slot guard, the polkit rule that lets the kiosk reboot its machine
# (the fleet's "reboot" command), and the no-core-dump policy. For kiosks only, as root; the
# first release then goes into a slot with `kiosk-update install BUNDLE` (systemd/README.md).
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
  # cage: the compositor, xwayland: its X server the kiosk's window is on (systemd/README.md
  # "Display"); pcscd: smart cards; polkitd: logind asks it whether the kiosk user may reboot
  # (without it the reboot is refused).
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cage xwayland pcscd polkitd
  if ! getent passwd kiosk >/dev/null; then
    adduser --system --group --home /var/lib/kiosk kiosk
  fi
  for group in dialout plugdev video lp input render; do
    if getent group "$group" >/dev/null; then adduser kiosk "$group" >/dev/null; fi
  done
  # The updater's own user: writes the slots, reads kiosk.toml and the kiosk's requests (group
  # kiosk), nothing else.
  if ! getent passwd kiosk-update >/dev/null; then
    adduser --system --group --no-create-home --home /nonexistent kiosk-update
  fi
  adduser kiosk-update kiosk >/dev/null
fi

# The slots (/opt/kiosk/slots/{a,b}, `current` pointing at one) and the runtimes they share are
# the updater's to write; /opt/kiosk itself (the `current` link, boot.json) and the slot guard
# are root's. The guard lives outside the slots: a broken release cannot break its rollback.
install -d -m 0755 "$DESTDIR/opt/kiosk" "$DESTDIR/opt/kiosk/bin"
install -d -m 0755 "$DESTDIR/opt/kiosk/slots" "$DESTDIR/opt/kiosk/runtimes"
if [ -z "$DESTDIR" ]; then chown kiosk-update:kiosk-update /opt/kiosk/slots /opt/kiosk/runtimes; fi
install -m 0755 kiosk/update/guard.py "$DESTDIR/opt/kiosk/bin/kiosk-update-guard"

install -d -m 0755 "$DESTDIR/etc/systemd/system" "$DESTDIR/etc/systemd/coredump.conf.d"
install -m 0644 systemd/kiosk.service systemd/kiosk-session.service \
  systemd/kiosk-out-of-service.service systemd/kiosk-update.service systemd/kiosk-update.path \
  systemd/kiosk-update-guard.service systemd/kiosk-update-guard.timer "$DESTDIR/etc/systemd/system/"
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
  systemctl enable kiosk-session.service kiosk.service kiosk-update.service kiosk-update.path \
    kiosk-update-guard.timer
  echo "install-kiosk: installed; run kiosk-provision, put the first release in a slot"
  echo "  (runuser -u kiosk-update -- VENV/bin/kiosk-update install kiosk-VERSION.kbundle),"
  echo "  then: systemctl start kiosk-session kiosk kiosk-update.path kiosk-update-guard.timer"
fi
