"""Journal throughput with fsync, beside a raw SQLite insert+fsync loop in the same run, and the
software overhead of whole transactions against the simulator with no artificial delays.

Prints {"journal_transitions_per_s": ..., "raw_sqlite_per_s": ..., "transaction_overhead_s": ...,
"bill_payment_overhead_s": ..., "endorsement_trace_s": ..., "bill_trace_s": ...} as its last line
(the overheads are the mean of one endorsement / bill, end to end, headless; the traces split it
into the kiosk's CPU, the simulator's CPU and waiting, in all and step by step, see `trace`).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kiosk.journal import OrderKind, TxState
from kiosk.transaction import JournalWriter

PATH = [TxState.IDENTIFIED, TxState.QUOTED, TxState.PAYMENT_PENDING, TxState.PAID,
        TxState.SUBMITTED, TxState.FULFILLED, TxState.RECEIPTED, TxState.CLOSED]


def journal_rate(folder: Path, transactions: int = 150) -> float:
    journal = JournalWriter(folder / "journal.sqlite3", "BENCH")
    count = 0
    start = time.perf_counter()
    for i in range(transactions):
        tx = journal.create("bench")
        for state in PATH:
            extra = {"amount_fen": 100} if state is TxState.QUOTED else {}
            if state is TxState.PAYMENT_PENDING:
                extra = {"out_trade_no": f"B{i}", "order": (f"B{i}", OrderKind.NATIVE, 100)}
            tx = journal.transition(tx, state, **extra)
            count += 1
    elapsed = time.perf_counter() - start
    journal.close()
    return count / elapsed


def raw_rate(folder: Path, rows: int = 1200) -> float:
    db = sqlite3.connect(folder / "raw.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, state TEXT, at REAL)")
    start = time.perf_counter()
    for i in range(rows):
        db.execute("BEGIN")
        db.execute("INSERT INTO t (state, at) VALUES (?, ?)", (f"s{i}", time.time()))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return rows / elapsed


def transaction_overhead(folder: Path, scenario: str,
                         runs: int) -> tuple[float, dict[str, float]]:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "kiosk.toml"
    # The payment is noticed by the gateway's notification, as in service: the query's poll
    # interval stays the kiosk's default (it was cut to 0.01 s here, which hid it).
    config.write_text("[flow]\nface_stable_frames = 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--simulator", "--headless", "--scenario", scenario,
         "--repeat", str(runs), "--config", str(config), "--state-dir", str(folder / "kiosk")],
        capture_output=True, text=True, timeout=600)
    lines = proc.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"{scenario}: the kiosk printed no summary:\n{proc.stderr[-3000:]}")
    summary = json.loads(lines[-1])
    if not summary.get("ok"):
        raise RuntimeError(f"{scenario} did not complete: {summary}")
    return summary["seconds"] / summary["runs"], trace(summary)


def trace(summary: dict) -> dict[str, float]:
    """Where one transaction's time went (seconds, mean): `kiosk_cpu` (our code, its libraries
    and the scripted citizen, in the kiosk's process), `simulator_cpu` (the devices' and
    backends' far side; not pcscd, the machine's own), and `waiting`: the rest of the wall
    clock, time on the wire, on timers and polls, in pcscd, and on this machine's other load."""
    runs = summary["runs"]
    wall, kiosk, sim = summary["seconds"], summary["cpu_s"], summary["simulator_cpu_s"]
    steps = summary.get("steps", {})
    # The flow's steps and its ending, each split the same way (kiosk.step_trace); what is
    # outside them is the menu, the result screen's tap and the scripted citizen's own work.
    in_steps = sum(s["wall"] * s["runs"] for name, s in steps.items() if "/" not in name) / runs
    return {"wall": round(wall / runs, 3), "kiosk_cpu": round(kiosk / runs, 3),
            "simulator_cpu": round(sim / runs, 3),
            "waiting": round(max(wall - kiosk - sim, 0.0) / runs, 3),
            "outside_steps": round(max(wall / runs - in_steps, 0.0), 3),
            "steps": {name: {k: v for k, v in s.items() if k != "runs"}
                      for name, s in steps.items()}}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        journal = journal_rate(folder)
        raw = raw_rate(folder)
        endorsement, endorsement_trace = transaction_overhead(folder / "e", "endorsement", 5)
        bill, bill_trace = transaction_overhead(folder / "b", "bill", 10)
    print(f"journal {journal:.0f} transitions/s (each: compare-and-set update, history row, fsync); "
          f"raw insert+fsync {raw:.0f}/s; endorsement {endorsement:.3f} s; bill {bill:.3f} s")
    print(json.dumps({"journal_transitions_per_s": round(journal, 1),
                      "raw_sqlite_per_s": round(raw, 1),
                      "transaction_overhead_s": round(endorsement, 3),
                      "bill_payment_overhead_s": round(bill, 3),
                      "endorsement_trace_s": endorsement_trace,
                      "bill_trace_s": bill_trace}))


if __name__ == "__main__":
    main()
