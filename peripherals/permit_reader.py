"""The travel-permit chip reader service: waits for a card on a PC/SC reader and reads it."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from drivers import pcsc
from drivers.icao9303 import ChipError, ChipReason, EfCom, IcaoReader, MrzData
from peripherals.errors import DeviceError, DeviceReason
from peripherals.worker import DeviceWorker

log = logging.getLogger(__name__)

DEVICE = "permit_reader"


@dataclass(frozen=True)
class PermitRead:
    ef_com: EfCom
    mrz: MrzData
    apdus: int
    seconds: float


class PermitReaderService:
    """A PC/SC reader chosen by name prefix; every pyscard call runs on the device's thread."""

    def __init__(self, reader_prefix: str, poll_s: float = 0.2) -> None:
        self.reader_prefix = reader_prefix
        self.poll_s = poll_s
        self._worker = DeviceWorker(DEVICE)

    def _reader_name(self) -> str:
        try:
            names = pcsc.list_readers()
        except pcsc.PcscError as exc:
            raise DeviceError(DEVICE, DeviceReason.READER_UNAVAILABLE, str(exc)) from exc
        for name in names:
            if name.startswith(self.reader_prefix):
                return name
        raise DeviceError(DEVICE, DeviceReason.READER_UNAVAILABLE, "no matching reader")

    def _card_present(self) -> bool:
        try:
            return pcsc.card_present(self._reader_name())
        except pcsc.PcscError as exc:
            raise DeviceError(DEVICE, DeviceReason.READER_UNAVAILABLE, str(exc)) from exc

    async def card_present(self) -> bool:
        return await self._worker.call(self._card_present)

    async def wait_for_card(self, timeout: float) -> None:
        """Returns once a card is on the reader; DeviceError(TIMEOUT) after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not await self.card_present():
            if time.monotonic() > deadline:
                raise DeviceError(DEVICE, DeviceReason.TIMEOUT)
            await asyncio.sleep(self.poll_s)

    def _read(self) -> PermitRead:
        started = time.monotonic()
        connection = pcsc.PcscConnection()
        try:
            connection.connect(self._reader_name())
            reader = IcaoReader(connection)
            reader.select_application()
            ef_com = reader.read_ef_com()
            mrz = reader.read_dg1()
            return PermitRead(ef_com, mrz, connection.apdu_count, time.monotonic() - started)
        except pcsc.CardRemoved as exc:
            raise DeviceError(DEVICE, DeviceReason.CARD_REMOVED) from exc
        except pcsc.CardAbsent as exc:
            raise DeviceError(DEVICE, DeviceReason.CARD_REMOVED, "absent") from exc
        except ChipError as exc:
            if exc.reason is ChipReason.CARD_REMOVED:
                raise DeviceError(DEVICE, DeviceReason.CARD_REMOVED) from exc
            if exc.reason is ChipReason.NOT_A_TRAVEL_DOCUMENT:
                raise DeviceError(DEVICE, DeviceReason.NOT_A_TRAVEL_DOCUMENT) from exc
            raise DeviceError(DEVICE, DeviceReason.CARD_UNREADABLE, exc.reason.value) from exc
        except pcsc.PcscError as exc:
            raise DeviceError(DEVICE, DeviceReason.READER_UNAVAILABLE, str(exc)) from exc
        finally:
            try:
                connection.disconnect()
            except pcsc.PcscError:
                log.debug("disconnect after read failed", exc_info=True)

    async def read_permit(self) -> PermitRead:
        return await self._worker.call(self._read)

    def close(self) -> None:
        self._worker.shutdown()
