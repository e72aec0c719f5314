"""The kiosk's devices as the fleet sees them: the device manager's statuses and events mapped,
once, to the fleet wire's health, supply levels and event kinds (no personal data in them)."""

from __future__ import annotations

from collections.abc import Callable

from peripherals.device_manager import DeviceManager
from peripherals.health import DeviceEvent, DeviceEventKind
from peripherals.health import DeviceHealth as PeripheralHealth
from peripherals.health import SupplyLevel as PeripheralSupplyLevel
from wire.fleet import DeviceHealth, DeviceStatus, EventKind, Supply, SupplyLevel

_HEALTH = {
    PeripheralHealth.OK: DeviceHealth.OK,
    PeripheralHealth.DEGRADED: DeviceHealth.DEGRADED,
    PeripheralHealth.FAULT: DeviceHealth.FAULT,
    PeripheralHealth.OFFLINE: DeviceHealth.FAULT,
}
# The device side's supply levels on the fleet wire (a full retain bin has no room left: EMPTY).
_LEVELS = {
    PeripheralSupplyLevel.OK: SupplyLevel.OK,
    PeripheralSupplyLevel.LOW: SupplyLevel.LOW,
    PeripheralSupplyLevel.OUT: SupplyLevel.EMPTY,
    PeripheralSupplyLevel.UNKNOWN: SupplyLevel.UNKNOWN,
}
# Device events the operators hear of at once; the others show in the next heartbeat only.
_EVENT_KINDS = {
    DeviceEventKind.LOST: EventKind.DEVICE_FAULT,
    DeviceEventKind.RECOVERED: EventKind.DEVICE_RECOVERED,
    DeviceEventKind.SUPPLY_LOW: EventKind.SUPPLY_LOW,
}


def fleet_event_kind(event: DeviceEvent) -> EventKind | None:
    """The fleet event a device event is, or None if it is none: a fault, a recovery, a low
    supply, or a status change that left the device in a fault (it still answers, so it was not
    lost, but cannot do its job)."""
    kind = _EVENT_KINDS.get(event.kind)
    if (
        kind is None
        and event.kind is DeviceEventKind.STATUS_CHANGED
        and event.status.health is PeripheralHealth.FAULT
    ):
        kind = EventKind.DEVICE_FAULT
    return kind


def wire_devices(
    manager: DeviceManager | None, *more: Callable[[], DeviceStatus]
) -> Callable[[], list[DeviceStatus]]:
    """The device manager's live snapshot in the fleet's wire shape (no personal data in it),
    then `more` (the kiosk's own disk: kiosk.retention)."""

    def statuses() -> list[DeviceStatus]:
        result = []
        snapshot = manager.snapshot() if manager is not None else {}  # no devices fitted
        for name, status in sorted(snapshot.items()):
            supplies = tuple(
                Supply(supply.value, _LEVELS[reading.level])
                for supply, reading in sorted(status.supplies.items())
            )
            result.append(
                DeviceStatus(
                    name,
                    _HEALTH[status.health],
                    status.reason.value if status.reason else "",
                    supplies,
                )
            )
        return result + [status() for status in more]

    return statuses
