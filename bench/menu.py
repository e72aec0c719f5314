"""The menu with a province-size catalog: keystroke to updated search results, catalog load,
index build, and a tap to the guide's words (kiosk.service_guide). The guide *screen* is drawn
by part B of issue 13; until it exists `guide_ms_p95` (tap to a rendered guide) is null, not
measured, never a made-up number; `guide_model_ms_p95` is the part below the screen.

Prints {"search_ms_p95": ..., "guide_ms_p95": null, "items": ..., ...} as its last line.
Goal: search under 50 ms at 3,000 items (and guide under 150 ms once it exists).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from kiosk.catalog import parse_catalog
from kiosk.service_guide import guide_for
from kiosk.service_search import ServiceIndex
from kiosk.step_library import known_steps
from simulator.catalog_build import build_catalog, dumps, scale_catalog

# What citizens type, one keystroke at a time: Chinese (as an IME commits it), initials, pinyin.
QUERIES = ["港澳签注", "身份证", "公积金提取", "gasq", "sfz", "gjjtq", "wfzjlzm", "hukou",
           "yibao", "jiehun", "不动产", "社保", "jtwf", "passport", "营业执照"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3000)
    args = parser.parse_args()
    raw = dumps(scale_catalog(build_catalog(), args.items)).encode()
    steps = known_steps()

    loads = []
    for _ in range(3):
        start = time.perf_counter()
        catalog = parse_catalog(raw, steps)
        loads.append(time.perf_counter() - start)

    start = time.perf_counter()
    index = ServiceIndex(catalog)
    cold_build = time.perf_counter() - start
    start = time.perf_counter()
    index = ServiceIndex(catalog, usage={catalog.items[0].code: 3})
    warm_build = time.perf_counter() - start

    keystrokes = []
    found = {}
    for _ in range(3):
        for query in QUERIES:
            for end in range(1, len(query) + 1):
                start = time.perf_counter()
                codes = index.search(query[:end])
                keystrokes.append((time.perf_counter() - start) * 1000)
            found[query] = len(codes)
    taps = []
    for item in catalog.items[::7]:
        start = time.perf_counter()
        guide_for(item, "zh")
        taps.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    index.departments()
    index.life_events()
    categories_ms = (time.perf_counter() - start) * 1000

    print(f"catalog: {len(catalog.items)} items, {len(raw) / 1e6:.1f} MB; "
          f"load {statistics.median(loads):.3f} s; index {cold_build:.3f} s cold, "
          f"{warm_build:.3f} s warm; {len(keystrokes)} keystrokes; hits {found}")
    print(json.dumps({
        "search_ms_p95": round(percentile(keystrokes, 0.95), 3),
        "search_ms_max": round(max(keystrokes), 3),
        "guide_ms_p95": None,  # part B renders the guide screen; not measured yet
        "guide_model_ms_p95": round(percentile(taps, 0.95), 3),
        "items": len(catalog.items),
        "catalog_load_s": round(statistics.median(loads), 3),
        "index_build_s": round(cold_build, 3),
        "index_rebuild_s": round(warm_build, 3),
        "categories_ms": round(categories_ms, 3),
    }))


if __name__ == "__main__":
    main()
