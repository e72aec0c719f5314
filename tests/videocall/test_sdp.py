"""The agent's answer as Debian's Chromium wrote it (recorded from the end-to-end test's set-up:
three bundled sections, candidates in the first only) gets its candidates into every section."""

from __future__ import annotations

from pathlib import Path

from kiosk.videocall.sdp import spread_bundle_candidates

ANSWER = (Path(__file__).parent / "fixtures" / "chromium_answer.sdp").read_bytes().decode()


def sections(sdp: str) -> list[list[str]]:
    out: list[list[str]] = []
    for line in sdp.split("\r\n"):
        if line.startswith("m="):
            out.append([line])
        elif out:
            out[-1].append(line)
    return out


def candidates(section: list[str]) -> list[str]:
    return [line for line in section if line.startswith("a=candidate:")]


def test_chromium_lists_candidates_once_and_every_bundled_section_gets_them():
    before = sections(ANSWER)
    assert len(before) == 3 and [len(candidates(s)) > 0 for s in before] == [True, False, False]
    after = sections(spread_bundle_candidates(ANSWER))
    assert [candidates(s) for s in after] == [candidates(before[0])] * 3
    assert spread_bundle_candidates(ANSWER).endswith("\r\n")
    # Nothing else moved: the same lines, plus the copies.
    added = spread_bundle_candidates(ANSWER).split("\r\n")
    assert len(added) == len(ANSWER.split("\r\n")) + 2 * len(candidates(before[0]))


def test_an_answer_without_bundle_is_left_alone():
    plain = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 1 1.2.3.4 5 typ host\r\n"
    assert spread_bundle_candidates(plain) == plain
