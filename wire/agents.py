"""The kiosk-fleet wire for village agents (代办员): a kiosk asks the fleet whether the person at
it is an agent of its site, by the agent's ID card and PIN or by a sign-in code from the
dashboard (shown as a QR code). Signed like every kiosk request; imported by both sides.

The ID card number and the PIN travel only in this request, to the fleet (which keeps neither:
a keyed hash of the number, a scrypt hash of the PIN); they never reach a log or the journal.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from wire.fields import JsonObject, WireError, WireErrorReason, _enum, _get, _ident, _obj

AGENT_SIGN_IN_PATH = "/kiosks/{kiosk_id}/agent-sign-in"
SIGN_IN_CODE_PREFIX = "VA1:"  # what a dashboard sign-in QR code holds before its secret
_PIN = re.compile(r"[0-9]{6}")
_ID_NUMBER = re.compile(r"[0-9]{17}[0-9X]")
_CODE = re.compile(r"VA1:[A-Za-z0-9_-]{20,64}")


class AgentCredential(enum.Enum):
    ID_CARD_PIN = "id_card_pin"
    SIGN_IN_CODE = "sign_in_code"


class AgentRefusal(enum.Enum):
    """Why the fleet did not sign an agent in (the kiosk's message key is agent.refused.<value>)."""

    UNKNOWN = "unknown"  # no agent has this ID card, or the code is not one the fleet issued
    PIN_WRONG = "pin_wrong"
    LOCKED = "locked"  # too many wrong PINs: wait, or ask an operator for a sign-in code
    DISABLED = "disabled"
    OTHER_SITE = "other_site"  # an agent of another village
    CODE_EXPIRED = "code_expired"
    CODE_USED = "code_used"


@dataclass(frozen=True)
class AgentSignIn:
    """A kiosk's question: is this an agent of my site? (`repr` keeps the secrets out.)"""

    kiosk_id: str
    credential: AgentCredential
    id_number: str = ""
    pin: str = ""
    code: str = ""

    def __repr__(self) -> str:
        return f"AgentSignIn(kiosk_id={self.kiosk_id!r}, credential={self.credential.value})"

    def to_json(self) -> JsonObject:
        data: JsonObject = {"kiosk_id": self.kiosk_id, "credential": self.credential.value}
        if self.credential is AgentCredential.ID_CARD_PIN:
            data.update(id_number=self.id_number, pin=self.pin)
        else:
            data["code"] = self.code
        return data

    @classmethod
    def from_json(cls, data: object) -> AgentSignIn:
        data = _obj(data, "agent_sign_in")
        credential = _enum(data, "credential", AgentCredential)
        kiosk_id = _ident(data, "kiosk_id")
        if credential is AgentCredential.ID_CARD_PIN:
            id_number, pin = _get(data, "id_number", str), _get(data, "pin", str)
            if _ID_NUMBER.fullmatch(id_number) is None:
                raise WireError(WireErrorReason.BAD_VALUE, "id_number")
            if _PIN.fullmatch(pin) is None:
                raise WireError(WireErrorReason.BAD_VALUE, "pin", "six digits")
            return cls(kiosk_id, credential, id_number=id_number, pin=pin)
        code = _get(data, "code", str)
        if _CODE.fullmatch(code) is None:
            raise WireError(WireErrorReason.BAD_VALUE, "code")
        return cls(kiosk_id, credential, code=code)


@dataclass(frozen=True)
class AgentSignedIn:
    """The fleet's yes: who the agent is (an id, never a name) and how long the session lasts."""

    agent_id: str
    session_s: float

    def to_json(self) -> JsonObject:
        return {"agent_id": self.agent_id, "session_s": self.session_s}

    @classmethod
    def from_json(cls, data: object) -> AgentSignedIn:
        data = _obj(data, "agent_signed_in")
        session_s = _get(data, "session_s", float)
        if not 0 < session_s <= 12 * 3600:
            raise WireError(WireErrorReason.BAD_VALUE, "session_s")
        return cls(_ident(data, "agent_id"), session_s)


def is_sign_in_code(text: str) -> bool:
    return _CODE.fullmatch(text) is not None
