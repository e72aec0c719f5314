"""The citizen's video-call intents (kiosk.viewmodel.Intents), forwarded to the kiosk's call desk
(kiosk.videocall) when it has one. The help panel offers the call only where the site allows it;
without a desk every intent here does nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiosk.viewmodel import CallPhase, SessionView

if TYPE_CHECKING:
    from kiosk.videocall import VideoCallDesk


class CallIntents:
    """Mixed into kiosk.session.KioskSession, which owns `view`, `busy`, `activity` and
    `choose_service`."""

    view: SessionView
    calls: VideoCallDesk | None

    @property
    def busy(self) -> bool:
        raise NotImplementedError

    def activity(self) -> None:
        raise NotImplementedError

    def choose_service(self, code: str) -> None:
        raise NotImplementedError

    @property
    def must_not_restart(self) -> bool:
        """A restart now (an operator's command, an update) would cut a citizen off: their
        transaction runs, or their video call to the hall is asked for, ringing or on."""
        return self.busy or self.view.call_phase not in (CallPhase.IDLE, CallPhase.ENDED)

    def start_video_call(self) -> None:
        """"视频连线" on the help panel: the consent first (the camera stays off until then)."""
        self.activity()
        self.view.update(help_shown=False)
        if self.calls is not None:
            self.calls.ask_consent()

    def accept_call_consent(self) -> None:
        self.activity()
        if self.calls is not None:
            self.calls.accept_consent()

    def hang_up(self) -> None:
        self.activity()
        if self.calls is not None:
            self.calls.hang_up()

    def dismiss_call_message(self) -> None:
        """The citizen closes what the call shows: a guide, a proposal not taken, why it ended."""
        self.activity()
        if self.calls is not None:
            self.calls.dismiss()

    def start_proposed_item(self) -> None:
        """The citizen confirms the item the agent proposed; it starts like a tap on its tile."""
        if self.calls is not None:
            code = self.calls.take_proposal()
            if code:
                self.choose_service(code)

    def _end_call_with_visit(self) -> None:
        if self.calls is not None:
            self.calls.end_with_visit()
