"""The kiosk's video tracks hand the encoder what the link's level asks for: every frame of a
source at the call's rate whatever its jitter, half of one twice as fast, nothing at audio only."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from kiosk.videocall.media import LatestFrame, SlotVideoTrack
from kiosk.videocall.quality import LevelSettings

FRAME = np.zeros((480, 640, 3), np.uint8)


async def feed(slot: LatestFrame, gaps_ms: list[float]) -> None:
    for gap in gaps_ms:
        await asyncio.sleep(gap / 1000)
        slot.put(FRAME)
    await asyncio.sleep(0.2)
    slot.close()


async def drain(track: SlotVideoTrack, encode_s: float = 0.0) -> int:
    got = 0
    try:
        while True:
            await track.recv()
            got += 1
            await asyncio.sleep(encode_s)   # the encoder's time before it asks again
    except Exception:
        return got


@pytest.mark.parametrize("depth, encode_s", [(1, 0.0), (2, 0.0)])
async def test_a_jittery_source_at_the_rate_loses_no_frame(depth, encode_s):
    slot = LatestFrame(depth)
    track = SlotVideoTrack(slot, lambda: LevelSettings(640, 480, 15))
    gaps = [50, 82, 55, 78, 66, 52, 80, 60, 72, 58] * 2     # 15 a second, give or take
    sent, _ = await asyncio.gather(drain(track, encode_s), feed(slot, gaps))
    assert sent == len(gaps)


async def test_an_encoder_late_once_loses_no_frame_with_two_kept():
    slot = LatestFrame(depth=2)
    track = SlotVideoTrack(slot, lambda: LevelSettings(640, 480, 15))

    async def late_once() -> int:
        got = 0
        try:
            while True:
                await track.recv()
                got += 1
                await asyncio.sleep(0.11 if got == 5 else 0.0)  # one slow encode
        except Exception:
            return got

    gaps = [66.0] * 12
    sent, _ = await asyncio.gather(late_once(), feed(slot, gaps))
    assert sent == len(gaps)


async def test_a_faster_source_is_thinned_and_audio_only_sends_nothing():
    slot = LatestFrame()
    track = SlotVideoTrack(slot, lambda: LevelSettings(640, 480, 15))
    sent, _ = await asyncio.gather(drain(track), feed(slot, [33.0] * 30))
    assert 12 <= sent <= 18                                  # about half of 30
    silent = LatestFrame()
    muted = SlotVideoTrack(silent, lambda: LevelSettings(640, 480, 0))
    sent, _ = await asyncio.gather(drain(muted), feed(silent, [33.0] * 10))
    assert sent == 0


async def test_frames_are_scaled_to_the_level_and_keep_a_clock():
    slot = LatestFrame()
    track = SlotVideoTrack(slot, lambda: LevelSettings(320, 240, 15))
    slot.put(FRAME)
    first = await track.recv()
    await asyncio.sleep(0.1)
    slot.put(FRAME)
    second = await track.recv()
    assert (first.width, first.height) == (320, 240)
    assert second.pts > first.pts and first.time_base == second.time_base
