"""Barcodes and QR codes read from a camera, for kiosks without a separate scanner.

Emits the same :class:`ScanEvent` as the serial scanner. A code held in front of the
camera is in every frame: it is reported once, and again only after it has been out of
sight (or ``repeat_after_s`` has passed), as a scanner reports one read per trigger.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Collection

from drivers.barcode_camera import BarcodeReader
from drivers.camera import CameraError, VideoSource
from peripherals.errors import DeviceError, DeviceReason
from peripherals.scan_event import ScanEvent, ScanKind, ScanSource
from peripherals.worker import DeviceWorker

logger = logging.getLogger(__name__)

DEVICE = "camera_scanner"

ScanCallback = Callable[[ScanEvent], None]


class CameraScannerService:
    """Reads codes from the camera at ``url`` on the device's own thread.

    ``next_scan(timeout)`` waits for one code; ``start(on_scan)``/``stop()`` watch continuously,
    calling ``on_scan`` on the event loop for each new code.
    """

    def __init__(self, url: str, repeat_after_s: float = 3.0) -> None:
        self.url = url
        self.repeat_after_s = repeat_after_s
        self._worker = DeviceWorker(DEVICE)
        self._reader: BarcodeReader | None = None
        self._stop: threading.Event | None = None
        self._watch: asyncio.Future[None] | None = None

    def _watch_frames(
        self,
        stop: threading.Event,
        emit: Callable[[ScanEvent], bool],
        timeout: float | None,
        kinds: Collection[ScanKind] | None,
    ) -> None:
        if self._reader is None:
            self._reader = BarcodeReader()
        reader = self._reader
        deadline = None if timeout is None else time.monotonic() + timeout
        last_seen: dict[str, float] = {}  # code text -> when it was last in a frame
        try:
            with VideoSource(self.url) as source:
                while not stop.is_set():
                    if deadline is not None and time.monotonic() > deadline:
                        raise TimeoutError(f"{DEVICE}: no code within {timeout} s")
                    frame = source.read()
                    now = time.monotonic()
                    for code in reader.decode(frame):
                        if kinds is not None and code.kind not in kinds:
                            continue
                        seen = last_seen.get(code.data)
                        last_seen[code.data] = now
                        # Still in view since the last frame: the same read, not a new one.
                        if seen is not None and now - seen < self.repeat_after_s:
                            continue
                        event = ScanEvent(code.kind, code.data, ScanSource.CAMERA)
                        if emit(event):
                            return
                    # Forget codes that left the view, so showing one again reads again.
                    for text in [t for t, when in last_seen.items() if now - when > 1.0]:
                        del last_seen[text]
        except CameraError as exc:
            raise DeviceError(DEVICE, DeviceReason.CAMERA_UNAVAILABLE, str(exc)) from exc

    async def next_scan(
        self, timeout: float, kinds: Collection[ScanKind] | None = None
    ) -> ScanEvent:
        """The first code (of ``kinds``, if given) seen within ``timeout`` seconds, as the
        serial scanner's ``next_scan``: TimeoutError after ``timeout``;
        DeviceError(CAMERA_UNAVAILABLE) when the camera fails."""
        stop = threading.Event()
        found: list[ScanEvent] = []

        def emit(event: ScanEvent) -> bool:
            found.append(event)
            return True

        try:
            await self._worker.call(self._watch_frames, stop, emit, timeout, kinds)
        finally:
            stop.set()
        if not found:
            raise asyncio.CancelledError()
        return found[0]

    def start(self, on_scan: ScanCallback, kinds: Collection[ScanKind] | None = None) -> None:
        """Watch the camera until ``stop()``; ``on_scan`` runs on the loop for each code."""
        if self._watch is not None and not self._watch.done():
            raise RuntimeError("camera scanner already watching")
        loop = asyncio.get_running_loop()
        stop = threading.Event()

        def emit(event: ScanEvent) -> bool:
            loop.call_soon_threadsafe(on_scan, event)
            return False

        self._stop = stop
        self._watch = asyncio.ensure_future(
            self._worker.call(self._watch_frames, stop, emit, None, kinds)
        )

    async def stop(self) -> None:
        """Stop watching; re-raises a camera failure that ended the watch early."""
        if self._stop is not None:
            self._stop.set()
        watch, self._watch = self._watch, None
        if watch is not None:
            await watch

    @property
    def watching(self) -> bool:
        return self._watch is not None and not self._watch.done()

    def close(self) -> None:
        if self._stop is not None:
            self._stop.set()
        self._worker.shutdown()


__all__ = ["CameraScannerService"]
