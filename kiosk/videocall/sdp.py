"""One adjustment to the agent's SDP answer before aiortc reads it.

A browser answering a BUNDLE offer lists its ICE candidates once, in the first bundled media
section. aiortc (1.16) keeps, per ICE transport, the candidates of the *last* media section that
uses it, so with three bundled sections it is left with none. On a direct link that hides itself
(the browser's checks arrive and teach aiortc peer-reflexive candidates), but through a TURN relay
nothing may arrive before aiortc asks the relay to let the browser in, and the call never
connects. So every bundled section gets the first one's candidates.
"""

from __future__ import annotations


def spread_bundle_candidates(sdp: str) -> str:
    """The SDP with each bundled media section carrying the candidates of the first."""
    newline = "\r\n" if "\r\n" in sdp else "\n"
    lines = sdp.split(newline)
    bundle: list[str] = []
    for line in lines:
        if line.startswith("a=group:BUNDLE "):
            bundle = line.split()[1:]
    if len(bundle) < 2:
        return sdp
    head: list[str] = []
    sections: list[list[str]] = []
    for line in lines:
        if line.startswith("m="):
            sections.append([line])
        elif sections:
            sections[-1].append(line)
        else:
            head.append(line)

    def mid(section: list[str]) -> str:
        return next((ln[len("a=mid:"):] for ln in section if ln.startswith("a=mid:")), "")

    def candidates(section: list[str]) -> list[str]:
        return [ln for ln in section if ln.startswith(("a=candidate:", "a=end-of-candidates"))]

    first = next((s for s in sections if mid(s) == bundle[0]), None)
    shared = candidates(first) if first is not None else []
    if not shared:
        return sdp
    out = list(head)
    for section in sections:
        if mid(section) in bundle and not candidates(section):
            blank = len(section) and section[-1] == ""
            body = section[:-1] if blank else section
            section = [*body, *shared, *([""] if blank else [])]
        out.extend(section)
    return newline.join(out)
