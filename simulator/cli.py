"""`kiosk-sim`: run the hardware simulator, print its endpoints, poke its devices, switch faults."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from simulator.device_faults import ALIASES, UNPLUGGED, SimDevice

DEFAULT_STATE_DIR = Path("var/sim")

# Shortcuts for the switches a technician or developer reaches for most; `fault` sets any other.
FAULT_COMMANDS = {
    "paper-out": "paper_out",
    "jam": "jam",
    "cover-open": "cover_open",
    "slow": "slow",
    "garbage": "garbage",
}
DEVICE_HELP = ", ".join([*(d.value for d in SimDevice), *(f"{a} ({d.value})" for a, d in ALIASES.items())])


class NoSimulator(Exception):
    """Nothing to talk to: no endpoints file, or no simulator answers at its address."""


def _end_with(parent_pid: int) -> None:
    """The simulator a kiosk started ends with it, however the kiosk ends (SIGKILL, a C-level
    exit in a library): the kernel sends SIGTERM when the parent dies (prctl
    PR_SET_PDEATHSIG), and a parent already gone ends it at once."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent_pid:
        raise SystemExit(f"kiosk-sim: the kiosk that started it (pid {parent_pid}) is gone")


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


def _control_url(state_dir: Path) -> str:
    from simulator.runtime import read_endpoints

    try:
        return str(read_endpoints(state_dir)["control_url"])
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise NoSimulator(
            f"no simulator is running with state folder {state_dir} (start one with "
            f"`kiosk-sim --state-dir {state_dir} run`)"
        ) from exc


async def _call(state_dir: Path, action: Callable[[Any], Awaitable[Any]]) -> Any:
    from simulator.control_client import SimulatorClient, SimulatorUnreachable

    url = _control_url(state_dir)
    try:
        async with SimulatorClient(url) as client:
            return await action(client)
    except SimulatorUnreachable as exc:
        raise NoSimulator(
            f"no simulator answers at {url}: the one that used state folder {state_dir} has "
            f"stopped (start one with `kiosk-sim --state-dir {state_dir} run`)"
        ) from exc


def _yes_no(value: bool | None, no: str = "no") -> str:
    return "-" if value is None else "yes" if value else no


def render_device(described: dict[str, Any]) -> str:
    """One line: `receipt_printer: plugged, faults on: paper_out`."""
    plugged = described["plugged"]
    cable = "" if plugged is None else "plugged, " if plugged else "UNPLUGGED, "
    on = ", ".join(described["on"]) or "none"
    note = "  (applies to the next card inserted)" if described["device"] == SimDevice.CHIP else ""
    return f"{described['device']}: {cable}faults on: {on}{note}"


def render_state(state: dict[str, Any]) -> str:
    """The simulator at a glance: what is in front of it, then each device's cable and faults."""
    endpoints = state.get("endpoints", {})
    lines = [
        f"simulator pid {endpoints.get('pid', '?')}, control API {endpoints.get('control_url', '?')}",
        f"card in reader: {_yes_no(state['card_inserted'])}   "
        f"face in view: {_yes_no(state['face_visible'])}   "
        f"payment orders: {state['orders']}   receipts printed: {state['receipts']}",
        "",
    ]
    rows = [("DEVICE", "PLUGGED", "FAULTS ON")]
    for name, described in state["devices"].items():
        on = ", ".join(described["on"]) or "-"
        if name == SimDevice.CHIP:
            on += "   (chip switches apply to the next card inserted)"
        rows.append((name, _yes_no(described["plugged"], no="NO"), on))
    width = [max(len(row[i]) for row in rows) for i in range(2)]
    lines += [f"{a:<{width[0]}}  {b:<{width[1]}}  {c}".rstrip() for a, b, c in rows]
    return "\n".join(lines)


def _refusal(body: object) -> str:
    if isinstance(body, dict) and "message" in body:
        accepted = ", ".join(body.get("accepted", []))
        return f"{body['message']}" + (f" (one of: {accepted})" if accepted else "")
    return str(body)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk-sim", description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run every simulated device and backend until interrupted")
    run.add_argument("--parent", type=int, metavar="PID",
                     help="end when this process (the kiosk that started it) ends")
    run.add_argument("--niceness", type=int, default=0, metavar="N",
                     help="run at nice N (kiosk --simulator: 10, as devices with processors of "
                          "their own that take nothing from the kiosk's cores)")
    sub.add_parser("endpoints", help="print where each simulated device is, as JSON")
    state = sub.add_parser("state", help="what the simulator shows, and each device's faults")
    state.add_argument("--json", action="store_true", help="everything, as JSON")
    for action in ("card-insert", "card-remove", "face-show", "face-hide", "orders", "receipts"):
        sub.add_parser(action)
    for command, verb in (("unplug", "pull the cable of"), ("plug", "plug back in")):
        cable = sub.add_parser(command, help=f"{verb} DEVICE")
        cable.add_argument("device", metavar="DEVICE", help=DEVICE_HELP)
    for command, switch in FAULT_COMMANDS.items():
        shortcut = sub.add_parser(command, help=f"switch DEVICE's {switch} fault on (--off: off)")
        shortcut.add_argument("device", metavar="DEVICE", help=DEVICE_HELP)
        shortcut.add_argument("--off", action="store_true", help="switch the fault off")
    fault = sub.add_parser("fault", help="switch any of DEVICE's faults (see `state`)")
    fault.add_argument("device", metavar="DEVICE", help=DEVICE_HELP)
    fault.add_argument("switch", metavar="SWITCH", help="e.g. silent, stock_empty, no_card")
    fault.add_argument("--off", action="store_true", help="switch the fault off")
    link = sub.add_parser("link", help="shape a throttling link in front of the backends "
                          "(no option: show it), e.g. link --kbps 64 --latency-ms 300")
    link.add_argument("name", nargs="?", default="backends", help="the link (default backends)")
    link.add_argument("--kbps", type=float, help="bandwidth each way in kbit/s (0: not limited)")
    link.add_argument("--latency-ms", type=float, help="one-way latency")
    link.add_argument("--loss", type=float, help="chance a segment is lost, 0 to 1")
    updown = link.add_mutually_exclusive_group()
    updown.add_argument("--down", action="store_true", help="an outage until --up")
    updown.add_argument("--up", action="store_true", help="end the outage")
    updown.add_argument("--down-for", type=float, metavar="S", help="an outage of S seconds")
    return parser


def _link_shape(args: argparse.Namespace) -> dict[str, Any]:
    """The LinkShape fields the `link` subcommand's options name."""
    shape: dict[str, Any] = {}
    if args.kbps is not None:
        shape["bandwidth_bps"] = int(args.kbps * 1000)
    if args.latency_ms is not None:
        shape["latency_s"] = args.latency_ms / 1000
    if args.loss is not None:
        shape["loss"] = args.loss
    if args.down or args.up:
        shape["down"] = args.down
    if args.down_for is not None:
        shape["down_for_s"] = args.down_for
    return shape


def _switch_of(args: argparse.Namespace) -> tuple[str, bool] | None:
    """The (switch, on) a fault subcommand asks for; None for the other commands."""
    if args.command in ("unplug", "plug"):
        return UNPLUGGED, args.command == "unplug"
    if args.command in FAULT_COMMANDS:
        return FAULT_COMMANDS[args.command], not args.off
    if args.command == "fault":
        return args.switch, not args.off
    return None


def _poke(command: str) -> Callable[[Any], Awaitable[Any]]:
    async def call(client: Any) -> Any:
        return await {
            "card-insert": client.insert_card,
            "card-remove": client.remove_card,
            "face-show": client.show_face,
            "face-hide": client.hide_face,
            "orders": client.orders,
            "receipts": client.receipts,
        }[command]() or {"ok": True}

    return call


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.command == "run":
        if args.parent:
            _end_with(args.parent)
        if args.niceness:
            os.nice(args.niceness)
        asyncio.run(_run(args.state_dir))
        return 0
    from simulator.control_client import SimulatorRefused

    try:
        if args.command == "endpoints":
            from simulator.runtime import read_endpoints

            _control_url(args.state_dir)
            print(json.dumps(read_endpoints(args.state_dir), indent=2))
        elif args.command == "state":
            state = asyncio.run(_call(args.state_dir, lambda client: client.state()))
            print(json.dumps(state, indent=2) if args.json else render_state(state))
        elif args.command == "link":
            shape = _link_shape(args)
            answer = asyncio.run(_call(args.state_dir, lambda client: (
                client.set_link(args.name, **shape) if shape else client.link(args.name))))
            print(json.dumps(answer, indent=2))
        elif (switch := _switch_of(args)) is not None:
            name, on = switch
            described = asyncio.run(_call(
                args.state_dir, lambda client: client.set_device_faults(args.device, **{name: on})
            ))
            print(render_device(described))
        else:
            answer = asyncio.run(_call(args.state_dir, _poke(args.command)))
            print(json.dumps(answer, indent=2, ensure_ascii=False))
    except NoSimulator as exc:
        print(f"kiosk-sim: {exc}", file=sys.stderr)
        return 1
    except SimulatorRefused as exc:
        print(f"kiosk-sim: {_refusal(exc.body)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
