"""Helpers for the kiosk-provision tests: arguments, the written configuration, the command."""

from __future__ import annotations

import asyncio
import socket
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from simulator.runtime import Simulator

PIN = "480913"
PLACE = ("--site", "zs-hall-3", "--region", "442000")
ROOT = Path(__file__).resolve().parents[2]


def argv(tmp_path: Path, *extra: str) -> list[str]:
    return ["--config-dir", str(tmp_path / "etc"), "--state-dir", str(tmp_path / "var"), *extra]


def sim_argv(tmp_path: Path, sim: Simulator, *extra: str) -> list[str]:
    return argv(tmp_path, "--simulator", str(sim.state_dir), *extra)


def read_toml(tmp_path: Path) -> dict:
    return tomllib.loads((tmp_path / "etc" / "kiosk.toml").read_text())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Run:
    """One `kiosk-provision` process: its exit code, stdout and stderr."""

    code: int
    out: str
    err: str


async def run_cli(*args: str, stdin: str = PIN + "\n", timeout: float = 90.0) -> Run:
    """kiosk-provision as the technician runs it: its own process, its own logging set-up."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "provisioning.cli",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout)
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())
