"""One call's media: the peer connection with the camera, the screen and the microphone, made
when an agent answers, and torn down when the call ends.

The desk (kiosk.videocall.desk) decides when; this module knows how. aiortc and PyAV are
imported here only inside the functions, since they take ~0.4 s to import (the desk preloads
them on a worker thread).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from kiosk.config import CallConfig
from kiosk.videocall.camera_feed import CameraFeed
from kiosk.videocall.quality import Level, LevelSettings, settings_for
from wire.videocall import IceServer

if TYPE_CHECKING:
    from aiortc import RTCPeerConnection

    from kiosk.videocall.media import LatestFrame, RemoteMedia, SlotVideoTrack


class ScreenFeed(Protocol):
    """The kiosk's screen, privacy-masked, as frames (screens.screen_share provides it)."""

    def start(self, slot: LatestFrame, fps: Callable[[], float]) -> None: ...
    def stop(self) -> None: ...


@dataclass
class CallMedia:
    """One call's media: made when an agent answers, torn down when the call ends."""

    pc: RTCPeerConnection
    remote: RemoteMedia
    camera_slot: LatestFrame
    screen_slot: LatestFrame
    tracks: tuple[SlotVideoTrack, SlotVideoTrack]
    player: Any  # Any: the microphone's aiortc MediaPlayer, or None (untyped library)
    quality: asyncio.Task[None] | None = None


@dataclass(frozen=True)
class MediaSources:
    """What a call's media takes its frames from and gives the agent's picture to."""

    camera: CameraFeed | None
    screen: ScreenFeed | None
    # Any: each decoded frame of the agent's picture, a numpy RGB array.
    on_video: Callable[[Any], None]
    level: Callable[[], Level]         # the quality level the call runs at now


async def open_media(cfg: CallConfig, ice_servers: tuple[IceServer, ...],
                     sources: MediaSources, on_state: Callable[[str], None]) -> CallMedia:
    """The peer connection with its three tracks, the camera and the screen started (consent
    given) and the local offer set; `on_state` hears "connected", "failed", "disconnected"."""
    from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
    from aiortc.rtcconfiguration import RTCBundlePolicy, RTCIceTransportPolicy

    from kiosk.videocall.media import LatestFrame, RemoteMedia, SlotVideoTrack, microphone

    servers = [RTCIceServer(list(s.urls), s.username or None, s.credential or None)
               for s in ice_servers]
    policy = RTCIceTransportPolicy.RELAY if cfg.relay_only else RTCIceTransportPolicy.ALL
    # One transport for the three tracks: one relay allocation, one path through the NAT.
    pc = RTCPeerConnection(RTCConfiguration(iceServers=servers, iceTransportPolicy=policy,
                                            bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    remote = RemoteMedia(sources.on_video, cfg.speaker, cfg.display_fps)
    pc.on("track", remote.take)

    @pc.on("connectionstatechange")
    def on_connection_state() -> None:
        state = pc.connectionState
        if state in ("connected", "failed", "disconnected"):
            on_state(state)

    loop = asyncio.get_running_loop()
    full = LevelSettings(cfg.video_width, cfg.video_height, cfg.video_fps)
    screen_full = LevelSettings(cfg.screen_width, cfg.screen_height, cfg.screen_fps)
    camera_slot, screen_slot = LatestFrame(depth=2), LatestFrame()
    camera_slot.bind(loop)
    screen_slot.bind(loop)
    camera = SlotVideoTrack(camera_slot, lambda: settings_for(sources.level(), full))
    screen = SlotVideoTrack(screen_slot, lambda: settings_for(sources.level(), screen_full),
                            colour="rgb24")
    mic, player = microphone(cfg.microphone)
    pc.addTransceiver(camera, direction="sendrecv")
    pc.addTransceiver(screen, direction="sendonly")
    pc.addTransceiver(mic, direction="sendrecv")
    media = CallMedia(pc, remote, camera_slot, screen_slot, (camera, screen), player)
    if sources.camera is not None:
        sources.camera.start(camera_slot)   # consent given: the camera turns on now
    if sources.screen is not None:
        sources.screen.start(screen_slot,
                             lambda: settings_for(sources.level(), screen_full).fps)
    await pc.setLocalDescription(await pc.createOffer())
    return media


def track_mids(media: CallMedia) -> dict[str, str]:
    """The offer's media ids of the camera, the screen and the audio, in the order added."""
    return {name: t.mid or "" for name, t in zip(("camera", "screen", "audio"),
                                                 media.pc.getTransceivers(), strict=True)}


def stop_frames(media: CallMedia) -> None:
    """No more quality steps, no more frames into the tracks."""
    if media.quality is not None:
        media.quality.cancel()
    media.camera_slot.close()
    media.screen_slot.close()


async def close_media(media: CallMedia) -> None:
    """The peer connection, the agent's media and the speaker closed."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(media.pc.close(), 5.0)
    await media.remote.close()
    if media.player is not None and media.player.audio is not None:
        media.player.audio.stop()
