"""Voice guidance: every prompt renders for every key and language with the real offline engine,
recorded prompts win, quiet hours and the citizen's mute, and what is said as the view moves."""

from __future__ import annotations

import asyncio
import datetime
import shutil
import wave

import pytest

from kiosk.config import UiConfig
from kiosk.i18n import LANGUAGES, TEXTS
from kiosk.speech import Cue, SpeechCache, wav_seconds
from kiosk.viewmodel import ScreenId, SessionView, Volume
from kiosk.voice import STATIC_PROMPTS, NullSink, VoiceGuide, in_quiet_hours

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is installed by scripts/setup.sh")


@needs_espeak
def test_every_static_prompt_exists_for_every_language(tmp_path):
    cache = SpeechCache(tmp_path)
    ui = UiConfig()
    for language in LANGUAGES:
        for key in sorted(STATIC_PROMPTS):
            for rate in (ui.speech_rate_wpm, ui.elder_speech_rate_wpm):
                path = cache.prompt(key, TEXTS[key][language], language, rate)
                assert wav_seconds(path) > 0.2, (key, language, rate)
    for cue in Cue:
        assert 0.1 < wav_seconds(cache.cue(cue)) < 1.5


@needs_espeak
def test_elder_speech_is_slower(tmp_path):
    cache = SpeechCache(tmp_path)
    text = TEXTS["idcard.instruction"]["zh"]
    normal = wav_seconds(cache.prompt("idcard.instruction", text, "zh", 150))
    elder = wav_seconds(cache.prompt("idcard.instruction", text, "zh", 115))
    assert elder > normal * 1.15


def test_a_recorded_prompt_wins_over_synthesis(tmp_path):
    recorded = tmp_path / "recorded" / "zh"
    recorded.mkdir(parents=True)
    path = recorded / "idcard.instruction.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(b"\0\0" * 8000)
    cache = SpeechCache(tmp_path / "cache", tmp_path / "recorded", engine="no-such-engine")
    assert cache.prompt("idcard.instruction", "请将…", "zh", 150) == path
    # A prompt with a variable part (an amount) is never taken from a recording.
    with pytest.raises(Exception, match="not installed"):
        cache.prompt("idcard.instruction", "请将…", "zh", 150, static=False)


def test_quiet_hours_cross_midnight():
    spec = "22:00-07:00"
    assert in_quiet_hours(spec, datetime.time(23, 30))
    assert in_quiet_hours(spec, datetime.time(3, 0))
    assert not in_quiet_hours(spec, datetime.time(12, 0))
    assert not in_quiet_hours("", datetime.time(3, 0))


def test_volume_follows_quiet_hours_and_the_citizen(tmp_path):
    view = SessionView()
    ui = UiConfig(volume=0.8, quiet_volume=0.3)
    night = VoiceGuide(view, ui, SpeechCache(tmp_path), NullSink(),
                       clock=lambda: datetime.time(3, 0))
    assert night.volume() == pytest.approx(0.3)
    view.update(volume=Volume.LOW)
    assert night.volume() == pytest.approx(0.15)
    view.update(volume=Volume.MUTED)
    assert night.volume() == 0


@needs_espeak
async def test_prompts_and_cues_play_in_order_and_a_stale_one_is_skipped(tmp_path):
    view = SessionView()
    guide = VoiceGuide(view, UiConfig(), SpeechCache(tmp_path), NullSink())
    guide.start()
    try:
        view.update(screen=ScreenId.READ_IDCARD, status_key="idcard.instruction")
        view.update(status_key="idcard.reading")
        while not guide.idle:
            await asyncio.sleep(0.05)
        view.update(screen=ScreenId.PLACE_PERMIT, status_key="permit.instruction")
        view.update(screen=ScreenId.FACE, status_key="face.consent")   # before the permit spoke
        while not guide.idle:
            await asyncio.sleep(0.05)
    finally:
        await guide.stop()
    said = [(event, key) for _, event, key, _ in guide.events if event != "queued"]
    assert said[:6] == [("started", "idcard.instruction"), ("finished", "idcard.instruction"),
                        ("started", "card_read"), ("finished", "card_read"),
                        ("started", "idcard.reading"), ("finished", "idcard.reading")]
    assert ("skipped", "permit.instruction") in said
    assert said[-2:] == [("started", "face.consent"), ("finished", "face.consent")]


async def test_without_an_engine_the_kiosk_stays_silent_but_works(tmp_path):
    view = SessionView()
    guide = VoiceGuide(view, UiConfig(), SpeechCache(tmp_path, engine="no-such-engine"),
                       NullSink())
    guide.start()
    try:
        view.update(screen=ScreenId.READ_IDCARD, status_key="idcard.instruction")
        while not guide.idle:
            await asyncio.sleep(0.02)
    finally:
        await guide.stop()
    assert [e for _, e, _, _ in guide.events] == ["queued", "unavailable"]


def test_a_status_left_from_the_last_screen_is_not_said_again(tmp_path):
    view = SessionView()
    guide = VoiceGuide(view, UiConfig(), SpeechCache(tmp_path), NullSink())
    view.update(screen=ScreenId.FACE, status_key="face.captured")
    view.update(screen=ScreenId.CHOOSE, choose_title={"zh": "请选择签注类型"})
    keys = [key for _, event, key, _ in guide.events if event == "queued"]
    assert keys[-1] == "choose.default_title" and keys.count("face.captured") == 1
