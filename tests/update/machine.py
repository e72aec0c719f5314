"""A kiosk's folders in a temporary root: what it has under /opt/kiosk, /var/lib and /etc/kiosk,
its kiosk.toml, and the few things a technician or the kiosk itself does there."""

from __future__ import annotations

import os
import shlex
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.systemd.unitfiles import load, values

ROOT = Path(__file__).resolve().parents[2]
GUARD_SOURCE = ROOT / "kiosk" / "update" / "guard.py"
DEV_BIN = Path(sys.executable).parent  # the technician's checkout, for the first release

KIOSK_TOML = """\
kiosk_id = "KIOSK-UPDATE-TEST"
[devices]
card_reader = "No Such Reader"
face_camera_url = "http://127.0.0.1:9/stream.mjpg"
printer_host = "127.0.0.1"
printer_port = 9
[backends]
payment_url = "http://127.0.0.1:9/pay/v1"
catalog_url = "http://127.0.0.1:9/catalog/v1"
exit_entry_url = "http://127.0.0.1:9/exit-entry/v1"
utility_url = "http://127.0.0.1:9/utility/v1"
certificates_url = "http://127.0.0.1:9/certificates/v1"
queue_url = "http://127.0.0.1:9/queue/v1"
[update]
trusted_keys = [{keys}]
slots_root = "{root}/opt/kiosk"
state_dir = "{root}/var/lib/kiosk-update"
maintenance_window = "{window}"
health_deadline_s = {deadline}
start_tries = {tries}
check_interval_s = 0.5
[debug]
update_crash_after = "{crash}"
{extra}"""


@dataclass
class Machine:
    """A kiosk's folders in a temporary root, and its kiosk.toml."""

    root: Path
    trusted_keys: list[str]
    window: str = ""
    deadline_s: float = 60.0
    start_tries: int = 2
    crash_after: str = ""
    extra_toml: str = ""

    def __post_init__(self) -> None:
        for folder in ("opt/kiosk/bin", "opt/kiosk/slots", "opt/kiosk/runtimes", "var/lib/kiosk",
                       "var/lib/kiosk-update", "var/log/kiosk", "etc/kiosk", "journal"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        # What scripts/install-kiosk.sh does: the guard outside the slots.
        guard = self.root / "opt/kiosk/bin/kiosk-update-guard"
        guard.write_bytes(GUARD_SOURCE.read_bytes())
        guard.chmod(0o755)
        self.write_config()

    @property
    def config(self) -> Path:
        return self.root / "etc/kiosk/kiosk.toml"

    def write_config(self, **changes: object) -> None:
        for key, value in changes.items():
            setattr(self, key, value)
        self.config.write_text(KIOSK_TOML.format(
            keys=", ".join(f'"{k}"' for k in self.trusted_keys), root=self.root,
            window=self.window, deadline=self.deadline_s, tries=self.start_tries,
            crash=self.crash_after, extra=self.extra_toml))

    def path(self, system_path: str) -> str:
        """A path as the units write it, inside this machine."""
        if system_path == "/etc/kiosk/kiosk.toml":
            return str(self.config)
        if system_path.startswith(("/opt/kiosk", "/var/lib/", "/var/log/")):
            return str(self.root) + system_path
        return system_path

    def install_first(self, bundle: Path) -> None:
        """The technician's first release (systemd/README.md), from a checkout's venv."""
        proc = subprocess.run([str(DEV_BIN / "kiosk-update"), "--config", str(self.config),
                               "--state-dir", str(self.root / "var/lib/kiosk"), "install",
                               str(bundle)], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    def guard(self, action: str, *more: str, env: dict[str, str] | None = None,
              killed: bool = False) -> str:
        """The slot guard as kiosk.service runs it ("boot" before a start, "stopped" after)."""
        (line,) = [v for v in values(load("kiosk.service"), "Service", "ExecStartPre")
                   if v.endswith(" boot")]
        argv = [self.path(a) for a in shlex.split(line.lstrip("+"))][:-1] + [*more, action]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                              env={**os.environ, **(env or {})})
        assert proc.returncode == (-signal.SIGKILL if killed else 0), proc.stderr
        return proc.stderr

    def request(self, url: str, digest: str, request_id: str) -> None:
        """What the kiosk writes on the fleet's update command (kiosk.update.agent)."""
        from kiosk.config import load_config
        from kiosk.update.agent import write_request
        from kiosk.update.layout import layout_for
        from kiosk.update.request import UpdateRequest

        config = load_config(self.config, {"state_dir": str(self.root / "var/lib/kiosk")})
        write_request(layout_for(config), UpdateRequest(url, digest, request_id))

    def run_updater(self, slot: str = "a") -> dict:
        """What kiosk-update.service runs, from the slot the kiosk runs; its updater.json."""
        proc = subprocess.run([str(self.root / f"opt/kiosk/slots/{slot}/venv/bin/kiosk-update"),
                               "--config", str(self.config), "--state-dir",
                               str(self.root / "var/lib/kiosk"), "run"],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return self.updater_state()

    def json(self, relative: str) -> dict:
        from kiosk.update.guard import read_json

        return read_json(self.root / relative) or {}

    def boot_state(self) -> dict:
        return self.json("opt/kiosk/boot.json")

    def updater_state(self) -> dict:
        return self.json("var/lib/kiosk-update/updater.json")

    def release(self, slot: str | None) -> dict:
        return self.json(f"opt/kiosk/slots/{slot}/release.json") if slot else {}

    def current_slot(self) -> str | None:
        try:
            return Path(os.readlink(self.root / "opt/kiosk/current")).name
        except OSError:
            return None

    def journal_rows(self) -> list[tuple]:
        """Every row of the transaction journal, to show it untouched."""
        db = sqlite3.connect(self.root / "var/lib/kiosk/journal.sqlite3")
        try:
            return [("tx", *r) for r in db.execute("SELECT * FROM transactions ORDER BY tx_id")] + \
                [("tr", *r) for r in db.execute("SELECT * FROM transitions ORDER BY tx_id, seq")]
        finally:
            db.close()
