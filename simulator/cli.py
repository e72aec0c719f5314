"""`kiosk-sim`: run the hardware simulator, print its endpoints, or poke its devices."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

DEFAULT_STATE_DIR = Path("var/sim")


async def _run(state_dir: Path) -> None:
    from simulator.runtime import Simulator, SimulatorOptions

    sim = Simulator(SimulatorOptions(state_dir=state_dir))
    await sim.start()
    print(json.dumps(sim.endpoints), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sim.stop()


async def _control(state_dir: Path, action: str) -> dict | list:
    from simulator.control import SimulatorClient
    from simulator.runtime import read_endpoints

    async with SimulatorClient(read_endpoints(state_dir)["control_url"]) as client:
        calls = {
            "card-insert": client.insert_card,
            "card-remove": client.remove_card,
            "face-show": client.show_face,
            "face-hide": client.hide_face,
            "state": client.state,
            "orders": client.orders,
            "receipts": client.receipts,
        }
        return await calls[action]() or {"ok": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk-sim", description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run every simulated device and backend until interrupted")
    sub.add_parser("endpoints", help="print where each simulated device is, as JSON")
    for action in (
        "card-insert",
        "card-remove",
        "face-show",
        "face-hide",
        "state",
        "orders",
        "receipts",
    ):
        sub.add_parser(action)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.command == "run":
        asyncio.run(_run(args.state_dir))
        return 0
    if args.command == "endpoints":
        from simulator.runtime import read_endpoints

        try:
            print(json.dumps(read_endpoints(args.state_dir), indent=2))
        except FileNotFoundError:
            print(f"no simulator is running with state folder {args.state_dir}", file=sys.stderr)
            return 1
        return 0
    print(
        json.dumps(
            asyncio.run(_control(args.state_dir, args.command)), indent=2, ensure_ascii=False
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
