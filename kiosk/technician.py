"""The technician's mode on the kiosk: five quick taps on the attract headline, the PIN (three
wrong ones lock it for five minutes), then the devices, their supplies and recent events, and
the self-test of every device."""

from __future__ import annotations

import asyncio
import logging
import time

from kiosk.flow import FlowContext
from kiosk.pin import verify_pin
from kiosk.viewmodel import ScreenId, SessionView
from peripherals.device_manager import DeviceManager
from peripherals.health import DeviceEvent

log = logging.getLogger(__name__)


class TechnicianMode:
    """Mixed into kiosk.session.KioskSession, which owns what is declared here."""

    ctx: FlowContext
    view: SessionView
    device_manager: DeviceManager | None
    _taps: list[float]
    _pin_failures: int
    _pin_locked_until: float
    _device_events: tuple[str, ...]
    _self_test_task: asyncio.Task[None] | None

    @property
    def busy(self) -> bool:
        raise NotImplementedError

    def activity(self) -> None:
        raise NotImplementedError

    def refresh_menu(self) -> None:
        raise NotImplementedError

    def _to_attract(self) -> None:
        raise NotImplementedError

    def technician_tap(self) -> None:
        now = time.monotonic()
        self._taps = [t for t in self._taps if now - t < 3.0] + [now]
        if len(self._taps) >= 5 and self.view.screen is ScreenId.ATTRACT and not self.busy:
            self._taps = []
            self.view.update(screen=ScreenId.TECHNICIAN_PIN, entry="", entry_error_key="")

    def _check_pin(self, pin: str) -> None:
        if time.monotonic() < self._pin_locked_until:
            self.view.update(entry="", entry_error_key="tech.locked")
            return
        encoded = self.ctx.config.technician.pin_hash
        if not encoded:
            self.view.update(entry="", entry_error_key="tech.not_provisioned")
            return
        if verify_pin(pin, encoded):
            self._pin_failures = 0
            log.info("technician signed in")
            self.view.update(screen=ScreenId.TECHNICIAN, entry="", technician_note="")
            self._show_devices()
            return
        self._pin_failures += 1
        log.warning("wrong technician PIN (%d)", self._pin_failures)
        if self._pin_failures >= 3:
            self._pin_failures = 0
            self._pin_locked_until = time.monotonic() + 300
            self._to_attract()
        else:
            self.view.update(entry="", entry_error_key="tech.pin_wrong")

    def technician_action(self, action: str) -> None:
        self.activity()
        if self.view.screen is not ScreenId.TECHNICIAN:
            return
        if action == "self_test" and self.device_manager is not None:
            if self._self_test_task is None or self._self_test_task.done():
                # Kept, so the task is neither collected mid-run nor its failure lost; a second
                # press while one runs is ignored.
                self.view.update(technician_note="")
                self._self_test_task = self.ctx.tasks.spawn(
                    "technician-self-test", self._self_test(self.device_manager))
        elif action == "back":
            self._to_attract()

    async def _self_test(self, manager: DeviceManager) -> None:
        try:
            results = await manager.self_test()
        except Exception:  # a device's bug is the technician's note, never a silent task
            log.exception("self-test failed")
            self.view.update(technician_note=self.view.t("tech.self_test_failed"))
        else:
            passed = sum(1 for result in results.values() if result.passed)
            self.view.update(technician_note=self.view.t(
                "tech.self_test_done", passed=passed, total=len(results)))
        self._show_devices()

    def on_device_event(self, event: DeviceEvent) -> None:
        """Every device status change: the menu follows it; the technician screen lists it."""
        reason = event.status.reason.value if event.status.reason else ""
        line = f"{time.strftime('%H:%M:%S')}  {event.device}  {event.kind.value}  {reason}"
        self._device_events = (line.rstrip(), *self._device_events)[:12]
        self.refresh_menu()
        if self.view.screen is ScreenId.TECHNICIAN:
            self._show_devices()

    def _show_devices(self) -> None:
        rows = []
        if self.device_manager is not None:
            for name, status in sorted(self.device_manager.snapshot().items()):
                supplies = ", ".join(
                    [f"{supply.value}={reading.level.value}"
                     + (f" ({reading.percent}%)" if reading.percent is not None else "")
                     for supply, reading in sorted(status.supplies.items())]
                    + [f"{k}={v}" for k, v in sorted(status.readings.items())])
                rows.append((name, status.health.value,
                             status.reason.value if status.reason else "", supplies))
        attention = len(self.ctx.journal.for_operators())  # needing a person, or unsettled
        self.view.update(device_rows=tuple(rows), device_events=self._device_events,
                         attention_count=attention)
