#!/usr/bin/env bash
# Installs the system side of a real kiosk: the kiosk and kiosk-update users, the folders they
# own (/etc/kiosk, /var/lib/kiosk, /var/lib/kiosk-update, /var/log/kiosk, /opt/kiosk), the
# systemd units, the slot guard, the udev rules for USB printers, the polkit rule that lets the
# kiosk reboot its machine (the fleet's "reboot" command), and the no-core-dump policy; then
# enables the units. For kiosks only, as root; the first release then goes into a slot with
# `kiosk-update install BUNDLE` (systemd/README.md). Never run by scripts/setup.sh: a developer's
# or CI machine gets none of this. Run it again at any time: it changes only what differs.
#
#   scripts/install-kiosk.sh               install (sudo make install)
#   scripts/install-kiosk.sh --uninstall   remove the product: units, rules, /opt/kiosk; keep the
#                                          configuration, the users and the kiosk's data
#   scripts/install-kiosk.sh --purge       --uninstall, and the configuration and users too; the
#                                          kiosk's data (/var/lib/kiosk: the transaction journal)
#                                          is never removed by this script
#
# DESTDIR=/some/root works on a staging root instead: with an etc/passwd there (an OS tree, as
# tests/systemd/test_install.py builds one) the users are made in it too, and owners are that
# tree's; without one, only the files are staged (packaging). Packages, systemctl and udevadm
# are then left alone.
set -euo pipefail
DESTDIR=${DESTDIR:-}
if [ -n "$DESTDIR" ]; then DESTDIR=$(realpath -m "$DESTDIR"); fi   # before the cd below
cd "$(dirname "$0")/.."

MODE=install
case "${1:-}" in
  "") ;;
  --uninstall) MODE=uninstall ;;
  --purge) MODE=purge ;;
  *) echo "install-kiosk: unknown option $1 (--uninstall, --purge)" >&2; exit 2 ;;
esac

if [ -z "$DESTDIR" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install-kiosk: run as root (or set DESTDIR to stage the files)" >&2
  exit 1
fi
LIVE=$([ -z "$DESTDIR" ] && echo 1 || echo "")
USERS=$([ -f "$DESTDIR/etc/passwd" ] && echo 1 || echo "")   # a real or staged OS: users too
ROOTARG=()
if [ -n "$DESTDIR" ]; then ROOTARG=(--root "$DESTDIR"); fi

KIOSK_UNITS=(kiosk-session.service kiosk.service kiosk-out-of-service.service
  kiosk-update.service kiosk-update.path kiosk-update-guard.service kiosk-update-guard.timer)
ENABLED=(kiosk-session.service kiosk.service kiosk-update.service kiosk-update.path
  kiosk-update-guard.timer)
KIOSK_GROUPS=(dialout plugdev video lp input render)
POLKIT_RULE=etc/polkit-1/rules.d/50-kiosk-reboot.rules
UDEV_RULE=etc/udev/rules.d/70-kiosk.rules
CORE_POLICY=etc/systemd/coredump.conf.d/50-kiosk.conf

has_user() { grep -q "^$1:" "$DESTDIR/etc/passwd"; }
has_group() { grep -q "^$1:" "$DESTDIR/etc/group"; }
id_of() { awk -F: -v n="$2" '$1 == n { print $3 }' "$DESTDIR/etc/$1"; }

# A folder with its owner and mode, made or corrected. Owners are names of the tree's own
# passwd and group (numeric here, so a staged tree gets its own ids, not this machine's).
folder() {  # folder PATH MODE [USER GROUP]
  install -d -m "$2" "$DESTDIR$1"
  chmod "$2" "$DESTDIR$1"
  if [ -n "${3:-}" ] && [ -n "$USERS" ]; then
    chown "$(id_of passwd "$3"):$(id_of group "$4")" "$DESTDIR$1"
  fi
}

make_users() {
  # The kiosk application's user: no login, home is its state folder.
  if ! has_user kiosk; then
    useradd "${ROOTARG[@]}" --system --user-group --home-dir /var/lib/kiosk --no-create-home \
      --shell /usr/sbin/nologin --comment "self-service kiosk" kiosk
  fi
  for group in "${KIOSK_GROUPS[@]}"; do
    if has_group "$group"; then usermod "${ROOTARG[@]}" --append --groups "$group" kiosk; fi
  done
  # The updater's own user: writes the slots, reads kiosk.toml and the kiosk's requests (group
  # kiosk), nothing else.
  if ! has_user kiosk-update; then
    useradd "${ROOTARG[@]}" --system --user-group --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin --comment "kiosk updater" kiosk-update
  fi
  usermod "${ROOTARG[@]}" --append --groups kiosk kiosk-update
}

install_files() {
  # The configuration kiosk-provision writes: root's, readable by the kiosk's group only (the
  # device key inside is the kiosk user's own, 0600). Made here so the group can enter it.
  folder /etc/kiosk 0750 root kiosk
  # What the units' StateDirectory= and LogsDirectory= would make, made now with the same
  # owners, so kiosk-provision and the first `kiosk-update install` find them.
  folder /var/lib/kiosk 0750 kiosk kiosk
  # Kept by a purge (root's then, see below): the kiosk's again, every file of it, or it
  # could not open its own journal (systemd's StateDirectory= fixes only a wrong top owner).
  if [ -n "$USERS" ]; then
    chown -R "$(id_of passwd kiosk):$(id_of group kiosk)" "$DESTDIR/var/lib/kiosk"
  fi
  folder /var/lib/kiosk-update 0755 kiosk-update kiosk-update
  folder /var/log/kiosk 0750 kiosk kiosk
  # The slots (/opt/kiosk/slots/{a,b}, `current` pointing at one) and the runtimes they share
  # are the updater's to write; /opt/kiosk itself (the `current` link, boot.json) and the slot
  # guard are root's. The guard lives outside the slots: a broken release cannot break its
  # rollback.
  folder /opt/kiosk 0755 root root
  folder /opt/kiosk/bin 0755 root root
  folder /opt/kiosk/slots 0755 kiosk-update kiosk-update
  folder /opt/kiosk/runtimes 0755 kiosk-update kiosk-update
  install -m 0755 kiosk/update/guard.py "$DESTDIR/opt/kiosk/bin/kiosk-update-guard"

  install -d -m 0755 "$DESTDIR/etc/systemd/system" "$DESTDIR/etc/systemd/coredump.conf.d" \
    "$DESTDIR/etc/udev/rules.d"
  for unit in "${KIOSK_UNITS[@]}"; do
    install -m 0644 "systemd/$unit" "$DESTDIR/etc/systemd/system/"
  done
  install -m 0644 systemd/coredump.conf.d/50-kiosk.conf "$DESTDIR/$CORE_POLICY"
  install -m 0644 systemd/udev/70-kiosk.rules "$DESTDIR/$UDEV_RULE"
  # polkitd reads its rules folder as its own user; keep the folder's owner and mode as the
  # package made them, only add the file.
  if [ ! -d "$DESTDIR/etc/polkit-1/rules.d" ]; then
    install -d -m 0755 "$DESTDIR/etc/polkit-1/rules.d"
  fi
  install -m 0644 systemd/polkit/50-kiosk-reboot.rules "$DESTDIR/$POLKIT_RULE"
}

remove_files() {
  for unit in "${KIOSK_UNITS[@]}"; do rm -f "$DESTDIR/etc/systemd/system/$unit"; done
  rm -f "$DESTDIR/$CORE_POLICY" "$DESTDIR/$UDEV_RULE" "$DESTDIR/$POLKIT_RULE"
  rmdir --ignore-fail-on-non-empty "$DESTDIR/etc/systemd/coredump.conf.d" 2>/dev/null || true
  # The releases (slots and runtimes) and the guard: the product itself.
  rm -rf "$DESTDIR/opt/kiosk"
  rm -rf "$DESTDIR/var/lib/kiosk-update"   # the updater's downloads and state
}

if [ "$MODE" = install ]; then
  if [ -n "$LIVE" ]; then
    # cage: the compositor, xwayland: its X server the kiosk's window is on (systemd/README.md
    # "Display"); pcscd: smart cards; polkitd: logind asks it whether the kiosk user may reboot
    # (without it the reboot is refused).
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      cage xwayland pcscd polkitd
  fi
  if [ -n "$USERS" ]; then make_users; fi
  install_files
  if [ -n "$LIVE" ]; then
    # polkitd picks up the new rule by itself: it watches its rules folders.
    if command -v udevadm >/dev/null; then
      udevadm control --reload && udevadm trigger --subsystem-match=usb --action=change
    fi
    systemctl daemon-reload
    systemctl enable "${ENABLED[@]}"
    echo "install-kiosk: installed; run kiosk-provision, put the first release in a slot"
    echo "  (runuser -u kiosk-update -- VENV/bin/kiosk-update install kiosk-VERSION.kbundle),"
    echo "  then: systemctl start kiosk-session kiosk kiosk-update.path kiosk-update-guard.timer"
  fi
  exit 0
fi

if [ -n "$LIVE" ]; then
  # One by one: a unit already gone must not keep the others running.
  for unit in "${KIOSK_UNITS[@]}"; do systemctl disable --now "$unit" 2>/dev/null || true; done
fi
remove_files
if [ -n "$LIVE" ]; then
  systemctl daemon-reload
  if command -v udevadm >/dev/null; then udevadm control --reload; fi
fi
if [ "$MODE" = purge ]; then
  rm -rf "$DESTDIR/etc/kiosk" "$DESTDIR/var/log/kiosk"
  if [ -d "$DESTDIR/var/lib/kiosk" ]; then
    # The journal stays, root's alone: a system user made later with the kiosk's old id
    # must not own it.
    chown -R 0:0 "$DESTDIR/var/lib/kiosk"
    chmod 0700 "$DESTDIR/var/lib/kiosk"
  fi
  if [ -n "$USERS" ]; then
    for user in kiosk-update kiosk; do
      if has_user "$user"; then userdel "${ROOTARG[@]}" "$user"; fi
      if has_group "$user"; then groupdel "${ROOTARG[@]}" "$user"; fi
    done
  fi
fi
if [ -d "$DESTDIR/var/lib/kiosk" ]; then
  echo "install-kiosk: kept /var/lib/kiosk: its journal holds this kiosk's transactions;" \
    "archive it, then remove it yourself"
fi
if [ "$MODE" = uninstall ]; then
  echo "install-kiosk: kept /etc/kiosk, /var/log/kiosk and the users kiosk, kiosk-update" \
    "(--purge removes them)"
fi
