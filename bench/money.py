"""The fault explorer's whole space: every fen delivered or refunded, on every path.

Whole transactions (bill payment, endorsement, a paid-per-copy credit report) through the real
kiosk core against the simulator, each with faults on the kiosk's calls to the gateway and the
backends, a citizen's action at a step, a power cut at a journal write (tests/integration/
explorer). First an ordinary run of each service and payment method, then the systematic space
(each fault kind on each call those runs make, each action at each step, a power cut after each
journal write), then combinations sampled with hypothesis until at least --runs runs and --kills
power cuts. Every run is checked against the gateway's and backends' own ledgers.

    .venv/bin/python -m bench.money [--runs 5000] [--kills 1000] [--workers 1] [--chip-slots 1,0]

Prints {"runs", "kills", "faults", "violations", "lost_fen", "double_fen", "unreconciled", ...}
as its last line; the runs with violations (kept on disk) are listed before it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings

from simulator.pcscd import vpcd_slot
from tests.integration.explorer import Explorer
from tests.integration.explorer.plan import RunSpec, Totals, baselines, run_specs, systematic


def give_back_time(at: str) -> float:
    """HH:MM today (or tomorrow, if already past) as a time.time() value."""
    hour, minute = (int(part) for part in at.split(":"))
    now = dt.datetime.now()
    when = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if when <= now:
        when += dt.timedelta(days=1)
    return when.timestamp()


def sampled(count: int, seed_offset: int = 0) -> list[RunSpec]:
    """`count` combinations drawn by hypothesis (derandomized: the same list every time)."""
    drawn: list[RunSpec] = []

    @settings(max_examples=count, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(spec=run_specs())
    def collect(spec: RunSpec) -> None:
        drawn.append(spec)

    collect()
    return drawn[seed_offset:]


class Pool:
    """Explorer workers, each with its own simulator. A machine has one card slot per vpcd slot,
    so endorsements run only on the workers given a slot (`chip_slots`, one worker each); the
    others run everything else. A chip worker can be given back its slot at a deadline (`until`,
    wall clock): it then stops, and the other chip workers carry on."""

    def __init__(self, work_dir: Path, workers: int, totals: Totals,
                 chip_slots: list[int], until: dict[int, float]) -> None:
        self.explorers: list[Explorer] = []
        self.deadlines: list[float | None] = []
        for n in range(max(workers, len(chip_slots))):
            slot = chip_slots[n] if n < len(chip_slots) else None
            env = {"KIOSK_VPCD_SLOT": str(slot)} if slot is not None else {}
            self.explorers.append(Explorer(work_dir / f"worker-{n}", env=env))
            self.deadlines.append(until.get(slot) if slot is not None else None)
        self.chip_workers = len(chip_slots)
        self.retired: set[int] = set()
        self.totals = totals
        self.lock = threading.Lock()
        self.started = time.monotonic()

    def __enter__(self) -> Pool:
        for explorer in self.explorers:
            explorer.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        for n, explorer in enumerate(self.explorers):
            if n not in self.retired:
                explorer.__exit__(*exc)

    def run_all(self, specs: list[RunSpec]) -> list[dict]:
        """Endorsements wait for a chip worker; everything else goes to whichever worker is free
        first, a chip worker too once no endorsement is left. A run mostly waits on the kiosk's
        timers, so more workers than cores still pay."""
        chip: queue.Queue[RunSpec] = queue.Queue()
        shared: queue.Queue[RunSpec] = queue.Queue()
        for spec in specs:
            (chip if spec.service == "endorsement" else shared).put(spec)
        results: list[dict] = []

        def next_spec(n: int, own: list[queue.Queue[RunSpec]]) -> RunSpec | None:
            deadline = self.deadlines[n]
            if deadline is not None and time.time() >= deadline:
                return None
            for source in own:
                try:
                    return source.get_nowait()
                except queue.Empty:
                    continue
            return None

        def lane(n: int, own: list[queue.Queue[RunSpec]]) -> None:
            explorer = self.explorers[n]
            while (spec := next_spec(n, own)) is not None:
                result = explorer.run(spec)
                with self.lock:
                    results.append(result)
                    self.totals.add(result)
                    if self.totals.runs % 100 == 0 or result["violations"]:
                        self._progress(result)
            deadline = self.deadlines[n]
            if deadline is not None and time.time() >= deadline and n not in self.retired:
                explorer.__exit__(None, None, None)  # gives the card slot back
                self.retired.add(n)
                print(f"worker {n} gave its card slot back", file=sys.stderr, flush=True)

        threads = [threading.Thread(target=lane, args=(
            n, [chip, shared] if n < self.chip_workers else [shared]))
            for n in range(len(self.explorers)) if n not in self.retired]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if not chip.empty():
            raise RuntimeError("endorsements left with no chip worker: every slot was given back")
        return results

    def _progress(self, result: dict) -> None:
        elapsed = time.monotonic() - self.started
        print(f"{self.totals.runs} runs, {self.totals.kills} kills, {self.totals.violations} "
              f"violations, {elapsed:.0f} s", file=sys.stderr, flush=True)
        if result["violations"]:
            print(f"  VIOLATION {result['label']}: {result['violations']}", file=sys.stderr,
                  flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--chip-slots", default="",
                        help="vpcd slots for endorsement workers, e.g. 1,0 (default: this "
                             "machine's slot, KIOSK_VPCD_SLOT)")
    parser.add_argument("--give-back", action="append", default=[], metavar="SLOT=HH:MM",
                        help="stop using a chip slot at this local time (UTC here)")
    args = parser.parse_args(argv)
    totals = Totals()
    started = time.monotonic()
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-money-"))
    chip_slots = [int(s) for s in args.chip_slots.split(",") if s] or [vpcd_slot()]
    until = {int(slot): give_back_time(at) for slot, at in
             (item.split("=", 1) for item in args.give_back)}
    with Pool(work_dir, args.workers, totals, chip_slots, until) as pool:
        called: dict[tuple[str, str], set[str]] = {}
        for result in pool.run_all(baselines()):
            spec = result["spec"]
            called[(spec["service"], spec["method"])] = set(result["routes"])
        # The systematic space and the first sampled batch in one go: no worker idles while the
        # chip workers finish the systematic endorsements.
        specs = systematic(called)
        drawn = max(args.runs - totals.runs - len(specs), 0)
        pool.run_all(specs + (sampled(drawn) if drawn else []))
        while totals.runs < args.runs or totals.kills < args.kills:
            batch = max(args.runs - totals.runs, 200)
            specs = sampled(drawn + batch)[drawn:]
            drawn += batch
            pool.run_all(specs)
    for failure in totals.failures:
        print(json.dumps({"label": failure["label"], "violations": failure["violations"]},
                         ensure_ascii=False))
    print("how the runs' transactions ended:", json.dumps(dict(totals.endings.most_common())))
    print(json.dumps({**totals.figures(), "needs_attention": totals.attention,
                      "seconds": round(time.monotonic() - started, 1),
                      "workers": len(pool.explorers), "chip_slots": chip_slots}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
