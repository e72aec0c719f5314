"""The menu's verdict on a service item, in words the citizen reads: whether the backends can
be reached (an offline-capable item stays on without them: its submission waits in the
outbox), then the device manager's one answer to "can item X run now, and why not"
(`availability_of`), turned into i18n keys. A missing optional device (the receipt printer)
leaves the item offered with a warning the citizen sees before paying.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from kiosk.catalog import ServiceItem
from peripherals.device_manager import ServiceRequirements, availability_of
from peripherals.health import ConnectionState, DeviceHealth, DeviceStatus


@dataclass(frozen=True)
class Verdict:
    offered: bool
    reason_key: str | None = None  # kiosk.i18n key of why not
    warning_key: str | None = None  # kiosk.i18n key of what will be missing


NOT_FITTED = "unavailable.not_fitted"  # the kiosk lacks a device the item needs: not shown
IN_PERSON_ONLY = "unavailable.in_person_only"  # the catalog says: the citizen alone, no agent
# What the citizen is told before paying when an optional device cannot serve the item.
_WARNING_WITHOUT = {"receipt_printer": "warning.no_receipt"}

DeviceStatuses = Callable[[], Mapping[str, DeviceStatus]]


def assumed_usable(names: Iterable[str]) -> dict[str, DeviceStatus]:
    """Statuses for devices nobody watches (a kiosk run without its device manager): usable."""
    return {name: DeviceStatus(name, "unwatched", "", ConnectionState.CONNECTED, DeviceHealth.OK)
            for name in names}


class ServiceAvailability:
    """Asks the device manager's rule about each item and says it as the menu shows it."""

    def __init__(self, device_statuses: DeviceStatuses,
                 site_backends: frozenset[str] = frozenset()) -> None:
        self.device_statuses = device_statuses
        # Backends on the site's own network (a village point's local queue): the link being
        # down does not take them away.
        self.site_backends = site_backends

    def _on_site(self, item: ServiceItem) -> bool:
        return bool(item.backends) and item.backends <= self.site_backends \
            and not item.takes_payment

    def check(self, item: ServiceItem, network_ok: bool, agent: bool = False) -> Verdict:
        """`agent`: a village agent would run it for a citizen (kiosk.village_agent); an item
        the catalog keeps for the citizen in person is then refused, whatever the devices say."""
        if agent and item.in_person_only:
            return Verdict(False, IN_PERSON_ONLY)
        if not network_ok and not item.works_offline and not self._on_site(item):
            # What stays off when the link is down, and the plain reason why.
            return Verdict(False, "unavailable.network_payment" if item.takes_payment
                           else "unavailable.network")
        answer = availability_of(
            ServiceRequirements(item.required_devices, item.optional_devices),
            self.device_statuses(),
        )
        if not answer.offered:
            if not answer.fitted:
                return Verdict(False, NOT_FITTED)
            return Verdict(False, f"unavailable.device.{answer.device}")
        for name in answer.without:
            if name in _WARNING_WITHOUT:
                return Verdict(True, warning_key=_WARNING_WITHOUT[name])
        return Verdict(True)
