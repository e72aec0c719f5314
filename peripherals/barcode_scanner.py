"""The barcode / QR scanner service: scans as an async stream (or callbacks), each a
`ScanEvent` with a guess of what it is (payment code, bill barcode, appointment code; the guess
is `drivers.barcode_camera.guess_kind`, shared with the camera reader), and the scanner's health.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from drivers.barcode_scanner import BarcodeScanner, ScanLine, ScannerError, ScannerFailure
from peripherals.base import DeviceService
from peripherals.errors import DeviceReason
from peripherals.health import DeviceStatus
from peripherals.scan_event import ScanEvent, ScanKind, ScanSource

log = logging.getLogger(__name__)

DEVICE = "barcode_scanner"


ScanCallback = Callable[[ScanEvent], None]
_FAILURE_REASONS = {
    ScannerFailure.OFFLINE: DeviceReason.DEVICE_SILENT,
    ScannerFailure.NO_REPLY: DeviceReason.DEVICE_SILENT,
    ScannerFailure.GARBLED: DeviceReason.GARBLED_RESPONSE,
}


class BarcodeScannerService(DeviceService):
    """Reads the scanner on its worker thread; `scans()` yields, `on_scan()` calls back."""

    kind = "serial_scanner"

    def __init__(
        self,
        port: str,
        suffix: bytes = b"\r",
        *,
        name: str = DEVICE,
        timeout: float = 0.5,
        read_slice_s: float = 0.2,
    ) -> None:
        self.read_slice_s = read_slice_s
        self.scanner = BarcodeScanner(port, suffix=suffix, timeout=timeout)
        super().__init__(name, f"serial:{port}")
        self._callbacks: list[ScanCallback] = []
        self._queues: set[asyncio.Queue[ScanEvent]] = set()
        self._reader: asyncio.Task[None] | None = None

    # -- scans ------------------------------------------------------------------------------

    def on_scan(self, callback: ScanCallback) -> Callable[[], None]:
        """Call `callback` (on the loop) for every scan; returns the unsubscribe function."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback)

    async def scans(self) -> AsyncIterator[ScanEvent]:
        """Every scan from now on, until the consumer stops iterating."""
        queue: asyncio.Queue[ScanEvent] = asyncio.Queue(maxsize=32)
        self._queues.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.discard(queue)

    async def next_scan(
        self, timeout: float, kinds: frozenset[ScanKind] | None = None
    ) -> ScanEvent:
        """The next scan (of one of `kinds`, if given); TimeoutError after `timeout` s."""

        async def first() -> ScanEvent:
            async for scan in self.scans():
                if kinds is None or scan.kind in kinds:
                    return scan
            raise AssertionError("unreachable")

        return await asyncio.wait_for(first(), timeout)

    def _deliver(self, lines: list[ScanLine]) -> None:
        for line in lines:
            scan = ScanEvent.from_text(line.data, ScanSource.SERIAL)
            self._keeper.count("scans")
            for queue in list(self._queues):
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(scan)
            for callback in list(self._callbacks):
                try:
                    callback(scan)
                except Exception:  # a subscriber's bug must not stop the scanner
                    log.exception("scan callback failed", extra={"device": self.name})

    # -- Peripheral -------------------------------------------------------------------------

    async def start(self) -> None:
        await super().start()
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_loop(), name=f"{self.name}-reader")

    async def stop(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            await asyncio.wait([reader], timeout=2.0)
        await super().stop()

    async def _read_loop(self) -> None:
        while self._reader is not None:
            if not self.scanner.connected or not self.status().health.usable:
                await asyncio.sleep(self.read_slice_s)  # the manager's refresh reconnects
                continue
            try:
                lines = await self._worker.call(self._read_slice)
            except RuntimeError:
                return  # worker shut down
            self._deliver(lines)

    # -- on the worker thread ---------------------------------------------------------------

    def _read_slice(self) -> list[ScanLine]:
        try:
            return self.scanner.read_scans(self.read_slice_s)
        except ScannerError as exc:
            self._record_failure(exc)
            return []

    def _hang_up(self) -> None:
        self.scanner.close()

    def _refresh(self) -> DeviceStatus:
        try:
            model = self.scanner.query_info()
        except ScannerError as exc:
            return self._record_failure(exc)
        self._keeper.set_identity(f"{model} serial:{self.scanner.port}")
        return self._answered()

    def _record_failure(self, exc: ScannerError) -> DeviceStatus:
        reason = _FAILURE_REASONS[exc.reason]
        if exc.reason is ScannerFailure.GARBLED:
            return self._faulty(reason)
        return self._lost(reason, port_open=exc.reason is ScannerFailure.NO_REPLY)
