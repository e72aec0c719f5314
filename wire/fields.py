"""How every message of the kiosk-fleet wire is read: its version, its limits, and the field
readers every parser goes through, so bad input is a WireError with a reason, never a crash.
The readers are private to the wire package: its message modules, wire.reports, wire.agents."""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from typing import Any

# A JSON object as a message arrives (json.loads) and leaves (to_json), for both sides of the
# wire. Any: json.loads returns untyped values; each message's from_json checks the fields it
# reads, with the helpers below.
JsonObject = dict[str, Any]
# Any: as above, a received object read through the checks below.
JsonMapping = Mapping[str, Any]

# Version 2 adds the server's service order on every heartbeat reply (the operators' wanted
# in/out-of-service state, which the kiosk persists), the kiosk's process start, boot id and
# systemd restart count, the `accepted` acknowledgement, and the `unexpected_exit` event.
# Optional fields a peer of the same version ignores when it does not know them (no bump): the
# heartbeat's `items` (which service items the menu offers now), and the business reports of
# wire.reports on their own endpoint (a fleet without it answers 404; the kiosk keeps
# them until one that has it answers), and the heartbeat's `update` (UpdateStatus). The `update`
# command and the `update_result` event are new kinds: only a fleet that knows them sends the
# command, and a fleet that does not refuses the event with a 400, which the kiosk drops.
WIRE_VERSION = 2
# What each side reads. A kiosk speaks its own version and the server answers it in that version,
# so kiosks of the previous release keep working while a fleet is upgraded.
READABLE_VERSIONS = frozenset({1, 2})
API_PREFIX = "/api/v1"

MAX_ID_LEN = 64
MAX_TEXT_LEN = 500
MAX_ITEMS = 256


class WireErrorReason(enum.Enum):
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    BAD_VALUE = "bad_value"
    TOO_LARGE = "too_large"
    UNSUPPORTED_VERSION = "unsupported_version"


class WireError(ValueError):
    """A message that does not follow the schema; `reason` says how, `field` where."""

    def __init__(self, reason: WireErrorReason, field_name: str = "", detail: str = "") -> None:
        super().__init__(f"{reason.value}: {field_name} {detail}".strip())
        self.reason = reason
        self.field = field_name


# -- field readers: every parser below goes through these, so bad input is a WireError ----------


def _obj(data: object, name: str = "message") -> JsonMapping:
    if not isinstance(data, Mapping):
        raise WireError(WireErrorReason.NOT_AN_OBJECT, name)
    return data


# Any: a JSON value (or its default), checked against the wanted type at run time.
def _get(
    data: JsonMapping, key: str, kind: type | tuple[type, ...], default: Any = ...  # Any: ditto
) -> Any:  # Any: a JSON value, checked against `kind` here at run time
    if key not in data:
        if default is ...:
            raise WireError(WireErrorReason.MISSING_FIELD, key)
        return default
    value = data[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and kind is not bool and kind != (bool,):
        raise WireError(WireErrorReason.WRONG_TYPE, key)
    if not isinstance(value, kind):
        raise WireError(WireErrorReason.WRONG_TYPE, key)
    if isinstance(value, float) and not math.isfinite(value):
        raise WireError(WireErrorReason.BAD_VALUE, key, "not finite")
    if isinstance(value, str) and len(value) > MAX_TEXT_LEN:
        raise WireError(WireErrorReason.TOO_LARGE, key)
    return value


# Epoch seconds a kiosk may send: from 1970 to the year 5138. Outside that a timestamp is garbage
# (-1e300 once made the server's day arithmetic fail with a 500).
MAX_EPOCH_S = 1e11
MAX_SEQ = 2**53  # JSON-exact, and within a BIGINT column
_IDENT = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_ID_LEN}}}")


# Any: a JSON value (or its default), checked against the wanted type at run time.
def _epoch(data: JsonMapping, key: str, default: Any = ...) -> float:
    value = _get(data, key, float, default)
    if not 0.0 <= value <= MAX_EPOCH_S:
        raise WireError(WireErrorReason.BAD_VALUE, key, "not a time")
    return float(value)


def _ident(data: JsonMapping, key: str) -> str:
    value: str = _get(data, key, str)
    if not value.isascii():
        raise WireError(WireErrorReason.BAD_VALUE, key, "not ASCII")
    # One regex match, not a Python test per character: the fleet parses thousands a second.
    if _IDENT.fullmatch(value) is None:
        raise WireError(WireErrorReason.BAD_VALUE, key, "not an identifier")
    return value


# Any: a JSON value (or its default), checked against the wanted type at run time.
def _enum(
    data: JsonMapping, key: str, enum_type: type[enum.Enum], default: Any = ...  # Any: ditto
) -> Any:  # Any: a member of `enum_type`, or `default`
    raw = _get(data, key, str, default)
    if raw is default and default is not ...:
        return default
    try:
        return enum_type(raw)
    except ValueError:
        raise WireError(WireErrorReason.BAD_VALUE, key, f"unknown {enum_type.__name__}") from None


# Any: a JSON value (or its default), checked against the wanted type at run time.
def _list(data: JsonMapping, key: str) -> list[Any]:
    value: list[Any] = _get(data, key, list, [])  # Any: the list's JSON values
    if len(value) > MAX_ITEMS:
        raise WireError(WireErrorReason.TOO_LARGE, key)
    return value


def _int_map(data: JsonMapping, key: str) -> dict[str, int]:
    value = _obj(_get(data, key, Mapping, {}), key)
    if len(value) > MAX_ITEMS:
        raise WireError(WireErrorReason.TOO_LARGE, key)
    out: dict[str, int] = {}
    for name, count in value.items():
        if not isinstance(name, str) or not name or len(name) > MAX_ID_LEN:
            raise WireError(WireErrorReason.BAD_VALUE, key, "counter name")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count < 2**53:
            raise WireError(WireErrorReason.BAD_VALUE, key, "counter value")
        out[name] = count
    return out


def _str_map(data: JsonMapping, key: str) -> dict[str, str | int | float | bool]:
    value = _obj(_get(data, key, Mapping, {}), key)
    if len(value) > 32:
        raise WireError(WireErrorReason.TOO_LARGE, key)
    out: dict[str, str | int | float | bool] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not name or len(name) > MAX_ID_LEN:
            raise WireError(WireErrorReason.BAD_VALUE, key, "detail name")
        if isinstance(item, str) and len(item) <= MAX_TEXT_LEN:
            out[name] = item
        elif isinstance(item, bool | int) or (isinstance(item, float) and math.isfinite(item)):
            out[name] = item
        else:
            raise WireError(WireErrorReason.BAD_VALUE, key, "detail value")
    return out


def _check_version(data: JsonMapping) -> int:
    """The message's wire version (1 when absent: the first kiosks did not always send it)."""
    version = _get(data, "wire_version", int, 1)
    if version not in READABLE_VERSIONS:
        raise WireError(WireErrorReason.UNSUPPORTED_VERSION, "wire_version", str(version))
    return int(version)


# Any: a JSON value (or its default), checked against the wanted type at run time.
def _version(data: JsonMapping, key: str, default: Any = ...) -> str:
    value = _get(data, key, str, default)
    if len(value) > MAX_ID_LEN:
        raise WireError(WireErrorReason.TOO_LARGE, key)
    return str(value)


def _short(data: JsonMapping, key: str, default: str = "") -> str:
    value = _get(data, key, str, default)
    if value and _IDENT.fullmatch(value) is None:
        raise WireError(WireErrorReason.BAD_VALUE, key, "not an identifier")
    return str(value)
