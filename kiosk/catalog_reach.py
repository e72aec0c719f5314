"""How far each item of a catalog runs on the kiosk (the reference catalog by default, for
the closing note of issue 13): "full" (its steps run on the machine, start to result) or
"guide only" (the kiosk shows its guide, QR code and printed checklist; it is done at a
counter or online).

`python -m kiosk.catalog_reach [--catalog FILE] [--markdown]` prints every item, then the
counts as one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from kiosk.catalog import Catalog, parse_catalog
from kiosk.service_guide import guide_for
from kiosk.step_library import STEP_LIBRARY

REFERENCE = Path(__file__).resolve().parents[1] / "simulator/assets/reference_catalog.json"


class Reach(StrEnum):
    FULL = "full"
    GUIDE_ONLY = "guide only"


@dataclass(frozen=True)
class ItemReach:
    code: str
    name: str
    department: str
    reach: Reach
    steps: tuple[str, ...]     # the kiosk steps of a full item
    guide_sections: int        # what its guide screen shows


def reach_of(catalog: Catalog) -> list[ItemReach]:
    """Every item, full ones first, each department's items in code order."""
    rows = []
    for item in catalog.items:
        reach = Reach.FULL if item.runs_on_kiosk else Reach.GUIDE_ONLY
        rows.append(ItemReach(item.code, item.name["zh"], item.department.name["zh"], reach,
                              tuple(spec.step for spec in item.steps),
                              len(guide_for(item).sections)))
    return sorted(rows, key=lambda r: (r.reach is not Reach.FULL, r.code))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, default=REFERENCE,
                        help="a published catalog file (default: the reference catalog)")
    parser.add_argument("--markdown", action="store_true", help="a table for the closing note")
    args = parser.parse_args()
    catalog = parse_catalog(args.catalog.read_bytes(), STEP_LIBRARY)
    rows = reach_of(catalog)
    if args.markdown:
        print("| code | item | department | runs | kiosk steps |\n| --- | --- | --- | --- | --- |")
    for row in rows:
        steps = " → ".join(row.steps)
        if args.markdown:
            print(f"| {row.code} | {row.name} | {row.department} | {row.reach.value} | {steps} |")
        else:
            print(f"{row.code}\t{row.reach.value}\t{row.name}\t{row.department}\t{steps}")
    counts = {reach.value: sum(1 for r in rows if r.reach is reach) for reach in Reach}
    print(json.dumps({"items": len(rows), **counts,
                      "departments": len({r.department for r in rows})}, ensure_ascii=False))


if __name__ == "__main__":
    main()
