"""The base every device service inherits: its worker thread, its status and the health
transitions, refresh, self-test, supplies, counters and events, written once.

A service says only what is particular to its device: how to ask it for its state
(`_refresh`, on the worker thread) and how to hang up (`_hang_up`, on the worker thread).
Everything the device manager reads (the `Peripheral` shape of `peripherals.health`) is here.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

from peripherals.errors import DeviceReason
from peripherals.health import (
    ConnectionState,
    DeviceEventKind,
    DeviceHealth,
    DeviceStatus,
    EventSink,
    SelfTestResult,
    StatusKeeper,
    Supplies,
)
from peripherals.worker import DeviceWorker

Readings = Mapping[str, str | int]


class DeviceService(ABC):
    """One device on its own worker thread, with one honest status (a `Peripheral`)."""

    kind: ClassVar[str]  # what it is, for the technician and the fleet: "escpos_printer", ...

    def __init__(self, name: str, identity: str) -> None:
        self.name = name
        self._worker = DeviceWorker(name)
        self._keeper = StatusKeeper(name, self.kind, identity)

    # -- what the device manager reads ------------------------------------------------------

    def status(self) -> DeviceStatus:
        """The last known status, without touching the device."""
        return self._keeper.current

    def set_event_sink(self, sink: EventSink | None) -> None:
        self._keeper.sink = sink

    async def start(self) -> None:
        await self.refresh()

    async def stop(self) -> None:
        """Hangs up on the worker (so no call is cut mid-frame), then stops the worker."""
        with contextlib.suppress(RuntimeError):  # the worker is already shut down
            await self._worker.call(self._hang_up)
        self.close()

    def close(self) -> None:
        """Stops the worker at once (from outside the loop too); a call running on it ends."""
        self._worker.shutdown()

    async def refresh(self) -> DeviceStatus:
        """Asks the device now (reconnecting if needed); never raises."""
        try:
            return await self._worker.call(self._refresh)
        except RuntimeError:  # the worker was shut down
            return self._keeper.current

    async def self_test(self) -> SelfTestResult:
        status = await self.refresh()
        self._keeper.emit(DeviceEventKind.SELF_TEST, status.health.value)
        return SelfTestResult(self.name, status.health.usable, status)

    # -- what a device says, on its worker thread --------------------------------------------

    @abstractmethod
    def _refresh(self) -> DeviceStatus:
        """Ask the device for its state and record it (`_answered` / `_lost` / `_faulty`)."""

    def _hang_up(self) -> None:  # noqa: B027 - a hook: devices without a transport to close
        """Close the transport; the next `_refresh` opens it again. Nothing by default."""

    # -- the health transitions, one place -------------------------------------------------

    def _answered(
        self,
        health: DeviceHealth = DeviceHealth.OK,
        reason: DeviceReason | None = None,
        supplies: Supplies | None = None,
        readings: Readings | None = None,
    ) -> DeviceStatus:
        """The device answered: OK, DEGRADED (works, needs a technician soon) or FAULT."""
        return self._keeper.update(ConnectionState.CONNECTED, health, reason, supplies, readings)

    def _lost(
        self, reason: DeviceReason, *, port_open: bool = False, supplies: Supplies | None = None,
        readings: Readings | None = None,
    ) -> DeviceStatus:
        """The device does not answer: its port is gone, or (`port_open`) it stays silent."""
        connection = ConnectionState.CONNECTED if port_open else ConnectionState.DISCONNECTED
        return self._keeper.update(connection, DeviceHealth.OFFLINE, reason, supplies, readings)

    def _faulty(self, reason: DeviceReason, supplies: Supplies | None = None) -> DeviceStatus:
        """The device answers but cannot do its job (out of paper, jam, garbled replies)."""
        return self._keeper.update(ConnectionState.CONNECTED, DeviceHealth.FAULT, reason, supplies)
