"""Soak: thousands of headless transactions of mixed card-less items with faults, against the
simulator (a child process, as on a real kiosk the devices are not the kiosk), on the kiosk's
own core in this process: recovery, devices, session, retention, ratings delivery.

Items: bill payments, traffic fines, queue tickets; faults, in turn: the utility backend failing
every try of a submission (the bill is refunded), the citizen walking away at the payment code
(the order is closed), the receipt printer out of paper (the bill is paid, no receipt). No item
needs the ID card or the chip: the shared card slot is left alone.

After the warm-up, the process's resident memory, open descriptors and threads are read, and
again at the end, with the kiosk's state folder's size (the journal, outboxes, logs).

Prints {"transactions", "rss_growth_mb", "fd_growth", "threads_growth",
"disk_growth_mb_per_1000", "errors"} as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.app import EmbeddedSimulator, prepare, start_outbox_delivery
from kiosk.config import load_config, simulator_overrides
from kiosk.logs import setup_logging
from kiosk.retention import start_housekeeping
from scenarios.headless_citizen import _finish, _until, bill, bill_confirmed, queue
from simulator.control_client import SimulatorClient
from simulator.reference import FINE_DECISION, TRAFFIC_FINE

log = logging.getLogger(__name__)


async def _bill_to_payment(view: Any, intents: Any) -> None:
    await bill_confirmed(view, intents)
    await _until(view, "pay")


async def bill_refunded(view: Any, intents: Any, sim: SimulatorClient) -> dict:
    """Paid, then the utility backend fails every try of the submission: the money goes back."""
    await _bill_to_payment(view, intents)
    await sim.backend_faults("utility", fail_next=3)
    try:
        await sim.pay(code_url=view.qr_payload)
        return await _finish(view, intents)
    finally:
        await sim.backend_faults("utility", fail_next=0)


async def bill_walked_away(view: Any, intents: Any, sim: SimulatorClient) -> dict:
    """The citizen leaves at the payment code: the order is closed, nothing taken."""
    await _bill_to_payment(view, intents)
    intents.cancel()
    return await _finish(view, intents)


async def fine_once(view: Any, intents: Any, sim: SimulatorClient) -> dict:
    """A traffic fine: paid the first time; after that the decision is known paid and the
    citizen is told so before any payment."""
    intents.touch_start()
    await _until(view, "menu")
    intents.choose_service(TRAFFIC_FINE)
    await _until(view, "enter_account")
    for digit in FINE_DECISION:
        intents.key_press(digit)
    intents.key_press("ok")
    if await _until(view, "confirm", 30, "result") == "confirm":
        intents.choose_option("confirm")
        await _until(view, "pay")
        await sim.pay(code_url=view.qr_payload)
    return await _finish(view, intents)


async def bill_no_paper(view: Any, intents: Any, sim: SimulatorClient) -> dict:
    """The receipt printer runs out of paper: the bill is paid and says there is no receipt."""
    await sim.set_device_faults("receipt_printer", paper_out=True)
    try:
        return await bill(view, intents, sim)
    finally:
        await sim.set_device_faults("receipt_printer", paper_out=False)


async def _lit(view: Any, timeout: float = 30.0) -> bool:
    """A citizen walks up to a kiosk whose items are all lit; after a fault (paper refilled, a
    status query that timed out on a loaded machine) they wait until the kiosk has seen it.
    False if they had to wait."""
    deadline = time.monotonic() + timeout
    waited = False
    while not all(t.available for t in view.services) and time.monotonic() < deadline:
        waited = True
        await asyncio.sleep(0.05)
    return not waited


# One round of the mix; refunds and walk-aways end with result_ok False by design.
MIX = (bill, fine_once, queue, bill, bill_refunded, bill, bill_walked_away, bill, queue,
       bill_no_paper)


@dataclass(frozen=True)
class Reading:
    rss_mb: float
    fds: int
    threads: int
    disk_mb: float
    thread_names: tuple[str, ...]


def folder_mb(folder: Path) -> float:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except FileNotFoundError:
                pass
    return total / 1e6


def _pool(reading: Reading) -> int:
    """The default executor's workers (asyncio names them asyncio_0, asyncio_1, ...)."""
    return sum(name.startswith("asyncio_") for name in reading.thread_names)


def read_process(state_dir: Path) -> Reading:
    gc.collect()
    rss_kb = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                  if line.startswith("VmRSS:"))
    return Reading(rss_kb / 1024, len(os.listdir("/proc/self/fd")),
                   len(os.listdir("/proc/self/task")), folder_mb(state_dir),
                   tuple(sorted(t.name for t in threading.enumerate())))


async def run_soak(transactions: int, warmup: int, state_dir: Path, endpoints: dict) -> dict:
    overrides: dict[str, Any] = simulator_overrides(endpoints)
    overrides["state_dir"] = str(state_dir)
    # No artificial waits: the payment is polled often, the result is left at once.
    overrides["flow"] = {"payment_poll_s": 0.02}
    config = load_config(None, overrides)
    ctx, session = await prepare(config)
    session.start()
    housekeeper = start_housekeeping(ctx, session)
    outbox = start_outbox_delivery(ctx, session)
    outcomes: Counter[str] = Counter()
    errors: list[str] = []
    waits = 0  # citizens who found an item dark (a device being read again) and waited
    first: Reading | None = None
    threads_at_start = threading.active_count()
    try:
        async with SimulatorClient(endpoints["control_url"]) as sim:
            for n in range(transactions):
                if n == warmup:
                    first = read_process(state_dir)
                citizen = MIX[n % len(MIX)]
                if not await _lit(ctx.view):
                    waits += 1
                try:
                    result = await asyncio.wait_for(citizen(ctx.view, session, sim), 120)
                    outcomes[f"{citizen.__name__}:{'ok' if result['result_ok'] else 'not_ok'}"] += 1
                except Exception as exc:  # a stuck citizen is a finding, not the end of the soak
                    errors.append(f"{n} {citizen.__name__}: {type(exc).__name__} {exc}"[:200])
                    session.cancel()
                    await asyncio.sleep(1.0)
                    if str(ctx.view.screen) == "result":
                        session.finish()
        last = read_process(state_dir)
        unfinished = len(ctx.journal.unfinished())
    finally:
        outbox.cancel()
        await housekeeper.stop()
        from kiosk.app import close_context

        await close_context(ctx, session)
    assert first is not None
    measured = max(1, transactions - warmup)
    return {
        "transactions": transactions,
        "warmup": warmup,
        "rss_mb": round(last.rss_mb, 1),
        "rss_growth_mb": round(last.rss_mb - first.rss_mb, 2),
        "fd_growth": last.fds - first.fds,
        # Threads beyond asyncio's default executor, whose workers start when two blocking calls
        # first overlap and stay (bounded by its max_workers): that pool growing is not a leak.
        "threads_growth": (last.threads - _pool(last)) - (first.threads - _pool(first)),
        "pool_threads": _pool(last),
        "threads_at_start": threads_at_start,
        # Which threads came or went (Python's names; a growing pool shows its next worker).
        "threads_added": sorted(set(last.thread_names) - set(first.thread_names)),
        "threads_gone": sorted(set(first.thread_names) - set(last.thread_names)),
        "disk_growth_mb_per_1000": round((last.disk_mb - first.disk_mb) * 1000 / measured, 3),
        "unfinished": unfinished,
        "outcomes": dict(sorted(outcomes.items())),
        "waited_for_dark_items": waits,
        "errors": len(errors),
        "error_samples": errors[:5],
    }


def soak(transactions: int, warmup: int, work: Path) -> dict:
    sim = EmbeddedSimulator(work / "sim")
    endpoints = sim.start()
    try:
        started = time.monotonic()
        result = asyncio.run(run_soak(transactions, warmup, work / "kiosk", endpoints))
        result["seconds"] = round(time.monotonic() - started, 1)
        return result
    finally:
        sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        setup_logging(Path(tmp) / "kiosk" / "logs", logging.WARNING)
        print(json.dumps(soak(args.transactions, args.warmup, Path(tmp))))


if __name__ == "__main__":
    main()
