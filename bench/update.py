"""Update and rollback times for a realistic bundle, on a kiosk run the way its units say.

- update_s: from the kiosk's request to the new version healthy (attract screen up, devices
  probed): download (over loopback: on a real link add size / bandwidth), verification of every
  hash, installation into the spare slot (a new runtime: 400 MB unpacked and byte-compiled),
  the kiosk's own restart between citizens, the switch, the new version's start.
- rollback_s: from the first start of a release that crashes at import to the previous version
  healthy again (its starts used up, the guard switches back).
- bundle_mb: the full bundle of the update (app, runtime, catalog), as downloaded.

The kiosk is the real one under Xvfb with no devices attached; the service manager is the test
suite's (tests/update/service_manager.py), with the units' own RestartSec= and time-outs.
Run: .venv/bin/python -m bench.update
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from simulator.xvfb import virtual_display
from tests.systemd.unitfiles import last, load
from tests.update.bundle_server import BundleServer
from tests.update.machine import Machine
from tests.update.releases import build_release
from tests.update.service_manager import ServiceManager
from wire.update.manifest import public_key_text


def restart_sec() -> float:
    return float((last(load("kiosk.service"), "Service", "RestartSec") or "0").removesuffix("s"))


def main() -> None:
    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory(prefix="bench-update-") as tmp:
        work = Path(tmp)
        base = build_release(work, key, "1.0.0", include_runtime=True)
        # The update brings a new dependency, hence a new runtime: the whole bundle counts.
        update = build_release(work, key, "1.1.0", include_runtime=True,
                               extra_dependency="pytest>=8,<10")
        broken = build_release(work, key, "1.2.0", broken="crash_at_import")
        machine = Machine(work / "machine", [public_key_text(key)], deadline_s=300.0)
        machine.install_first(base.bundle)
        with virtual_display() as display, BundleServer(work) as server:
            manager = ServiceManager(machine, display, restart_s=restart_sec()).boot()
            try:
                manager.wait_until(lambda: manager.running_version() == "1.0.0", 120, "1.0.0")
                began = time.monotonic()
                machine.request(server.url(update.bundle.name), update.digest, "bench-1")
                manager.wait_until(lambda: manager.running_version() == "1.1.0", 900, "1.1.0")
                run = manager.running()
                assert run is not None and run.ready_at is not None
                update_s = run.ready_at - began
                phases = phase_times(machine)

                machine.request(server.url(broken.bundle.name), broken.digest, "bench-2")
                manager.wait_until(lambda: any(s.version == "1.2.0" for s in manager.starts),
                                   600, "1.2.0 tried")
                first_try = next(s for s in manager.starts if s.version == "1.2.0").at
                manager.wait_until(lambda: manager.running_version() == "1.1.0"
                                   and manager.running().at > first_try, 600, "rolled back")
                back = manager.running()
                assert back is not None and back.ready_at is not None
                rollback_s = back.ready_at - first_try
                reason = machine.boot_state()["last_result"]["reason"]
            finally:
                manager.shutdown()
        print(json.dumps({"phases_s": phases, "rollback_reason": reason,
                          "restart_sec": restart_sec()}))
        print(json.dumps({"update_s": round(update_s, 1), "rollback_s": round(rollback_s, 1),
                          "bundle_mb": round(update.megabytes, 1)}))


def phase_times(machine: Machine) -> dict[str, float]:
    """When the updater finished (staged) against when it was asked, for the detail line."""
    request = machine.json("var/lib/kiosk/update/request.json")
    staged = machine.updater_state().get("staged") or {}
    return {"request_to_staged": round(staged.get("at", 0) - request.get("requested_at", 0), 1)}


if __name__ == "__main__":
    main()
