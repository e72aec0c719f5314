"""The machine-readable zone (ICAO 9303 Parts 3-6) and DG1, which holds it on the chip.

`parse_mrz` reads TD1 (3x30), TD2 (2x36) and TD3 (2x44) zones with their check digits;
`parse_dg1` takes it out of DG1's TLV. `MrzData` masks its personal fields in `repr`:
nothing here logs MRZ text.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.iso7816 import ChipError, ChipReason, find_child, single_object


def _malformed(message: str) -> ChipError:
    return ChipError(ChipReason.MALFORMED_DATA, message)


_MRZ_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<")


def check_digit(field: str) -> str:
    """ICAO 9303 Part 3 check digit: weights 7-3-1, 0-9, A=10..Z=35, '<'=0."""
    total = 0
    for i, ch in enumerate(field):
        if "0" <= ch <= "9":
            value = ord(ch) - 48
        elif "A" <= ch <= "Z":
            value = ord(ch) - 55
        elif ch == "<":
            value = 0
        else:
            raise ValueError(f"character {ch!r} is not allowed in an MRZ")
        total += value * (7, 3, 1)[i % 3]
    return str(total % 10)


def _cd_ok(field: str, digit: str, *, filler_ok: bool = False) -> bool:
    if filler_ok and digit == "<" and set(field) <= {"<"}:
        return True
    return check_digit(field) == digit


def _mask(value: str, keep: int = 0) -> str:
    if not value:
        return "''"
    return "'" + "*" * max(len(value) - keep, 3) + (value[-keep:] if keep else "") + "'"


@dataclass(frozen=True, repr=False)
class MrzData:
    """The MRZ of DG1, fields with fillers removed. `repr` masks personal fields."""

    document_code: str
    issuing_state: str
    document_number: str
    birth_date: str  # YYMMDD
    sex: str  # "M", "F" or "<"
    expiry_date: str  # YYMMDD
    nationality: str
    surname: str
    given_names: str  # space-separated
    optional_data: str
    check_digits_ok: bool

    def __repr__(self) -> str:
        return (
            f"MrzData(document_code={self.document_code!r}, "
            f"issuing_state={self.issuing_state!r}, "
            f"document_number={_mask(self.document_number, 2)}, "
            f"birth_date={_mask(self.birth_date)}, sex='*', "
            f"expiry_date={_mask(self.expiry_date)}, nationality={_mask(self.nationality)}, "
            f"surname={_mask(self.surname)}, given_names={_mask(self.given_names)}, "
            f"optional_data={_mask(self.optional_data)}, "
            f"check_digits_ok={self.check_digits_ok})"
        )

    __str__ = __repr__


def _clean(field: str) -> str:
    return field.rstrip("<").replace("<", " ")


def _names(field: str) -> tuple[str, str]:
    surname, _, given = field.partition("<<")
    return _clean(surname).strip(), _clean(given).strip()


def parse_mrz(mrz: str) -> MrzData:
    """Parse a TD1 (3x30), TD2 (2x36) or TD3 (2x44) MRZ; line breaks are ignored.

    Check digits that do not match give `check_digits_ok=False`, not an error.
    """
    text = "".join(mrz.split())
    if not set(text) <= _MRZ_CHARS:
        raise _malformed("MRZ holds characters outside A-Z 0-9 <")
    if len(text) == 90:
        return _parse_td1(text)
    if len(text) == 72:
        return _parse_td23(text, 36)
    if len(text) == 88:
        return _parse_td23(text, 44)
    raise _malformed(f"MRZ of {len(text)} characters is neither TD1, TD2 nor TD3")


def _parse_td1(text: str) -> MrzData:
    l1, l2, l3 = text[0:30], text[30:60], text[60:90]
    number, number_cd, optional = l1[5:14], l1[14], l1[15:30]
    if number_cd == "<" and optional[0] != "<":
        # long document number: continues in the optional data, then its check digit
        extension, _, rest = optional.partition("<")
        number, number_cd, optional = number + extension[:-1], extension[-1], rest
    ok = (
        _cd_ok(number, number_cd)
        and _cd_ok(l2[0:6], l2[6])
        and _cd_ok(l2[8:14], l2[14])
        and _cd_ok(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], l2[29])
    )
    surname, given = _names(l3)
    return MrzData(
        document_code=_clean(l1[0:2]),
        issuing_state=_clean(l1[2:5]),
        document_number=_clean(number),
        birth_date=l2[0:6],
        sex=l2[7],
        expiry_date=l2[8:14],
        nationality=_clean(l2[15:18]),
        surname=surname,
        given_names=given,
        optional_data=(_clean(optional) + " " + _clean(l2[18:29])).strip(),
        check_digits_ok=ok,
    )


def _parse_td23(text: str, width: int) -> MrzData:
    l1, l2 = text[:width], text[width:]
    if width == 44:  # TD3: personal number with its own check digit
        optional = l2[28:42]
        ok_optional = _cd_ok(optional, l2[42], filler_ok=True)
        composite = l2[0:10] + l2[13:20] + l2[21:43]
    else:  # TD2
        optional = l2[28:35]
        ok_optional = True
        composite = l2[0:10] + l2[13:20] + l2[21:35]
    ok = (
        _cd_ok(l2[0:9], l2[9])
        and _cd_ok(l2[13:19], l2[19])
        and _cd_ok(l2[21:27], l2[27])
        and ok_optional
        and _cd_ok(composite, l2[width - 1])
    )
    surname, given = _names(l1[5:width])
    return MrzData(
        document_code=_clean(l1[0:2]),
        issuing_state=_clean(l1[2:5]),
        document_number=_clean(l2[0:9]),
        birth_date=l2[13:19],
        sex=l2[20],
        expiry_date=l2[21:27],
        nationality=_clean(l2[10:13]),
        surname=surname,
        given_names=given,
        optional_data=_clean(optional),
        check_digits_ok=ok,
    )


def parse_dg1(data: bytes) -> MrzData:
    """DG1 = 61 { 5F1F MRZ }."""
    mrz = find_child(single_object(data, 0x61, "DG1").children(), 0x5F1F, "DG1")
    try:
        text = mrz.decode("ascii")
    except UnicodeDecodeError:
        raise _malformed("DG1: MRZ is not ASCII") from None
    return parse_mrz(text)
