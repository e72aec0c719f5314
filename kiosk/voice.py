"""Voice guidance: what the kiosk says, in the citizen's language, as the session view changes.

Every status the citizen must act on is spoken, with short cues for a card read, a photo taken,
a payment received, an error and "take your documents". Prompts are played one after another
through an audio sink (Kivy's audio on the kiosk, a null sink without a screen); a prompt for a
screen the citizen has already left is skipped. The events are kept (key, language; never the
spoken text) so tests can check what was said and in which order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kiosk.config import UiConfig
from kiosk.i18n import LANGUAGES, TEXTS, format_fen
from kiosk.speech import Cue, SpeechCache, SpeechUnavailable, wav_seconds
from kiosk.tasks import TaskSupervisor
from kiosk.viewmodel import ScreenId, SessionView, Volume

log = logging.getLogger(__name__)

# Status keys the citizen must act on (or must know of); each is spoken when it appears.
SPOKEN_STATUS = frozenset({
    "idcard.instruction", "idcard.reading", "permit.instruction", "permit.reading",
    "passport.instruction", "passport.reading",
    "face.consent", "face.no_face", "face.captured", "scan.place", "scan.done", "collect.take",
    "mrz.place", "mrz.read",
    *(k for k in TEXTS if k.startswith(("face.hint.", "scan.problem.", "mrz.problem."))),
})
# The cue that goes with a status.
STATUS_CUES = {"idcard.reading": Cue.CARD_READ, "permit.reading": Cue.CARD_READ,
               "passport.reading": Cue.CARD_READ,
               "face.captured": Cue.PHOTO_TAKEN, "scan.done": Cue.PHOTO_TAKEN,
               "mrz.read": Cue.PHOTO_TAKEN}
# A screen that has no spoken status of its own says this when it comes up.
SCREEN_PROMPTS = {ScreenId.MENU: "menu.title", ScreenId.CHOOSE: "choose.default_title",
                  ScreenId.ENTER_ACCOUNT: "account.title", ScreenId.CONFIRM: "confirm.amount",
                  ScreenId.PROCESSING: "processing.instruction",
                  ScreenId.OUT_OF_SERVICE: "oos.title", ScreenId.SEARCH: "search.hint",
                  ScreenId.GUIDE: "guide.title", ScreenId.EVALUATE: "rate.title"}
# Prompts whose text never varies: rendered ahead, and recorded prompts can replace them.
STATIC_PROMPTS = frozenset(SPOKEN_STATUS | {
    "menu.title", "choose.default_title", "account.title", "processing.instruction",
    "oos.title", "idle.title", "exit.title", "exit.body", "exit.body_paying", "help.title",
    "result.ok.title", "result.fail.title", "account.invalid", "search.hint", "guide.title",
    "rate.title", "confirm.title"})
_HINT_REPEAT_S = 4.0       # the same face hint is not repeated sooner than this
# What confirms progress is said even when the next screen is already up: the cues, and the
# statuses that come with them ("正在读取身份证…", "采集成功").
_NEVER_STALE = frozenset({*(c.value for c in Cue), *STATUS_CUES})


@dataclass(frozen=True)
class Utterance:
    key: str                  # the i18n key (or the cue's name), what the event log records
    language: str
    text: str = ""            # empty for a cue
    cue: Cue | None = None
    screen: ScreenId = ScreenId.ATTRACT
    static: bool = True       # the text is the key's own, without variable parts


class AudioSink(Protocol):
    async def play(self, path: Path, volume: float) -> None: ...


class NullSink:
    """No speaker: "plays" for the file's length, so timing and order are as on a kiosk."""

    async def play(self, path: Path, volume: float) -> None:
        await asyncio.sleep(wav_seconds(path))


def in_quiet_hours(spec: str, now: datetime.time) -> bool:
    """'22:00-07:00' -> True at 23:30 and at 06:00."""
    if not spec:
        return False
    start_s, end_s = spec.split("-")
    start = datetime.time.fromisoformat(start_s.strip())
    end = datetime.time.fromisoformat(end_s.strip())
    return start <= now < end if start <= end else (now >= start or now < end)


class VoiceGuide:
    """Observes the view and speaks; `events` is [(t, event, key, language)]."""

    def __init__(self, view: SessionView, ui: UiConfig, cache: SpeechCache, sink: AudioSink,
                 clock: Callable[[], datetime.time] = lambda: datetime.datetime.now().time(),
                 tasks: TaskSupervisor | None = None):
        self.view, self.ui, self.cache, self.sink, self.clock = view, ui, cache, sink, clock
        self.tasks = tasks or TaskSupervisor()  # the kiosk's (FlowContext.tasks) when it runs
        self.events: list[tuple[float, str, str, str]] = []
        self._queue: asyncio.Queue[Utterance] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._last_hint = ("", 0.0)
        self._silent = False            # the engine is missing: said once in the log
        self._speaking = False
        self._t0 = time.monotonic()
        view.subscribe(self._on_view_changed)

    def start(self) -> None:
        self._task = self.tasks.keep_running("voice", self._speak_loop)

    def halt(self) -> None:
        """The app is closing: nothing more reaches the audio device (SDL's mixer must not be
        called once Kivy has shut its window)."""
        self.ui = dataclasses.replace(self.ui, voice=False)
        if self._task is not None:
            self._task.cancel()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def prewarm(self) -> None:
        """Renders every static prompt in both languages and speeds, off the UI thread."""
        for rate in (self.ui.speech_rate_wpm, self.ui.elder_speech_rate_wpm):
            for language in LANGUAGES:
                for key in sorted(STATIC_PROMPTS):
                    try:
                        await asyncio.to_thread(self.cache.prompt, key,
                                                TEXTS[key][language], language, rate)
                    except SpeechUnavailable:
                        return
        for cue in Cue:
            await asyncio.to_thread(self.cache.cue, cue)

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing playing."""
        return self._queue.empty() and not self._speaking

    def _record(self, event: str, item: Utterance) -> None:
        self.events.append((round(time.monotonic() - self._t0, 3), event, item.key,
                            item.language))

    def say(self, *items: Utterance) -> None:
        if not self.ui.voice:
            return
        for item in items:
            self._record("queued", item)
            self._queue.put_nowait(item)

    # What to say.
    def _on_view_changed(self, changed: set[str]) -> None:
        self.say(*self.utterances(changed))

    def utterances(self, changed: set[str]) -> list[Utterance]:
        v = self.view
        lang, screen = v.language, v.screen

        def text(key: str, **params: object) -> Utterance:
            return Utterance(key, lang, v.t(key, **params), screen=screen, static=not params)

        def cue(c: Cue) -> Utterance:
            return Utterance(c.value, lang, cue=c, screen=screen)

        out: list[Utterance] = []
        if "idle_prompt" in changed and v.idle_prompt:
            return [text("idle.title")]
        if "exit_prompt" in changed and v.exit_prompt:
            paying = screen in (ScreenId.PAY, ScreenId.PROCESSING)
            return [text("exit.title"), text("exit.body_paying" if paying else "exit.body")]
        if "help_shown" in changed and v.help_shown:
            return [text("help.title"), text("help.body", hotline=v.hotline)]
        if "entry_error_key" in changed and v.entry_error_key:
            return [cue(Cue.ERROR), text(v.entry_error_key)]
        if "screen" in changed and screen is ScreenId.RESULT:
            return self._result(text, cue)
        # A status is said when it is set; one left over from the last screen is not said again
        # when the next screen comes up (that screen's own prompt is).
        status = v.status_key if "status_key" in changed else ""
        if not status and "screen" in changed and screen not in SCREEN_PROMPTS and \
                v.status_key not in STATUS_CUES:
            status = v.status_key          # a screen whose instruction was already set
        if status in SPOKEN_STATUS and not self._repeated_hint(status):
            if status in STATUS_CUES:
                out.append(cue(STATUS_CUES[status]))
            out.append(text(status))
        elif status == "pay.instruction":
            out.append(text("pay.instruction", fee=format_fen(v.fee_fen, lang)))
        elif "screen" in changed and screen in SCREEN_PROMPTS:
            key = SCREEN_PROMPTS[screen]
            if screen is ScreenId.PROCESSING and v.fee_fen:
                out.append(cue(Cue.PAYMENT_RECEIVED))
            if screen is ScreenId.CHOOSE and v.choose_title:
                out.append(Utterance(key, lang, v.pick(v.choose_title), screen=screen,
                                     static=False))
            elif screen is ScreenId.ENTER_ACCOUNT and v.entry_title:
                out.append(Utterance(key, lang, v.pick(v.entry_title), screen=screen,
                                     static=False))
            elif screen is ScreenId.CONFIRM and v.options:
                out.append(text("confirm.title"))      # a list to check, nothing to pay
            elif screen is ScreenId.CONFIRM:
                out.append(text(key, fee=format_fen(v.fee_fen, lang)))
            else:
                out.append(text(key))
        return out

    def _repeated_hint(self, status: str) -> bool:
        if not status.startswith("face.hint."):
            return False
        last, at = self._last_hint
        now = time.monotonic()
        if status == last and now - at < _HINT_REPEAT_S:
            return True
        self._last_hint = (status, now)
        return False

    def _result(self, text: Callable[..., Utterance], cue: Callable[[Cue], Utterance]
                ) -> list[Utterance]:
        v = self.view
        out = [] if v.result_ok else [cue(Cue.ERROR)]
        out.append(text(v.result_title_key or "result.ok.title"))
        for line in v.result_lines:
            out.append(Utterance("catalog.result_line", v.language, v.pick(line), screen=v.screen,
                                 static=False))
        if v.documents:
            out.append(cue(Cue.TAKE_DOCUMENTS))
            out.append(text("result.take", documents=documents_text(v)))
        return out

    # How to say it.
    def volume(self) -> float:
        if self.view.volume is Volume.MUTED:
            return 0.0
        base = self.ui.quiet_volume if in_quiet_hours(self.ui.quiet_hours, self.clock()) \
            else self.ui.volume
        return base * (0.5 if self.view.volume is Volume.LOW else 1.0)

    async def _speak_loop(self) -> None:
        while True:
            self._speaking = False
            item = await self._queue.get()
            self._speaking = True
            if item.key not in _NEVER_STALE and (item.screen is not self.view.screen
                                                 or item.language != self.view.language):
                self._record("skipped", item)       # the citizen has moved on
                continue
            volume = self.volume()
            if volume <= 0:
                self._record("muted", item)
                continue
            rate = self.ui.elder_speech_rate_wpm if self.view.elder else self.ui.speech_rate_wpm
            try:
                if item.cue is not None:
                    path = await asyncio.to_thread(self.cache.cue, item.cue)
                else:
                    path = await asyncio.to_thread(self.cache.prompt, item.key, item.text,
                                                   item.language, rate, item.static)
            except SpeechUnavailable as exc:
                if not self._silent:
                    log.warning("voice guidance unavailable: %s", exc)
                    self._silent = True
                self._record("unavailable", item)
                continue
            self._record("started", item)
            try:
                await self.sink.play(path, volume)
            except Exception:
                log.exception("audio playback failed")
                self._record("failed", item)
                continue
            self._record("finished", item)


def documents_text(view: SessionView) -> str:
    """"身份证、通行证" / "ID card, permit": the documents the citizen placed."""
    separator = view.t("doc.separator")
    return separator.join(view.t(key) for key in view.documents)
