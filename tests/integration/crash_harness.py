"""Kills the kiosk (SIGKILL, as a power cut) at a journal transition, restarts it, and checks
the gateway's and backends' ledgers against the journal. Shared by the test and the bench."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KIOSK_ID = "KIOSK-00000C4A5B"  # a provisioned kiosk's id: kiosk-journal exports only under one


@dataclass
class SimulatorProcess:
    state_dir: Path
    proc: subprocess.Popen | None = None

    def start(self) -> dict:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "endpoints.json").unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "--state-dir", str(self.state_dir), "run"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=open(self.state_dir / "sim.log", "wb"),
        )
        deadline = time.monotonic() + 30
        while not (self.state_dir / "endpoints.json").exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("simulator did not start")
            time.sleep(0.05)
        return json.loads((self.state_dir / "endpoints.json").read_text())

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)


def run_kiosk(
    sim_dir: Path,
    kiosk_dir: Path,
    scenario: str | None,
    crash_after: str = "",
    timeout: float = 120,
) -> tuple[int, dict | None]:
    config = kiosk_dir / "kiosk.toml"
    kiosk_dir.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'kiosk_id = "{KIOSK_ID}"\n'
        f"[flow]\npayment_poll_s = 0.1\npayment_timeout_s = 20.0\n"
        f'[backends]\ndeadline_s = 3.0\n[debug]\ncrash_after = "{crash_after}"\n'
    )
    cmd = [
        sys.executable,
        "-m",
        "kiosk.cli",
        "--attach",
        str(sim_dir),
        "--headless",
        "--config",
        str(config),
        "--state-dir",
        str(kiosk_dir / "state"),
    ]
    if scenario:
        cmd += ["--scenario", scenario]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    summary = None
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            summary = json.loads(line)
            break
    return proc.returncode, summary


@dataclass
class Audit:
    double_charges: int = 0
    lost_payments: int = 0
    unreconciled: int = 0
    needs_attention: int = 0
    states: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "double_charges": self.double_charges,
            "lost_payments": self.lost_payments,
            "unreconciled": self.unreconciled,
            "needs_attention": self.needs_attention,
            "final_states": dict(self.states),
        }


def audit(journal_path: Path, ledgers: dict) -> Audit:
    """Compares the kiosk's journal with what the gateway and the backends recorded."""
    import sqlite3

    result = Audit()
    db = sqlite3.connect(journal_path)
    rows = db.execute("SELECT tx_id, state, amount_fen FROM transactions")
    numbers: dict[str, list[str]] = {}
    for tx_id, number in db.execute("SELECT tx_id, out_trade_no FROM orders"):
        numbers.setdefault(tx_id, []).append(number)
    orders = {o["out_trade_no"]: o for o in ledgers["orders"]}
    settled = {p["out_trade_no"] for p in ledgers["bill_payments"].values()}
    settled |= {a.get("out_trade_no") for a in ledgers["applications"].values()}
    claimed: set[str] = set()
    for tx_id, state, amount in rows:
        result.states[state] += 1
        trade_nos = numbers.get(tx_id, [])  # every order the transaction journaled
        claimed.update(trade_nos)
        taken = sum(
            orders[n]["amount_fen"]
            for n in trade_nos
            if n in orders
            and orders[n]["status"] in ("SUCCESS", "REFUND", "REVOKED")
            and (orders[n]["status"] != "REVOKED" or orders[n]["refunded_fen"])
        )
        refunded = sum(orders[n]["refunded_fen"] for n in trade_nos if n in orders)
        kept = taken - refunded
        served = any(n in settled for n in trade_nos)
        if any(orders.get(n, {}).get("payments", 0) > 1 for n in trade_nos) or kept > (amount or 0):
            result.double_charges += 1
            result.problems.append(f"{tx_id} charged twice ({state})")
        if kept > 0 and not served:
            result.lost_payments += 1
            result.problems.append(f"{tx_id} kept {kept} fen without service ({state})")
        if served and kept == 0 and amount:
            result.problems.append(f"{tx_id} served without payment ({state})")
        if state == "needs_attention":
            result.needs_attention += 1
        elif state not in ("closed", "cancelled", "refunded"):
            result.unreconciled += 1
            result.problems.append(f"{tx_id} left in {state}")
    for trade_no, order in orders.items():
        if trade_no not in claimed and order["status"] in ("SUCCESS",):
            result.lost_payments += 1
            result.problems.append(f"order {trade_no} paid but unknown to the journal")
    db.close()
    return result
