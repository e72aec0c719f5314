"""The face camera as the call's picture: the face camera service's shared capture, fed into the
call's LatestFrame from the camera's own thread, kept going through a camera fault."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import TYPE_CHECKING

from peripherals.errors import DeviceError
from peripherals.face_camera import FaceCameraService

if TYPE_CHECKING:
    from kiosk.videocall.media import LatestFrame

log = logging.getLogger(__name__)
RETRY_S = 1.0


class CameraFeed:
    """`start(slot)` after the citizen's consent, `stop()` when the call ends."""

    def __init__(self, service: FaceCameraService) -> None:
        self.service = service
        self._stop: threading.Event | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def on(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, slot: LatestFrame) -> None:
        self.stop()
        self._stop = threading.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(slot, self._stop))

    async def _run(self, slot: LatestFrame, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                await self.service.stream(slot.put_threadsafe, stop)
            except DeviceError as exc:
                # The call goes on with the voice; the picture comes back with the camera.
                log.warning("call camera failed", extra={"reason": exc.reason.value})
                await asyncio.sleep(RETRY_S)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(RuntimeError):
                task.add_done_callback(lambda t: t.cancelled() or t.exception())
