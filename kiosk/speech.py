"""Audio files for the voice guidance: recorded prompts, offline synthesis cached on disk, cues.

A recorded prompt (RECORDED/LANG/KEY.wav, .ogg or .mp3) wins over synthesis. Otherwise the text
is spoken by espeak-ng (Debian's offline engine; it speaks Mandarin) into a WAV under the cache
folder, named by language, rate and a hash of the text, so a prompt is rendered once per kiosk.
Every function here blocks: callers run them in a worker thread, never on the UI thread.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import struct
import subprocess
import wave
from enum import StrEnum
from pathlib import Path

log = logging.getLogger(__name__)

# espeak-ng's voices for the kiosk's languages.
VOICES = {"zh": "cmn", "en": "en-us"}
RECORDED_SUFFIXES = (".wav", ".ogg", ".mp3")


class Cue(StrEnum):
    """Short sounds for events the citizen should notice even without reading the screen."""

    CARD_READ = "card_read"
    PHOTO_TAKEN = "photo_taken"
    PAYMENT_RECEIVED = "payment_received"
    ERROR = "error"
    TAKE_DOCUMENTS = "take_documents"


# Each cue as notes: (frequency Hz, milliseconds); 0 Hz is a rest.
_CUE_NOTES: dict[Cue, tuple[tuple[int, int], ...]] = {
    Cue.CARD_READ: ((880, 90), (0, 40), (1175, 120)),
    Cue.PHOTO_TAKEN: ((1320, 60), (0, 30), (1320, 60)),
    Cue.PAYMENT_RECEIVED: ((784, 110), (988, 110), (1175, 110), (1568, 220)),
    Cue.ERROR: ((440, 180), (0, 60), (330, 260)),
    Cue.TAKE_DOCUMENTS: ((988, 120), (0, 80), (988, 120), (0, 80), (988, 120)),
}
_RATE_HZ = 22050


class SpeechUnavailable(Exception):
    """No synthesis engine is installed (and no recorded prompt): the kiosk stays silent."""


def wav_seconds(path: Path) -> float:
    """Duration of a WAV file; 0.0 for anything else (a recorded .ogg still plays)."""
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / float(w.getframerate())
    except (wave.Error, EOFError, OSError):
        return 0.0


class SpeechCache:
    """Finds or makes the audio file for a prompt."""

    def __init__(self, cache_dir: Path, recorded_dir: Path | None = None,
                 engine: str = "espeak-ng") -> None:
        self.cache_dir = cache_dir
        self.recorded_dir = recorded_dir
        self.engine = engine

    def recorded(self, key: str, language: str) -> Path | None:
        if self.recorded_dir is None:
            return None
        for suffix in RECORDED_SUFFIXES:
            path = self.recorded_dir / language / f"{key}{suffix}"
            if path.is_file():
                return path
        return None

    def cached_path(self, text: str, language: str, rate_wpm: int) -> Path:
        digest = hashlib.sha256(f"{VOICES.get(language, language)}|{rate_wpm}|{text}".encode())
        return self.cache_dir / f"{language}-{rate_wpm}-{digest.hexdigest()[:20]}.wav"

    def prompt(self, key: str, text: str, language: str, rate_wpm: int,
               static: bool = True) -> Path:
        """The file for one prompt: the recording of `key` if there is one (for a prompt whose
        text has no variable part), else synthesis of `text`, rendered once."""
        recorded = self.recorded(key, language) if static else None
        if recorded is not None:
            return recorded
        path = self.cached_path(text, language, rate_wpm)
        if not path.exists():
            self._synthesise(text, language, rate_wpm, path)
        return path

    def _synthesise(self, text: str, language: str, rate_wpm: int, path: Path) -> None:
        exe = shutil.which(self.engine)
        if exe is None:
            raise SpeechUnavailable(f"{self.engine} is not installed")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        # The text goes on stdin, never on a command line others could read.
        proc = subprocess.run(
            [exe, "-v", VOICES.get(language, language), "-s", str(rate_wpm), "-w", str(tmp),
             "--stdin"], input=text.encode(), capture_output=True, timeout=30, check=False)
        if proc.returncode != 0 or wav_seconds(tmp) <= 0:
            tmp.unlink(missing_ok=True)
            raise SpeechUnavailable(f"{self.engine} failed ({proc.returncode})")
        tmp.replace(path)

    def cue(self, cue: Cue) -> Path:
        """A cue's file: recorded (RECORDED/cues/NAME.wav) or a generated tone sequence."""
        if self.recorded_dir is not None:
            for suffix in RECORDED_SUFFIXES:
                path = self.recorded_dir / "cues" / f"{cue.value}{suffix}"
                if path.is_file():
                    return path
        path = self.cache_dir / f"cue-{cue.value}.wav"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            _write_tones(tmp, _CUE_NOTES[cue])
            tmp.replace(path)
        return path


def _write_tones(path: Path, notes: tuple[tuple[int, int], ...]) -> None:
    frames = bytearray()
    for freq, millis in notes:
        count = int(_RATE_HZ * millis / 1000)
        fade = max(1, min(count // 6, 200))   # no clicks at the edges of a note
        for i in range(count):
            envelope = min(1.0, i / fade, (count - i) / fade)
            sample = math.sin(2 * math.pi * freq * i / _RATE_HZ) if freq else 0.0
            frames += struct.pack("<h", int(sample * envelope * 0.5 * 32767))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(_RATE_HZ)
        w.writeframes(bytes(frames))
