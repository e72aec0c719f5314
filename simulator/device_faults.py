"""One fault surface for every simulated device: named on/off switches, read and set alike.

Each device simulator keeps its own fault logic (`set_fault`, `unplug`/`plug`); a panel here only
presents it as switches, so the control API (`/devices/{name}/faults`), `SimulatorClient` and
`kiosk-sim` speak of "the dispenser's jam switch" the same way for every device. Devices are
named as the kiosk names them (`receipt_printer`, `barcode_scanner`...), so what a technician
reads in the kiosk's device list is what they type here; a few short aliases are accepted.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, Protocol

from aiohttp import web

UNPLUGGED = "unplugged"  # the one switch every pluggable device has: the cable is pulled


class SimDevice(StrEnum):
    """The simulated devices, by the names the kiosk gives them."""

    RECEIPT_PRINTER = "receipt_printer"
    DISPENSER = "dispenser"
    IDCARD_READER = "idcard_reader"
    BARCODE_SCANNER = "barcode_scanner"
    FACE_CAMERA = "face_camera"
    DOCUMENT_CAMERA = "document_camera"
    CHIP = "chip"  # the travel-permit chip: its switches apply to the next card inserted
    A4_PRINTER = "a4_printer"  # the IPP printer for certificates (ippeveprinter)


ALIASES = {
    "printer": SimDevice.RECEIPT_PRINTER,
    "scanner": SimDevice.BARCODE_SCANNER,
    "idcard": SimDevice.IDCARD_READER,
    "face": SimDevice.FACE_CAMERA,
    "document": SimDevice.DOCUMENT_CAMERA,
}


class FaultSurfaceReason(StrEnum):
    UNKNOWN_DEVICE = "unknown_device"
    UNKNOWN_SWITCH = "unknown_switch"
    BAD_VALUE = "bad_value"


class FaultSurfaceError(Exception):
    """A request the fault surface cannot carry out; `accepted` lists what it would take."""

    def __init__(self, reason: FaultSurfaceReason, message: str, accepted: Iterable[str]) -> None:
        super().__init__(message)
        self.reason = reason
        self.accepted = sorted(accepted)

    def as_json(self) -> dict[str, Any]:
        return {"error": self.reason.value, "message": str(self), "accepted": self.accepted}


def canonical(name: str) -> str:
    """`paper-out` and `Paper_Out` are `paper_out`: the CLI's spelling and the API's agree."""
    return name.strip().lower().replace("-", "_")


class FaultPanel(Protocol):
    """One device's fault switches."""

    def switches(self) -> dict[str, bool]:
        """Every switch the device has, with whether it is on."""
        ...

    def set_switch(self, name: str, on: bool) -> Awaitable[None] | None:
        """Flip one switch (`name` is one of `switches()`)."""
        ...


class SwitchedDevice(Protocol):
    """What the serial devices and the printer offer: a fault set, a cable."""

    @property
    def faults(self) -> Any: ...  # a set of the device's fault enum

    @property
    def plugged(self) -> bool: ...

    def set_fault(self, fault: Any, on: bool) -> None: ...
    def unplug(self) -> None: ...
    def plug(self) -> None: ...


class CablePanel:
    """A device with a cable (`unplugged`) and the faults of its own enum."""

    def __init__(self, device: SwitchedDevice, faults: type[StrEnum]) -> None:
        self.device = device
        self.fault_names = [f.value for f in faults]

    def switches(self) -> dict[str, bool]:
        on = {str(f) for f in self.device.faults}
        return {UNPLUGGED: not self.device.plugged} | {n: n in on for n in self.fault_names}

    def set_switch(self, name: str, on: bool) -> None:
        if name == UNPLUGGED:
            self.device.unplug() if on else self.device.plug()
        else:
            self.device.set_fault(name, on)


@dataclass
class CallbackPanel:
    """A device whose switches are read and set by functions (cameras, the chip)."""

    read: Callable[[], dict[str, bool]]
    write: Callable[[str, bool], Awaitable[None] | None]

    def switches(self) -> dict[str, bool]:
        return self.read()

    def set_switch(self, name: str, on: bool) -> Awaitable[None] | None:
        return self.write(name, on)


def enum_switches(active: Iterable[Enum], kinds: Iterable[Enum]) -> dict[str, bool]:
    on = {f.value for f in active}
    return {f.value: f.value in on for f in kinds}


class FaultBoard:
    """Every device's panel; what `/devices` and `/devices/{name}/faults` serve."""

    def __init__(self, panels: Mapping[SimDevice, FaultPanel]) -> None:
        self.panels = dict(panels)

    def device(self, name: str) -> SimDevice:
        key = canonical(name)
        found = ALIASES.get(key) or next((d for d in self.panels if d.value == key), None)
        if found is None or found not in self.panels:
            raise FaultSurfaceError(
                FaultSurfaceReason.UNKNOWN_DEVICE,
                f"no simulated device {name!r}",
                [d.value for d in self.panels],
            )
        return found

    def describe(self, device: SimDevice) -> dict[str, Any]:
        switches = self.panels[device].switches()
        return {
            "device": device.value,
            "plugged": None if UNPLUGGED not in switches else not switches[UNPLUGGED],
            "switches": switches,
            "on": [name for name, on in switches.items() if on and name != UNPLUGGED],
        }

    def describe_all(self) -> dict[str, dict[str, Any]]:
        return {device.value: self.describe(device) for device in self.panels}

    async def apply(self, name: str, changes: object) -> dict[str, Any]:
        """Set switches from `{switch: true|false}`; checks them all before flipping any."""
        device = self.device(name)
        panel = self.panels[device]
        known = panel.switches()
        if not isinstance(changes, dict):
            raise FaultSurfaceError(
                FaultSurfaceReason.BAD_VALUE, "the body is an object {switch: true|false}", known
            )
        wanted: dict[str, bool] = {}
        for raw, on in changes.items():
            switch = canonical(str(raw))
            if switch not in known:
                raise FaultSurfaceError(
                    FaultSurfaceReason.UNKNOWN_SWITCH,
                    f"the {device.value} has no {switch!r} switch",
                    known,
                )
            if not isinstance(on, bool):
                raise FaultSurfaceError(
                    FaultSurfaceReason.BAD_VALUE, f"{switch} is true or false, not {on!r}", known
                )
            wanted[switch] = on
        for switch, on in wanted.items():
            result = panel.set_switch(switch, on)
            if inspect.isawaitable(result):
                await result
        return self.describe(device)


def add_control_routes(routes: web.RouteTableDef, board: FaultBoard) -> None:
    """GET /devices (every device), GET /devices/{name}/faults, POST or PUT
    /devices/{name}/faults {switch: true|false} (answers the device's switches after)."""

    def refused(error: FaultSurfaceError) -> web.Response:
        status = 404 if error.reason is FaultSurfaceReason.UNKNOWN_DEVICE else 400
        return web.json_response(error.as_json(), status=status)

    @routes.get("/devices")
    async def devices(request: web.Request) -> web.Response:
        return web.json_response({"devices": board.describe_all()})

    @routes.get("/devices/{name}/faults")
    async def device_faults(request: web.Request) -> web.Response:
        try:
            return web.json_response(board.describe(board.device(request.match_info["name"])))
        except FaultSurfaceError as error:
            return refused(error)

    async def set_faults(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        try:
            return web.json_response(await board.apply(request.match_info["name"], body))
        except FaultSurfaceError as error:
            return refused(error)

    routes.post("/devices/{name}/faults")(set_faults)
    routes.put("/devices/{name}/faults")(set_faults)
