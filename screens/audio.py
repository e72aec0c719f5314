"""Playback of the voice guidance through Kivy's audio (SDL2 mixer from Kivy's wheel).

Without a sound device (SDL_AUDIODRIVER=dummy, or none found) a prompt still takes its time, so
the order of events is what a citizen would hear.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from kivy.core.audio import SoundLoader

from kiosk.speech import wav_seconds

log = logging.getLogger(__name__)


class KivySoundSink:
    """Plays one file at a time and returns when it has finished."""

    def __init__(self) -> None:
        self._sounds: dict[Path, object] = {}

    async def play(self, path: Path, volume: float) -> None:
        sound = self._sounds.get(path)
        if sound is None:
            sound = SoundLoader.load(str(path))
            if sound is None:
                log.warning("no audio provider could load a prompt; playing silently")
                await asyncio.sleep(wav_seconds(path))
                return
            if len(self._sounds) > 64:
                self._sounds.clear()
            self._sounds[path] = sound
        done = asyncio.get_running_loop().create_future()

        def finished(*_args) -> None:
            if not done.done():
                done.set_result(None)

        sound.bind(on_stop=finished)
        try:
            sound.volume = volume
            sound.play()
            length = sound.length or wav_seconds(path)
            # A device that never reports the end must not hold the guidance forever.
            await asyncio.wait_for(done, timeout=length + 2.0)
        except TimeoutError:
            sound.stop()
        finally:
            sound.unbind(on_stop=finished)
