"""The certificate dispenser / card transport service: card movements, stock and bin, and the
rule that a card left at the mouth is pulled into the retain bin after a time-out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from enum import StrEnum

from drivers.dispenser import (
    CardDispenser,
    CardPosition,
    DispenserError,
    DispenserFailure,
    DispenserStatus,
    StockLevel,
)
from peripherals.base import DeviceService
from peripherals.errors import DeviceError, DeviceReason
from peripherals.health import (
    DeviceEventKind,
    DeviceHealth,
    DeviceStatus,
    Supply,
    SupplyLevel,
    SupplyReading,
)

log = logging.getLogger(__name__)

DEVICE = "dispenser"

_FAILURE_REASONS = {
    DispenserFailure.OFFLINE: DeviceReason.DEVICE_SILENT,
    DispenserFailure.NO_REPLY: DeviceReason.DEVICE_SILENT,
    DispenserFailure.GARBLED: DeviceReason.GARBLED_RESPONSE,
    DispenserFailure.JAM: DeviceReason.JAM,
    DispenserFailure.STOCK_EMPTY: DeviceReason.STOCK_EMPTY,
    DispenserFailure.BIN_FULL: DeviceReason.BIN_FULL,
    DispenserFailure.NO_CARD: DeviceReason.NO_CARD,
    DispenserFailure.CHANNEL_OCCUPIED: DeviceReason.CARD_AT_MOUTH,
    DispenserFailure.REFUSED: DeviceReason.NOT_SUPPORTED,
}


class Handover(StrEnum):
    TAKEN = "taken"
    RETAINED = "retained"


def health_of(status: DispenserStatus) -> tuple[DeviceHealth, DeviceReason | None]:
    if status.stock is StockLevel.EMPTY:
        return DeviceHealth.FAULT, DeviceReason.STOCK_EMPTY
    if status.bin_full:
        # Nothing left at the mouth could be retained: no card may go out.
        return DeviceHealth.FAULT, DeviceReason.BIN_FULL
    if status.card is CardPosition.MOUTH:
        return DeviceHealth.DEGRADED, DeviceReason.CARD_AT_MOUTH
    if status.stock is StockLevel.LOW:
        return DeviceHealth.DEGRADED, DeviceReason.STOCK_LOW
    return DeviceHealth.OK, None


_STOCK = {StockLevel.OK: SupplyLevel.OK, StockLevel.LOW: SupplyLevel.LOW,
          StockLevel.EMPTY: SupplyLevel.OUT}


def supplies_of(status: DispenserStatus) -> dict[Supply, SupplyReading]:
    return {
        Supply.CARD_STOCK: SupplyReading(_STOCK[status.stock]),
        Supply.RETAIN_BIN: SupplyReading(SupplyLevel.OUT if status.bin_full else SupplyLevel.OK),
    }


class DispenserService(DeviceService):
    """One dispenser on its own worker thread."""

    kind = "card_dispenser"

    def __init__(
        self,
        port: str,
        address: int = 0,
        *,
        name: str = DEVICE,
        ack_timeout: float = 0.5,
        take_poll_s: float = 0.2,
    ) -> None:
        self.take_poll_s = take_poll_s
        self.unit = CardDispenser(port, address, ack_timeout=ack_timeout)
        super().__init__(name, f"serial:{port}")
        self._identity_known = False

    # -- movements --------------------------------------------------------------------------

    async def accept(self) -> DispenserStatus:
        """Take the card the citizen pushed into the mouth to the read/write position."""
        return await self._move(self.unit.accept, "accepted")

    async def dispense(self) -> DispenserStatus:
        """A blank certificate from the stock to the read/write position."""
        return await self._move(self.unit.dispense, "dispensed")

    async def move_to_read_write(self) -> DispenserStatus:
        return await self._move(self.unit.move_to_read_write)

    async def move_to_print(self) -> DispenserStatus:
        return await self._move(self.unit.move_to_print)

    async def eject(self) -> DispenserStatus:
        return await self._move(self.unit.eject, "ejected")

    async def capture(self) -> DispenserStatus:
        return await self._move(self.unit.capture, "captured")

    async def present(self, take_timeout: float) -> Handover:
        """Eject to the mouth and wait for the citizen to take the card; after `take_timeout`
        the card is pulled back into the retain bin and the retention recorded."""
        await self.eject()
        deadline = time.monotonic() + take_timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(self.take_poll_s)
            state = await self._worker.call(self.unit.status)
            if state.card is not CardPosition.MOUTH:
                self._keeper.count("taken")
                await self.refresh()
                return Handover.TAKEN
        await self._move(self.unit.capture, "retained")
        log.warning("card left at the mouth was retained", extra={"device": self.name})
        self._keeper.emit(DeviceEventKind.CARD_RETAINED, f"not taken within {take_timeout:g} s")
        return Handover.RETAINED

    # -- on the worker thread ---------------------------------------------------------------

    async def _move(
        self, action: Callable[[], DispenserStatus], counter: str | None = None
    ) -> DispenserStatus:
        try:
            state = await self._worker.call(self._act, action)
        except DispenserError as exc:
            raise DeviceError(self.name, _FAILURE_REASONS[exc.reason], str(exc)) from exc
        if counter:
            self._keeper.count(counter)
        return state

    def _act(self, action: Callable[[], DispenserStatus]) -> DispenserStatus:
        try:
            state = action()
        except DispenserError as exc:
            self._keeper.count("failures")
            self._record_failure(exc)
            raise
        self._record(state)
        return state

    def _hang_up(self) -> None:
        self.unit.close()

    def _refresh(self) -> DeviceStatus:
        try:
            if not self._identity_known:
                model = self.unit.device_info()
                self._keeper.set_identity(f"{model} serial:{self.unit.port}")
                self._identity_known = True
            return self._record(self.unit.status())
        except DispenserError as exc:
            if exc.reason in (DispenserFailure.OFFLINE, DispenserFailure.NO_REPLY):
                self._identity_known = False  # a replugged unit may be another one
            return self._record_failure(exc)

    def _record(self, state: DispenserStatus) -> DeviceStatus:
        health, reason = health_of(state)
        return self._answered(health, reason, supplies_of(state),
                              {"card_position": state.card.value})

    def _record_failure(self, exc: DispenserError) -> DeviceStatus:
        reason = _FAILURE_REASONS[exc.reason]
        if exc.reason in (DispenserFailure.OFFLINE, DispenserFailure.NO_REPLY):
            port_open = exc.reason is DispenserFailure.NO_REPLY
            return self._lost(reason, port_open=port_open, supplies={}, readings={})
        if exc.reason in (DispenserFailure.NO_CARD, DispenserFailure.CHANNEL_OCCUPIED,
                          DispenserFailure.REFUSED, DispenserFailure.STOCK_EMPTY):  # fmt: skip
            # A refused movement says nothing new about the unit's health; its status will.
            if exc.reason is not DispenserFailure.STOCK_EMPTY:
                return self._keeper.current
        return self._faulty(reason)
