"""The 256-byte text block of a second-generation resident identity card, decoded.

Layout (GA 467 / the SAM_A read-base-information answer): UCS-2 little-endian fixed fields,
space-padded on the right:

    name 30 | sex 2 | ethnicity 4 | birth 16 | address 70 | ID number 36 |
    issuing authority 30 | valid from 16 | valid to 16 | reserved 36          (bytes)

Sex is one digit of GB/T 2261.1 (0 unknown, 1 male, 2 female, 9 unstated), ethnicity two
digits of GB/T 3304 (01 Han ... 56 Jino, 97 other, 98 naturalised foreign origin), dates
YYYYMMDD, and "valid to" may be `长期` (long-term). The foreign permanent resident card and the
Hong Kong/Macau/Taiwan residence permit use other layouts (a type letter in the reserved bytes);
they are refused here, since the kiosk's services take only resident identity cards.

Personal data: `IdentityText`'s repr and `masked()` never show a name, number or address in
clear; nothing here logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from enum import StrEnum

from drivers.gb11643 import is_valid, mask_id_number, mask_text

TEXT_BLOCK_SIZE = 256
LONG_TERM = "长期"

# (field, bytes) in block order
_LAYOUT = (
    ("name", 30),
    ("sex", 2),
    ("ethnicity", 4),
    ("birth_date", 16),
    ("address", 70),
    ("id_number", 36),
    ("issuing_authority", 30),
    ("valid_from", 16),
    ("valid_to", 16),
    ("reserved", 36),
)
_DATE = re.compile(r"[0-9]{8}")
_SEX = {"0": "unknown", "1": "male", "2": "female", "9": "unstated"}

# GB/T 3304-1991 codes of the 56 recognised ethnic groups, with 97/98 for the rest.
ETHNICITIES = dict(
    enumerate(
        "汉 蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 "
        "拉祜 水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 "
        "塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺".split(),
        start=1,
    )
) | {97: "其他", 98: "外国血统中国籍人士"}


class TextBlockReason(StrEnum):
    WRONG_SIZE = "wrong_size"
    NOT_UCS2 = "not_ucs2"  # an unpaired surrogate or a control character
    FIELD_INVALID = "field_invalid"  # a coded field (sex, ethnicity, date) out of its domain
    OTHER_CARD_TYPE = "other_card_type"  # a permanent resident card or residence permit


class TextBlockError(ValueError):
    """The text block cannot be a resident identity card's; `reason` says why."""

    def __init__(self, reason: TextBlockReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, repr=False)
class IdentityText:
    """The card's text fields, trimmed. `repr` masks every personal field."""

    name: str
    sex: str  # GB/T 2261.1 code: "1" male, "2" female
    ethnicity: str  # GB/T 3304 code, two digits: "01" Han
    birth_date: str  # YYYYMMDD
    address: str
    id_number: str
    issuing_authority: str
    valid_from: str  # YYYYMMDD
    valid_to: str  # YYYYMMDD or 长期
    id_number_valid: bool  # GB 11643 check digit and shape

    @property
    def sex_name(self) -> str:
        return _SEX.get(self.sex, "unknown")

    @property
    def ethnicity_name(self) -> str:
        code = self.ethnicity
        return ETHNICITIES.get(int(code), "") if re.fullmatch(r"[0-9]{2}", code) else ""

    def masked(self) -> dict[str, object]:
        """The fields as a technician or a log may see them: identifying ones masked."""
        return {
            "name": mask_text(self.name),
            "sex": self.sex,
            "ethnicity": "**",
            "birth_date": "*" * len(self.birth_date),
            "address": mask_text(self.address, keep_start=min(6, len(self.address) // 2)),
            "id_number": mask_id_number(self.id_number),
            "issuing_authority": self.issuing_authority,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "id_number_valid": self.id_number_valid,
        }

    def as_dict(self) -> dict[str, object]:
        """Every field in clear: for the backend request only, never for a log."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.masked().items())
        return f"IdentityText({inner})"

    __str__ = __repr__


def _field(raw: bytes, name: str) -> str:
    try:
        text = raw.decode("utf-16-le")
    except UnicodeDecodeError as exc:
        raise TextBlockError(TextBlockReason.NOT_UCS2, f"{name} is not UCS-2") from exc
    # Cards pad with spaces; some readers hand back NULs after the last field.
    text = text.rstrip(" \x00")
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in text):
        raise TextBlockError(TextBlockReason.NOT_UCS2, f"{name} holds control characters")
    return text


def _require(ok: bool, name: str) -> None:
    if not ok:
        raise TextBlockError(TextBlockReason.FIELD_INVALID, f"{name} out of its domain")


def decode_text_block(block: bytes) -> IdentityText:
    """Decode the 256-byte block; a block that cannot be a resident card's raises TextBlockError."""
    if len(block) != TEXT_BLOCK_SIZE:
        raise TextBlockError(
            TextBlockReason.WRONG_SIZE, f"text block of {len(block)} bytes, not {TEXT_BLOCK_SIZE}"
        )
    values: dict[str, str] = {}
    offset = 0
    for name, size in _LAYOUT:
        values[name] = _field(block[offset : offset + size], name)
        offset += size
    # GA 490-2013 and the 2017 permanent resident card put a type letter at byte 248.
    if values.pop("reserved")[14:15] in ("I", "J"):
        raise TextBlockError(TextBlockReason.OTHER_CARD_TYPE, "not a resident identity card")
    _require(values["sex"] in _SEX, "sex")
    _require(
        re.fullmatch(r"[0-9]{2}", values["ethnicity"]) is not None
        and int(values["ethnicity"]) in ETHNICITIES,
        "ethnicity",
    )
    _require(_DATE.fullmatch(values["birth_date"]) is not None, "birth date")
    _require(_DATE.fullmatch(values["valid_from"]) is not None, "valid from")
    _require(
        values["valid_to"] == LONG_TERM or _DATE.fullmatch(values["valid_to"]) is not None,
        "valid to",
    )
    _require(bool(values["name"]) and bool(values["id_number"]), "name and ID number")
    return IdentityText(**values, id_number_valid=is_valid(values["id_number"]))


def encode_text_block(text: IdentityText) -> bytes:
    """The inverse of `decode_text_block`, for tests and tools; fields too long raise ValueError."""
    values = text.as_dict() | {"reserved": ""}
    out = bytearray()
    for name, size in _LAYOUT:
        raw = str(values[name]).encode("utf-16-le")
        if len(raw) > size:
            raise ValueError(f"{name} longer than {size // 2} characters")
        out += raw + " ".encode("utf-16-le") * ((size - len(raw)) // 2)
    return bytes(out)
