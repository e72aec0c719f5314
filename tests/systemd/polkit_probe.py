"""Asks a real, private polkitd what it decides for (user, action) pairs, with given rules files.

Run as root inside a private mount namespace (`unshare --mount --propagation private`): it
bind-mounts a rules folder over /etc/polkit-1/rules.d and /etc/passwd, /etc/group copies that
add the test users, starts its own system bus (dbus-daemon) and polkitd on it, and asks
`pkcheck` about a process of each user. Nothing outside the namespace changes.

    python polkit_probe.py RULES_DIR QUERIES_JSON  ->  one JSON object on the last line:
    {"decisions": {"user action": pkcheck's exit status, ...}, "polkitd": its output}
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

POLKITD = "/usr/lib/polkit-1/polkitd"
FIRST_UID = 64100


def _free_ids(count: int) -> list[int]:
    taken = {int(line.split(":")[2]) for line in Path("/etc/passwd").read_text().splitlines()
             if line.count(":") >= 3}
    taken |= {int(line.split(":")[2]) for line in Path("/etc/group").read_text().splitlines()
              if line.count(":") >= 2}
    ids: list[int] = []
    candidate = FIRST_UID
    while len(ids) < count:
        if candidate not in taken:
            ids.append(candidate)
        candidate += 1
    return ids


def _bind(source: Path, target: str) -> None:
    subprocess.run(["mount", "--bind", str(source), target], check=True)


def _with_users(work: Path, users: list[str]) -> dict[str, int]:
    """/etc/passwd and /etc/group as the host has them, plus one account per test user."""
    ids = dict(zip(users, _free_ids(len(users)), strict=True))
    passwd = Path("/etc/passwd").read_text().rstrip("\n") + "\n" + "".join(
        f"{name}:x:{uid}:{uid}::/nonexistent:/usr/sbin/nologin\n" for name, uid in ids.items())
    group = Path("/etc/group").read_text().rstrip("\n") + "\n" + "".join(
        f"{name}:x:{uid}:\n" for name, uid in ids.items())
    for name, text in (("passwd", passwd), ("group", group)):
        path = work / name
        path.write_text(text)
        path.chmod(0o644)
        _bind(path, f"/etc/{name}")
    return ids


def _bus(work: Path) -> tuple[subprocess.Popen, str]:
    socket = work / "system_bus_socket"
    config = work / "bus.conf"
    config.write_text(f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
""")
    bus = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not socket.exists():
        if time.monotonic() > deadline or bus.poll() is not None:
            raise RuntimeError("dbus-daemon did not start")
        time.sleep(0.05)
    socket.chmod(0o666)
    return bus, f"unix:path={socket}"


def _wait_for_polkitd(env: dict[str, str], polkitd: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if polkitd.poll() is not None:
            raise RuntimeError("polkitd exited")
        probe = subprocess.run(
            ["dbus-send", "--system", "--print-reply", "--dest=org.freedesktop.DBus",
             "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner",
             "string:org.freedesktop.PolicyKit1"],
            env=env, capture_output=True, text=True)
        if "boolean true" in probe.stdout:
            return
        time.sleep(0.1)
    raise RuntimeError("polkitd did not take its bus name")


def main(rules_dir: Path, queries: list[list[str]]) -> dict:
    users = sorted({user for user, _ in queries})
    with tempfile.TemporaryDirectory(prefix="polkit-probe-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)
        ids = _with_users(work, users)
        _bind(rules_dir, "/etc/polkit-1/rules.d")
        bus, address = _bus(work)
        env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": address}
        log = open(work / "polkitd.log", "w+")  # read back below, once polkitd is gone
        polkitd = subprocess.Popen([POLKITD], env=env, stdout=log, stderr=subprocess.STDOUT)
        subjects: dict[str, subprocess.Popen] = {}
        try:
            _wait_for_polkitd(env, polkitd)
            for user in users:
                uid = ids[user]
                subjects[user] = subprocess.Popen(
                    ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                     "sleep", "120"])
            time.sleep(0.2)  # the subjects have exec'd: polkit reads their /proc entries
            decisions = {}
            for user, action in queries:
                check = subprocess.run(
                    ["pkcheck", "--action-id", action, "--process", str(subjects[user].pid)],
                    env=env, capture_output=True, text=True, timeout=30)
                decisions[f"{user} {action}"] = check.returncode
        finally:
            for proc in [*subjects.values(), polkitd, bus]:
                proc.kill()
                proc.wait(10)
        log.seek(0)
        return {"decisions": decisions, "polkitd": log.read()}


if __name__ == "__main__":
    result = main(Path(sys.argv[1]), json.loads(sys.argv[2]))
    print(json.dumps(result))
