"""The citizen's video call to the hall: consent, ringing, the peer connection, the agent's
guides and proposals, hang-up from either side, and a link that drops.

One call at a time, run as one task that reads one queue of events (signalling messages and the
peer connection's state), so every decision about the call is taken in one place. The camera
turns on only after the citizen's consent and off when the call ends, whichever way it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING

from kiosk.config import CallConfig
from kiosk.tasks import TaskSupervisor
from kiosk.videocall.call_media import (
    CallMedia,
    MediaSources,
    ScreenFeed,
    close_media,
    open_media,
    stop_frames,
    track_mids,
)
from kiosk.videocall.camera_feed import CameraFeed
from kiosk.videocall.quality import Level, LevelPolicy, sample_from_stats
from kiosk.videocall.sdp import spread_bundle_candidates
from kiosk.videocall.signalling import CallLinkError, SignallingLink
from kiosk.viewmodel import CallPhase, SessionView
from wire.videocall import (
    CallMessage,
    EndReason,
    IceServer,
    ItemRef,
    MessageType,
    new_call_id,
)

if TYPE_CHECKING:
    from aiortc import RTCPeerConnection

log = logging.getLogger(__name__)
ENDED_SHOWN_S = 4.0
# What the citizen is told when the picture steps down (nothing at full quality).
LEVEL_NOTES = {Level.REDUCED: "call.note.reduced", Level.AUDIO_ONLY: "call.note.audio_only"}
# aiortc and PyAV take ~0.4 s to import: not before the attract screen, but well before the
# first call (VideoCallDesk.start loads them on a worker thread).
MEDIA_MODULE = "kiosk.videocall.media"


@dataclass
class CallFigures:
    """What one call did, for the test and bench.videocall (no personal data)."""

    call_id: str = ""
    rang_at: float = 0.0
    answered_at: float | None = None
    connected_at: float | None = None
    ended_reason: str = ""
    camera_in: int = 0            # frames the camera delivered to the call
    camera_sent: int = 0          # frames the kiosk's tracks handed to the encoder
    screen_sent: int = 0
    agent_video_frames: int = 0   # the agent's frames decoded here
    agent_audio_frames: int = 0   # the agent's audio frames (20 ms each) decoded here
    levels: list[str] = field(default_factory=list)


class VideoCallDesk:
    """Runs the kiosk's calls; the session forwards the citizen's call intents here."""

    def __init__(self, config: CallConfig, view: SessionView, link: SignallingLink,
                 camera: CameraFeed | None, menu: Callable[[], tuple[ItemRef, ...]],
                 guide: Callable[[str], tuple[str, ...]], tasks: TaskSupervisor,
                 screen: ScreenFeed | None = None) -> None:
        self.config = config
        self.tasks = tasks
        self.view = view
        self.link = link
        self.camera = camera
        self.menu = menu
        self.guide = guide
        self.screen = screen   # the UI's screen feed, shared in a call (None: no window)
        self.figures = CallFigures()
        self.media: CallMedia | None = None
        self._ice_servers: tuple[IceServer, ...] = ()
        self._task: asyncio.Task[None] | None = None
        self._policy_task: asyncio.Task[None] | None = None
        self._preload: asyncio.Task[ModuleType] | None = None
        self._events: asyncio.Queue[CallMessage | str] = asyncio.Queue()
        self._proposal = ""
        self._site_records = False   # the site's policy, told to the citizen before consent
        self._level = Level.FULL
        self._last_seq = 0

    @property
    def active(self) -> bool:
        return self.view.call_phase not in (CallPhase.IDLE, CallPhase.ENDED)

    def live_figures(self) -> CallFigures:
        """The figures so far (the media's counters copied in while the call runs)."""
        media = self.media
        if media is not None:
            self.figures.camera_in = media.camera_slot.count
            self.figures.camera_sent = media.tracks[0].sent
            self.figures.screen_sent = media.tracks[1].sent
            self.figures.agent_video_frames = media.remote.video_frames
            self.figures.agent_audio_frames = media.remote.audio_frames
        return self.figures

    # -- availability: the site's policy -----------------------------------------------------------

    def start(self) -> None:
        self._policy_task = self.tasks.keep_running("call-policy", self._watch_policy)
        self._preload = self.tasks.spawn(
            "call-media-import", asyncio.to_thread(importlib.import_module, MEDIA_MODULE))

    async def _watch_policy(self) -> None:
        while True:
            try:
                policy = await self.link.policy()
                self._site_records = bool(policy.get("recording"))
                self.view.update(call_available=bool(policy.get("calls_allowed")))
            except CallLinkError as exc:
                log.info("call policy not fetched", extra={"reason": exc.reason.value})
                self.view.update(call_available=False)
            await asyncio.sleep(self.config.policy_interval_s if self.view.call_available
                                else min(30.0, self.config.policy_interval_s))

    async def stop(self) -> None:
        for task in (self._task, self._policy_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.link.close()

    # -- the citizen's intents ---------------------------------------------------------------------

    def ask_consent(self) -> None:
        """The citizen asked for a video call (the help panel): the consent comes first."""
        if self.view.call_phase in (CallPhase.IDLE, CallPhase.ENDED) and self.view.call_available:
            self.view.update(call_phase=CallPhase.CONSENT, call_end_key="", call_note_key="",
                             call_recording=self._site_records)

    def accept_consent(self) -> None:
        if self.view.call_phase is CallPhase.CONSENT and self._task is None:
            self._events = asyncio.Queue()
            self._task = self.tasks.spawn("call", self._call())

    def hang_up(self) -> None:
        if self.view.call_phase is CallPhase.CONSENT:
            self.view.update(call_phase=CallPhase.IDLE)
        elif self._task is not None:
            self._events.put_nowait("hang_up")

    def dismiss(self) -> None:
        """The citizen closes what the call shows: why it ended, or the agent's message."""
        if self.view.call_phase is CallPhase.ENDED:
            self._back_to_idle()
        else:
            self.take_proposal()   # dropped, not started

    def end_with_visit(self) -> None:
        """The citizen's visit ended (exit, done): a call of theirs ends with it, so the camera
        never turns on for whoever comes next."""
        self.hang_up()

    def take_proposal(self) -> str:
        """The item the agent proposed, once (the citizen starts it, or closes the message);
        the message panel, guide included, goes."""
        code, self._proposal = self._proposal, ""
        self.view.update(call_proposal={}, call_guide=())
        return code

    # -- one call ----------------------------------------------------------------------------------

    async def _call(self) -> None:
        call_id = new_call_id()
        self.figures = CallFigures(call_id=call_id, rang_at=time.monotonic())
        self._last_seq = 0
        reason = EndReason.FAILED
        self._ice_servers = ()
        self.view.update(call_phase=CallPhase.RINGING, call_end_key="", call_note_key="",
                         call_agent="", call_recording=False)
        reader: asyncio.Task[None] | None = None
        try:
            await self.link.connect()
            await self.link.send(CallMessage(MessageType.RING, call_id, items=self.menu()))
            reader = self.tasks.spawn("call-reader", self._read(call_id))
            reason = await self._converse(call_id)
        except CallLinkError as exc:
            log.info("call could not be placed", extra={"reason": exc.reason.value})
            reason = EndReason.LINK_LOST
        except asyncio.CancelledError:
            reason = EndReason.CITIZEN
            raise
        finally:
            if reader is not None:
                reader.cancel()
            if reason is EndReason.CITIZEN:
                with contextlib.suppress(CallLinkError, asyncio.CancelledError):
                    await asyncio.wait_for(self.link.send(
                        CallMessage(MessageType.HANGUP, call_id, reason=reason.value)), 2.0)
            await self._tear_down()
            self.figures.ended_reason = reason.value
            log.info("call ended", extra={"reason": reason.value})
            self.view.update(call_phase=CallPhase.ENDED, call_end_key=f"call.end.{reason.value}",
                             call_video=None, call_proposal={}, call_guide=(),
                             call_recording=False, call_note_key="")
            self._task = None
            asyncio.get_running_loop().call_later(ENDED_SHOWN_S, self._back_to_idle)

    def _back_to_idle(self) -> None:
        if self.view.call_phase is CallPhase.ENDED:
            self.view.update(call_phase=CallPhase.IDLE, call_end_key="")

    async def _read(self, call_id: str) -> None:
        """The socket's messages into the call's queue; a drop is resumed within the grace."""
        while True:
            try:
                message = await self.link.receive()
            except CallLinkError:
                if not await self._resume(call_id):
                    self._events.put_nowait("link_lost")
                    return
                continue
            if message.seq:
                self._last_seq = message.seq
            self._events.put_nowait(message)

    async def _resume(self, call_id: str) -> bool:
        if self.view.call_phase not in (CallPhase.CONNECTING, CallPhase.IN_CALL):
            return False   # nobody answered yet: nothing to come back to
        self.view.update(call_note_key="call.note.link_waiting")
        deadline = time.monotonic() + self.config.grace_s
        while time.monotonic() < deadline:
            try:
                await self.link.connect()
                await self.link.send(CallMessage(MessageType.RESUME, call_id, seq=self._last_seq))
                self.view.update(call_note_key="")
                return True
            except CallLinkError:
                await asyncio.sleep(1.0)
        return False

    async def _converse(self, call_id: str) -> EndReason:
        connect_deadline: float | None = None
        while True:
            timeout = None
            if connect_deadline is not None:
                timeout = max(0.0, connect_deadline - time.monotonic())
            try:
                event = await asyncio.wait_for(self._events.get(), timeout)
            except TimeoutError:
                return EndReason.FAILED   # answered, but the media never came up
            if event == "hang_up":
                return EndReason.CITIZEN
            if event in ("link_lost", "pc_failed"):
                return EndReason.LINK_LOST
            if event == "pc_connected":
                connect_deadline = None
                if self.figures.connected_at is None:
                    self.figures.connected_at = time.monotonic()
                self.view.update(call_phase=CallPhase.IN_CALL, call_note_key="")
                continue
            if event == "pc_disconnected":
                self.view.update(call_note_key="call.note.link_waiting")
                continue
            assert isinstance(event, CallMessage)
            kind = event.type
            if kind is MessageType.RINGING:
                self._ice_servers = event.ice_servers
            elif kind is MessageType.ANSWERED:
                self.figures.answered_at = time.monotonic()
                self.view.update(call_phase=CallPhase.CONNECTING, call_agent=event.agent,
                                 call_recording=event.recording)
                self.media = await self._offer(call_id)
                connect_deadline = time.monotonic() + self.config.connect_timeout_s
            elif kind is MessageType.ANSWER and self.media is not None:
                from aiortc import RTCSessionDescription

                answer = RTCSessionDescription(spread_bundle_candidates(event.sdp), "answer")
                await self.media.pc.setRemoteDescription(answer)
            elif kind is MessageType.HANGUP:
                return _reason(event.reason)
            elif kind is MessageType.GUIDE:
                self.view.update(call_guide=self.guide(event.item_code))
            elif kind is MessageType.START_ITEM:
                self._proposal = event.item_code
                names = {i.code: i.name for i in self.menu()}
                self.view.update(call_proposal=names.get(event.item_code, {}), call_guide=())
            elif kind is MessageType.PEER_AWAY:
                self.view.update(call_note_key="call.note.agent_away")
            elif kind is MessageType.PEER_BACK:
                self.view.update(call_note_key="")

    async def _offer(self, call_id: str) -> CallMedia:
        """The peer connection with the camera, the screen and the microphone; the offer sent."""
        sources = MediaSources(self.camera, self.screen,
                               lambda frame: self.view.update(call_video=frame),
                               lambda: self._level)
        media = await open_media(self.config, self._ice_servers, sources,
                                 lambda state: self._events.put_nowait(f"pc_{state}"))
        offer = media.pc.localDescription.sdp
        await self.link.send(CallMessage(MessageType.OFFER, call_id, offer,
                                         tracks=track_mids(media)))
        media.quality = self.tasks.spawn("call-quality", self._adapt(media.pc, call_id))
        return media

    async def _adapt(self, pc: RTCPeerConnection, call_id: str) -> None:
        """Steps the picture down on a bad link (to audio only) and back up on a good one."""
        policy = LevelPolicy()
        while True:
            await asyncio.sleep(1.0)
            level = policy.observe(sample_from_stats(await pc.getStats()))
            if level is not self._level:
                log.info("call quality", extra={"level": level.value})
                self._level = level
                self.figures.levels.append(level.value)
                self.view.update(call_note_key=LEVEL_NOTES.get(level, ""))
                with contextlib.suppress(CallLinkError):
                    await self.link.send(CallMessage(MessageType.QUALITY, call_id,
                                                     level=level.value))

    async def _tear_down(self) -> None:
        """Camera off, screen share off, media closed, socket closed: whatever ended the call."""
        if self.camera is not None:
            self.camera.stop()
        if self.screen is not None:
            self.screen.stop()
        media, self.media = self.media, None
        if media is not None:
            stop_frames(media)
            self.live_figures()
            await close_media(media)
        await self.link.close_socket()
        self._level = Level.FULL


def _reason(text: str) -> EndReason:
    try:
        return EndReason(text)
    except ValueError:
        return EndReason.FAILED


__all__ = ["CallFigures", "VideoCallDesk"]
