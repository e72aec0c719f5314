"""The video call's signalling messages between kiosk, fleet server and agent (issue 14).

JSON text frames on two WebSockets: the kiosk's (a signed GET upgrade, wire.signing's
signature) and the agent's (an operator session with the agent role). One flat message shape,
checked here on every side that parses it, so the kiosk, the server and the tests agree.

Media never passes through the server: the SDP carries the peers' ICE candidates (non-trickle:
each side gathers first, so one offer and one answer make a call) and the media flows peer to
peer, or through the TURN relay the fleet's configuration names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum

from wire.fields import API_PREFIX, JsonObject

CALL_WIRE_VERSION = 1
KIOSK_CALL_PATH = API_PREFIX + "/kiosks/{kiosk_id}/call"       # WebSocket, signed GET
CALL_POLICY_PATH = API_PREFIX + "/kiosks/{kiosk_id}/call-policy"  # signed GET
AGENT_CALLS_PATH = API_PREFIX + "/agent/calls"                   # WebSocket, agent's session

MAX_SDP = 32_000     # aiortc's offer with three tracks and candidates is ~5 kB
MAX_ITEMS = 100
_CALL_ID = re.compile(r"^[0-9a-f]{32}$")
_IDENT = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class MessageType(StrEnum):
    # kiosk -> server
    RING = "ring"            # a new call: the citizen consented
    RESUME = "resume"        # the kiosk's link came back during a call
    OFFER = "offer"          # the kiosk's SDP offer (camera, screen, microphone)
    QUALITY = "quality"      # the kiosk changed what it sends (kiosk.videocall.quality)
    # server -> kiosk
    RINGING = "ringing"      # the call waits for an agent; ICE servers for this call
    ANSWERED = "answered"    # an agent took the call; the recording policy
    GUIDE = "guide"          # the agent shows the citizen an item's guide
    START_ITEM = "start_item"  # the agent proposes an item; the citizen confirms on screen
    # agent -> server
    TAKE = "take"            # the agent answers a ringing call
    ANSWER = "answer"        # the agent's SDP answer
    # server -> agent
    CALLS = "calls"          # the calls now ringing
    TAKEN = "taken"          # this agent has the call; the kiosk's menu, ICE servers
    PEER_AWAY = "peer_away"  # the other end's link dropped; it has a grace period to return
    PEER_BACK = "peer_back"
    # both ways
    HANGUP = "hangup"
    ERROR = "error"


class EndReason(StrEnum):
    """Why a call ended, as both ends and the audit log name it."""

    CITIZEN = "citizen"          # the citizen hung up
    AGENT = "agent"              # the agent hung up
    NO_ANSWER = "no_answer"      # nobody answered in time
    LINK_LOST = "link_lost"      # the media or the signalling did not come back in time
    NOT_ALLOWED = "not_allowed"  # the site's policy has no video calls
    REFUSED = "refused"          # the server refused the message or the caller
    FAILED = "failed"            # the connection could not be made


class CallWireError(ValueError):
    """A message that is not one of ours: the reason says which part."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IceServer:
    urls: tuple[str, ...]
    username: str = ""
    credential: str = ""

    def to_json(self) -> JsonObject:
        data: JsonObject = {"urls": list(self.urls)}
        if self.username:
            data.update(username=self.username, credential=self.credential)
        return data

    @classmethod
    def from_json(cls, data: object) -> IceServer:
        if not isinstance(data, dict):
            raise CallWireError("ice_servers")
        urls = data.get("urls")
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list) or not urls or not all(
                isinstance(u, str) and u.startswith(("stun:", "turn:", "turns:")) and len(u) < 256
                for u in urls):
            raise CallWireError("ice_servers")
        username, credential = data.get("username", ""), data.get("credential", "")
        if not isinstance(username, str) or not isinstance(credential, str):
            raise CallWireError("ice_servers")
        return cls(tuple(urls), username, credential)


@dataclass(frozen=True)
class ItemRef:
    """A service item the kiosk's menu offers now: what the agent may guide to or start."""

    code: str
    name: dict[str, str]

    def to_json(self) -> JsonObject:
        return {"code": self.code, "name": dict(self.name)}

    @classmethod
    def from_json(cls, data: object) -> ItemRef:
        if not isinstance(data, dict) or not _ident(data.get("code")):
            raise CallWireError("items")
        name = data.get("name", {})
        if not isinstance(name, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and len(v) < 200
                for k, v in name.items()):
            raise CallWireError("items")
        return cls(data["code"], dict(name))


def _ident(value: object) -> bool:
    return isinstance(value, str) and bool(_IDENT.match(value))


def new_call_id() -> str:
    import secrets

    return secrets.token_hex(16)


@dataclass(frozen=True)
class CallMessage:
    """One signalling message; the fields a type does not use stay at their defaults."""

    type: MessageType
    call_id: str = ""
    sdp: str = ""
    tracks: dict[str, str] = field(default_factory=dict)   # "camera"/"screen"/"audio" -> mid
    reason: str = ""
    item_code: str = ""
    items: tuple[ItemRef, ...] = ()
    ice_servers: tuple[IceServer, ...] = ()
    recording: bool = False
    agent: str = ""
    level: str = ""          # kiosk.videocall.quality.Level
    seq: int = 0             # the relay's number of this message (RESUME asks for those after)
    calls: tuple[JsonObject, ...] = ()   # CALLS: the ringing calls, as the server lists them

    def to_json(self) -> JsonObject:
        data: JsonObject = {"v": CALL_WIRE_VERSION, "type": self.type.value}
        defaults = CallMessage(self.type)
        for name in ("call_id", "sdp", "reason", "item_code", "agent", "level", "seq"):
            value = getattr(self, name)
            if value != getattr(defaults, name):
                data[name] = value
        if self.tracks:
            data["tracks"] = dict(self.tracks)
        if self.items:
            data["items"] = [i.to_json() for i in self.items]
        if self.ice_servers:
            data["ice_servers"] = [s.to_json() for s in self.ice_servers]
        if self.recording:
            data["recording"] = True
        if self.calls or self.type is MessageType.CALLS:   # an empty list is news too
            data["calls"] = list(self.calls)
        return data

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False)


def parse_message(text: str | bytes) -> CallMessage:
    """A received frame as a CallMessage; CallWireError names what is wrong."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise CallWireError("json") from None
    if not isinstance(data, dict):
        raise CallWireError("json")
    if data.get("v") != CALL_WIRE_VERSION:
        raise CallWireError("version")
    try:
        kind = MessageType(str(data.get("type")))
    except ValueError:
        raise CallWireError("type") from None
    call_id = data.get("call_id", "")
    if call_id != "" and not (isinstance(call_id, str) and _CALL_ID.match(call_id)):
        raise CallWireError("call_id")
    sdp = data.get("sdp", "")
    if not isinstance(sdp, str) or len(sdp) > MAX_SDP:
        raise CallWireError("sdp")
    tracks = data.get("tracks", {})
    if not isinstance(tracks, dict) or len(tracks) > 8 or not all(
            _ident(k) and isinstance(v, str) and len(v) < 32 for k, v in tracks.items()):
        raise CallWireError("tracks")
    texts = {}
    for name in ("reason", "item_code", "agent", "level"):
        value = data.get(name, "")
        # The agent's user name is shown to the citizen: any printable text, kept short.
        if not isinstance(value, str) or len(value) > 64:
            raise CallWireError(name)
        if value and not (value.isprintable() if name == "agent" else _ident(value)):
            raise CallWireError(name)
        texts[name] = value
    items_raw = data.get("items", [])
    servers_raw = data.get("ice_servers", [])
    calls_raw = data.get("calls", [])
    for name, raw in (("items", items_raw), ("ice_servers", servers_raw), ("calls", calls_raw)):
        if not isinstance(raw, list) or len(raw) > MAX_ITEMS:
            raise CallWireError(name)
    if not all(isinstance(c, dict) for c in calls_raw):
        raise CallWireError("calls")
    seq = data.get("seq", 0)
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise CallWireError("seq")
    recording = data.get("recording", False)
    if not isinstance(recording, bool):
        raise CallWireError("recording")
    return CallMessage(
        kind, call_id, sdp, dict(tracks),
        items=tuple(ItemRef.from_json(i) for i in items_raw),
        ice_servers=tuple(IceServer.from_json(s) for s in servers_raw),
        recording=recording, seq=seq, calls=tuple(calls_raw), **texts)


__all__ = [
    "AGENT_CALLS_PATH",
    "CALL_POLICY_PATH",
    "KIOSK_CALL_PATH",
    "CallMessage",
    "CallWireError",
    "EndReason",
    "IceServer",
    "ItemRef",
    "MessageType",
    "new_call_id",
    "parse_message",
]
