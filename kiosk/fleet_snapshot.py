"""What a kiosk's heartbeats say about it: the snapshot kiosk.fleet_link takes from the session,
the journal, the devices and the update agent, in the fleet wire's terms."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from importlib import metadata

from kiosk.fleet_updates import FleetUpdates
from kiosk.journal import Journal
from kiosk.json_object import JsonObject
from kiosk.run_state import RunInfo
from kiosk.session import KioskSession
from kiosk.viewmodel import ServiceTile
from wire.fleet import (
    MAX_ITEMS,
    AttentionItem,
    DeviceStatus,
    ItemAvailability,
    ServiceOrder,
    WireError,
)

log = logging.getLogger(__name__)


def software_version() -> str:
    try:
        return metadata.version("kiosk")
    except metadata.PackageNotFoundError:
        return "dev"


def take_snapshot(
    session: KioskSession,
    journal: Journal,
    device_status: Callable[[], list[DeviceStatus]],
    updates: FleetUpdates | None,
    service: ServiceOrder,
    run: RunInfo,
) -> JsonObject:
    """What the heartbeat says now (see kiosk.fleet_heartbeat for its keys). From the loop thread
    only: the journal is used from there."""
    counts = journal.count_by_state()
    attention = []
    for tx in journal.for_operators():  # needing a person, or not settled yet
        history = journal.history(tx.tx_id)
        reason = tx.attention or (history[-1][2] or "" if history else "")
        attention.append(AttentionItem(tx.tx_id, tx.state.value, tx.updated_at, reason))
    catalog = session.catalog
    counters = {f"transactions_{state}": n for state, n in counts.items()}
    manager = session.device_manager
    if manager is not None:
        # Device usage (receipts printed, cards dispensed...): the fleet's supply forecasts.
        for name, device in manager.snapshot().items():
            for counter, n in device.counters.items():
                counters[f"{name}.{counter}"[:64]] = n
    serving = not session.operator_out_of_service
    update = updates.status() if updates is not None else None
    return {
        # The slot's release when updates run from slots; else the installed package's.
        "software_version": update.running_version if update else software_version(),
        "update": update,
        "catalog_version": catalog.version if catalog else "",
        "in_service": serving and any(t.available for t in session.view.services),
        "devices": device_status(),
        "counters": counters,
        "items": _menu_items(session.view.services, serving),
        "attention": attention,
        "service_state": service.state.value,
        "service_revision": service.revision,
        "started_at": run.started_at,
        "boot_id": run.boot_id,
        "restarts": run.restarts,
    }


def _menu_items(tiles: Sequence[ServiceTile], serving: bool) -> list[ItemAvailability]:
    """The menu's items as the heartbeat carries them. One the wire cannot carry (an odd code)
    is left out rather than costing the heartbeat its whole status."""
    items = []
    for tile in tiles[:MAX_ITEMS]:
        item = ItemAvailability(tile.code, serving and tile.available, tile.reason_key or "")
        try:
            items.append(ItemAvailability.from_json(item.to_json()))
        except WireError:
            if tile.code not in _LEFT_OUT:  # said once, not on every snapshot
                _LEFT_OUT.add(tile.code)
                log.warning("menu item left out of heartbeats", extra={"item": tile.code[:64]})
    return items


_LEFT_OUT: set[str] = set()
