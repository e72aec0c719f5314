"""`kiosk --simulator`: the hardware simulator in a child process beside the kiosk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from kiosk.json_object import JsonObject

# The simulator stands for devices with processors of their own: on the kiosk's cores it yields
# to the kiosk (nice 10). Its chip's and printer's Python work, beside the kiosk's window drawn
# by Mesa's llvmpipe under Xvfb, made frames of 50-60 ms during the chip read (bench.frames).
# KIOSK_SIMULATOR_NICENESS overrides it (the test suite: two workers' kiosks on two cores, where
# a simulator at nice 10 would get a tenth of a core, which no device does).
SIMULATOR_NICENESS = 10


def simulator_niceness() -> int:
    value = os.environ.get("KIOSK_SIMULATOR_NICENESS", "")
    return int(value) if value.strip().lstrip("-").isdigit() else SIMULATOR_NICENESS


class EmbeddedSimulator:
    """`kiosk --simulator`: the simulator in a child process, found through its endpoints file."""

    def __init__(self, state_dir: Path, niceness: int | None = None) -> None:
        self.state_dir = state_dir
        self.niceness = simulator_niceness() if niceness is None else niceness
        self.process: subprocess.Popen[bytes] | None = None
        self._children: tuple[int, ...] | None = None   # its child processes, once looked up

    def start(self, timeout: float = 30.0) -> JsonObject:
        endpoints_file = self.state_dir / "endpoints.json"
        endpoints_file.unlink(missing_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log_file = open(self.state_dir / "simulator.log", "ab")  # noqa: SIM115 - owned by the child
        # The simulator is not the kiosk: systemd's notify socket stays with the kiosk.
        env = {k: v for k, v in os.environ.items()
               if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
        # --parent: it ends with this process however this one ends (kill -9 included).
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "--state-dir", str(self.state_dir), "run",
             "--parent", str(os.getpid()), "--niceness", str(self.niceness)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            return self._wait_for_endpoints(endpoints_file, timeout)
        except BaseException:
            self.stop()  # a stop signal or a failure while it starts: it goes too
            raise

    def _wait_for_endpoints(self, endpoints_file: Path, timeout: float) -> JsonObject:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"simulator exited with {self.process.returncode}; "
                    f"see {self.state_dir / 'simulator.log'}"
                )
            if endpoints_file.exists():
                endpoints: JsonObject = json.loads(endpoints_file.read_text())
                if endpoints.get("pid") == self.process.pid:
                    return endpoints
            time.sleep(0.05)
        raise RuntimeError("simulator did not start in time")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process, self._children = None, None

    def cpu_seconds(self) -> float:
        """CPU seconds the simulator and its child processes (the IPP printer) have used so far
        (Linux: /proc; 0 when it is not running). pcscd is the machine's own, not counted. Cheap
        enough to ask at every step (the step trace): the simulator's own stat and its
        children's, not a walk of every process."""
        if self.process is None:
            return 0.0
        pid = self.process.pid
        if self._children is None:   # started with the simulator, and staying as long
            try:
                self._children = tuple(int(c) for f in Path(f"/proc/{pid}/task").glob("*/children")
                                       for c in f.read_text().split())
            except OSError:
                return 0.0   # it ended meanwhile
        return sum(_cpu_ticks(p) for p in (pid, *self._children)) / os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int) -> int:
    """utime + stime of a process (proc(5)); 0 for one that ended meanwhile."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    return int(fields[11]) + int(fields[12])
