"""The call steps its picture down on a bad link, to audio only, and back up on a good one;
fed with aiortc's own stats objects, as the kiosk's getStats() returns them."""

from __future__ import annotations

from aiortc.rtcrtpparameters import RTCRtpCodecParameters  # noqa: F401 - aiortc imported whole
from aiortc.stats import RTCRemoteInboundRtpStreamStats, RTCStatsReport

from kiosk.videocall.quality import (
    Level,
    LevelPolicy,
    LevelSettings,
    LinkSample,
    sample_from_stats,
    settings_for,
)


def report(fraction_lost: int, rtt: float) -> RTCStatsReport:
    stats = RTCStatsReport()
    stats.add(RTCRemoteInboundRtpStreamStats(
        timestamp=0.0, type="remote-inbound-rtp", id="remote-inbound-rtp_1", ssrc=1,
        kind="video", transportId="t", packetsReceived=100, packetsLost=5, jitter=0,
        roundTripTime=rtt, fractionLost=fraction_lost))
    return stats


def test_aiortc_stats_become_a_sample():
    assert sample_from_stats(report(64, 0.2)) == LinkSample(0.25, 0.2)   # RTCP's 64/256
    assert sample_from_stats(report(1, 0.05)).loss == 1 / 256
    assert sample_from_stats(RTCStatsReport()) == LinkSample(None, None)


def test_a_bad_link_steps_down_to_audio_only_and_a_good_one_back_up():
    policy = LevelPolicy(down_after_s=3, up_after_s=15)
    bad, good = LinkSample(0.2, 0.1), LinkSample(0.0, 0.05)
    t = 0.0
    levels = []
    for _ in range(20):                   # 10 s of a bad link, a look every half second
        levels.append(policy.observe(bad, t))
        t += 0.5
    assert levels[0] is Level.FULL
    assert Level.REDUCED in levels and levels[-1] is Level.AUDIO_ONLY
    assert policy.observe(LinkSample(None, None), t) is Level.AUDIO_ONLY  # no report: no change
    for _ in range(20):                   # 10 s good: not yet
        policy.observe(good, t)
        t += 0.5
    assert policy.level is Level.AUDIO_ONLY
    for _ in range(60):                   # 30 s good: back up to full, one step at a time
        policy.observe(good, t)
        t += 0.5
    assert policy.level is Level.FULL


def test_a_slow_round_trip_counts_as_bad_and_a_middling_link_holds():
    policy = LevelPolicy(down_after_s=3)
    for t in range(10):
        policy.observe(LinkSample(0.0, 1.5), float(t))
    assert policy.level is Level.AUDIO_ONLY
    held = LevelPolicy()
    for t in range(100):
        held.observe(LinkSample(0.05, 0.5), float(t))   # neither bad nor good
    assert held.level is Level.FULL


def test_what_each_level_sends():
    full = LevelSettings(640, 480, 15)
    assert settings_for(Level.FULL, full) == full
    assert settings_for(Level.REDUCED, full) == LevelSettings(320, 240, 7.5)
    assert settings_for(Level.AUDIO_ONLY, full).fps == 0
