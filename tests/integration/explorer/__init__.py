"""The fault explorer: whole transactions (bill payment, endorsement, a paid-per-copy
certificate) through the real kiosk core against the simulator, with a fault on the kiosk's
calls to the gateway and the backends, a citizen's action at a step and a power cut at a journal
write, checked against the ledgers after each run and the recovery that follows it.

`Explorer` (here) drives a worker process (explorer.worker) that runs each spec; explorer.plan
holds the space of runs, explorer.checks the invariants. Used by
tests/integration/test_fault_explorer.py (a fast slice by default, the whole space as `slow`)
and by `python -m bench.money`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.integration.explorer.plan import RunSpec

ROOT = Path(__file__).resolve().parents[3]


class Explorer:
    """`with Explorer(work_dir) as explorer: result = explorer.run(spec)`."""

    def __init__(self, work_dir: Path, env: dict[str, str] | None = None) -> None:
        self.work_dir = work_dir
        self.env = env or {}
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Explorer:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.explorer.worker", "--work-dir",
             str(self.work_dir)], cwd=ROOT, env={**os.environ, **self.env}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(self.work_dir / "worker.stderr", "ab"), text=True, bufsize=1)
        ready = self.proc.stdout.readline() if self.proc.stdout else ""
        if not ready:
            raise RuntimeError(f"explorer worker did not start; see {self.work_dir}")
        return self

    def run(self, spec: RunSpec) -> dict:
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(spec.as_json()) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"explorer worker died; see {self.work_dir / 'worker.stderr'}")
        return json.loads(line)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            if self.proc.stdin:
                self.proc.stdin.close()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if self.proc.stdout:
                self.proc.stdout.close()
