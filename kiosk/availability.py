"""The question the flow engine asks of the devices: can item X run now, and if not, why?

It is answered from the devices the kiosk has and their live health, and from whether the
backends can be reached. A missing optional device (the receipt printer) leaves the item
offered with a warning the citizen sees before paying.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kiosk.catalog import ServiceItem


@dataclass(frozen=True)
class DeviceState:
    usable: bool
    reason: str | None = None  # a peripherals.errors.DeviceReason value when not usable


@dataclass(frozen=True)
class Verdict:
    offered: bool
    reason_key: str | None = None  # kiosk.i18n key of why not
    warning_key: str | None = None  # kiosk.i18n key of what will be missing


NOT_FITTED = "unavailable.not_fitted"  # the kiosk lacks a device the item needs: not shown
IN_PERSON_ONLY = "unavailable.in_person_only"  # the catalog says: the citizen alone, no agent

DeviceStates = Callable[[], dict[str, DeviceState]]


class ServiceAvailability:
    def __init__(self, device_states: DeviceStates) -> None:
        self.device_states = device_states

    def check(self, item: ServiceItem, network_ok: bool, agent: bool = False) -> Verdict:
        """`agent`: a village agent would run it for a citizen (kiosk.village_agent)."""
        if agent and item.in_person_only:
            return Verdict(False, IN_PERSON_ONLY)
        if item.online and not network_ok:
            return Verdict(False, "unavailable.network")
        states = self.device_states()
        if any(name not in states for name in item.required_devices):
            return Verdict(False, NOT_FITTED)
        for name in sorted(item.required_devices):
            state = states.get(name)
            if state is None or not state.usable:
                return Verdict(False, f"unavailable.device.{name}")
        for name in sorted(item.optional_devices):
            state = states.get(name)
            if name == "receipt_printer" and (state is None or not state.usable):
                return Verdict(True, warning_key="warning.no_receipt")
        return Verdict(True)
