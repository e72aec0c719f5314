"""MRZ reading on one core: rendered data pages (the simulator's) read by drivers.mrz_ocr.

200 pages across TD1, TD2 and TD3 and the fault kinds (clean, glare, blur, tilt, a finger on
the band), each with its own made-up holder. A page counts as read when the MRZ data equals
the holder's; `wrong_accepted` counts pages whose accepted MRZ differs from the holder's
(must be 0). `ms_p95` is the 95th percentile of one page's reading time. A fingertip over a
character makes that character unreadable: those pages are expected to be refused, so
`read_rate_faulted` is given with and without them.

"One core": OpenCV's own threads off and the process pinned to one CPU. Prints one JSON
object as its last line.
"""

from __future__ import annotations

import json
import os
import time

import cv2
import numpy as np

from drivers.mrz import parse_mrz
from drivers.mrz_ocr import read_mrz
from simulator.camera.data_page import PageFault, random_faults, random_holder, render_data_page
from simulator.icao_chip.mrz import MrzLayout, mrz_lines

PAGES = 200


def main() -> None:
    cv2.setNumThreads(1)
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    kinds, layouts = list(PageFault), list(MrzLayout)
    read_mrz(render_data_page(random_holder(0, MrzLayout.TD3), MrzLayout.TD3))  # warm up
    times: list[float] = []
    read: dict[PageFault, list[bool]] = {kind: [] for kind in kinds}
    wrong = 0
    for page in range(PAGES):
        kind, layout = kinds[page % len(kinds)], layouts[(page // len(kinds)) % len(layouts)]
        holder = random_holder(1000 + page, layout)
        image = render_data_page(holder, layout, random_faults(kind, layout, page), seed=page)
        started = time.perf_counter()
        reading = read_mrz(image)
        times.append((time.perf_counter() - started) * 1000)
        truth = parse_mrz("".join(mrz_lines(holder, layout)))
        read[kind].append(reading.data == truth)
        wrong += reading.data is not None and reading.data != truth

    def rate(of: list[PageFault]) -> float:
        results = [r for kind in of for r in read[kind]]
        return round(sum(results) / len(results), 3)

    faulted = [k for k in kinds if k is not PageFault.CLEAN]
    print(json.dumps({"by_fault": {k.value: rate([k]) for k in kinds}}))
    print(json.dumps({
        "pages": PAGES,
        "read_rate": rate(kinds),
        "read_rate_clean": rate([PageFault.CLEAN]),
        "read_rate_faulted": rate(faulted),
        "read_rate_faulted_unoccluded": rate([k for k in faulted if k is not PageFault.OCCLUSION]),
        "wrong_accepted": wrong,
        "ms_p95": round(float(np.percentile(times, 95)), 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
