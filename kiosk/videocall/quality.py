"""How much the kiosk sends on the link it has: full video, reduced video, or audio only.

The agent's browser reports, in RTCP receiver reports, what fraction of the kiosk's video it
lost and how long a round trip takes; aiortc turns those into remote-inbound-rtp stats. Below the
encoder's own bitrate control (REMB), this steps the picture down when losses or delays persist,
down to audio only, and back up when the link has been clean for a while. The voice always goes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    FULL = "full"
    REDUCED = "reduced"
    AUDIO_ONLY = "audio_only"


_ORDER = [Level.AUDIO_ONLY, Level.REDUCED, Level.FULL]


@dataclass(frozen=True)
class LevelSettings:
    """What the camera (or the screen) track sends: at most width x height, fps frames a second."""

    width: int
    height: int
    fps: float


def settings_for(level: Level, full: LevelSettings) -> LevelSettings:
    if level is Level.FULL:
        return full
    if level is Level.REDUCED:
        return LevelSettings(full.width // 2, full.height // 2, max(1.0, full.fps / 2))
    return LevelSettings(full.width, full.height, 0.0)


@dataclass(frozen=True)
class LinkSample:
    """One look at the link: the fraction of packets lost (0..1) and the round trip in seconds,
    as the far end's last receiver report said (None when it has not reported yet)."""

    loss: float | None
    rtt_s: float | None


class LevelPolicy:
    """Steps down after `down_after_s` of a bad link, up after `up_after_s` of a good one."""

    bad_loss = 0.10
    bad_rtt_s = 1.0
    good_loss = 0.02
    good_rtt_s = 0.4

    def __init__(self, down_after_s: float = 3.0, up_after_s: float = 15.0) -> None:
        self.down_after_s = down_after_s
        self.up_after_s = up_after_s
        self.level = Level.FULL
        self._bad_since: float | None = None
        self._good_since: float | None = None

    def observe(self, sample: LinkSample, now: float | None = None) -> Level:
        now = time.monotonic() if now is None else now
        if sample.loss is None and sample.rtt_s is None:
            return self.level  # nothing reported yet: no reason to change
        loss = sample.loss or 0.0
        rtt = sample.rtt_s or 0.0
        bad = loss >= self.bad_loss or rtt >= self.bad_rtt_s
        good = loss <= self.good_loss and rtt <= self.good_rtt_s
        self._bad_since = (self._bad_since or now) if bad else None
        self._good_since = (self._good_since or now) if good else None
        index = _ORDER.index(self.level)
        if self._bad_since is not None and now - self._bad_since >= self.down_after_s and index:
            self.level = _ORDER[index - 1]
            self._bad_since = now   # the next step down needs another spell of bad link
        elif (self._good_since is not None and now - self._good_since >= self.up_after_s
              and index < len(_ORDER) - 1):
            self.level = _ORDER[index + 1]
            self._good_since = now
        return self.level


def sample_from_stats(report: object) -> LinkSample:
    """The worst of the remote-inbound-rtp entries of aiortc's getStats() report."""
    loss: float | None = None
    rtt: float | None = None
    for stats in getattr(report, "values", lambda: [])():
        if getattr(stats, "type", "") != "remote-inbound-rtp":
            continue
        fraction = getattr(stats, "fractionLost", None)
        if fraction is not None:
            # aiortc passes RTCP's 8-bit fixed point on as an int (0..255); a browser, 0..1.
            value = fraction / 256 if isinstance(fraction, int) else float(fraction)
            loss = value if loss is None else max(loss, value)
        trip = getattr(stats, "roundTripTime", None)
        if trip is not None:
            rtt = float(trip) if rtt is None else max(rtt, float(trip))
    return LinkSample(loss, rtt)
