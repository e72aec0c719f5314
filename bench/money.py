"""The fault explorer's whole space: every fen delivered or refunded, on every path.

Whole transactions (bill payment, endorsement, a paid-per-copy credit report) through the real
kiosk core against the simulator, each with faults on the kiosk's calls to the gateway and the
backends, a citizen's action at a step, a power cut at a journal write (tests/integration/
explorer). First an ordinary run of each service and payment method, then the systematic space
(each fault kind on each call those runs make, each action at each step, a power cut after each
journal write), then combinations sampled with hypothesis until at least --runs runs and --kills
power cuts. Every run is checked against the gateway's and backends' own ledgers.

    .venv/bin/python -m bench.money [--runs 5000] [--kills 1000] [--workers 1]

Prints {"runs", "kills", "faults", "violations", "lost_fen", "double_fen", "unreconciled", ...}
as its last line; the runs with violations (kept on disk) are listed before it.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings

from tests.integration.explorer import Explorer
from tests.integration.explorer.plan import RunSpec, Totals, baselines, run_specs, systematic


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
    """Explorer workers, each with its own simulator. The chip's card slot is one per machine
    slot, so every endorsement runs on the first worker."""

    def __init__(self, work_dir: Path, workers: int, totals: Totals) -> None:
        self.explorers = [Explorer(work_dir / f"worker-{n}") for n in range(workers)]
        self.totals = totals
        self.lock = threading.Lock()
        self.started = time.monotonic()

    def __enter__(self) -> Pool:
        for explorer in self.explorers:
            explorer.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        for explorer in self.explorers:
            explorer.__exit__(*exc)

    def run_all(self, specs: list[RunSpec]) -> list[dict]:
        """Endorsements wait for the first worker (the one card slot); everything else goes to
        whichever worker is free first, the first one too once its endorsements are done. A run
        mostly waits on the kiosk's timers, so more workers than cores still pay."""
        chip: queue.Queue[RunSpec] = queue.Queue()
        shared: queue.Queue[RunSpec] = queue.Queue()
        for spec in specs:
            (chip if spec.service == "endorsement" else shared).put(spec)
        results: list[dict] = []

        def next_spec(own: list[queue.Queue[RunSpec]]) -> RunSpec | None:
            for source in own:
                try:
                    return source.get_nowait()
                except queue.Empty:
                    continue
            return None

        def lane(explorer: Explorer, own: list[queue.Queue[RunSpec]]) -> None:
            while (spec := next_spec(own)) is not None:
                result = explorer.run(spec)
                with self.lock:
                    results.append(result)
                    self.totals.add(result)
                    if self.totals.runs % 100 == 0 or result["violations"]:
                        self._progress(result)

        threads = [threading.Thread(target=lane, args=(explorer, [chip, shared] if n == 0 else
                                                       [shared]))
                   for n, explorer in enumerate(self.explorers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
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
    args = parser.parse_args(argv)
    totals = Totals()
    started = time.monotonic()
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-money-"))
    with Pool(work_dir, args.workers, totals) as pool:
        called: dict[tuple[str, str], set[str]] = {}
        for result in pool.run_all(baselines()):
            spec = result["spec"]
            called[(spec["service"], spec["method"])] = set(result["routes"])
        pool.run_all(systematic(called))
        drawn = 0
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
                      "workers": args.workers}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
