"""The simulated holder's machine-readable zone (ICAO 9303 Parts 3-5): TD1, TD2 and TD3 with
their check digits.

Written out here, not imported from `drivers/`: the simulator is the far side of the wire
and must not share the reader's code (a bug on both sides would cancel out).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

_MRZ_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<"


def check_digit(field: str) -> str:
    """ICAO 9303 Part 3 check digit: weights 7-3-1, A=10..Z=35, '<'=0."""
    total = 0
    for i, ch in enumerate(field):
        if ch.isdigit():
            value = ord(ch) - ord("0")
        elif "A" <= ch <= "Z":
            value = ord(ch) - ord("A") + 10
        elif ch == "<":
            value = 0
        else:
            raise ValueError(f"character {ch!r} is not allowed in an MRZ")
        total += value * (7, 3, 1)[i % 3]
    return str(total % 10)


def mrz_text(text: str) -> str:
    """Upper-case Latin text as MRZ characters: spaces and hyphens become fillers."""
    out = []
    for ch in text.upper():
        if ch in _MRZ_ALPHABET:
            out.append(ch)
        elif ch in " -,":
            out.append("<")
        # apostrophes and other marks are dropped (ICAO 9303 Part 3, 6.A)
    return "".join(out)


def _field(text: str, width: int) -> str:
    value = mrz_text(text)
    if len(value) > width:
        raise ValueError(f"MRZ field longer than {width} characters")
    return value.ljust(width, "<")


@dataclass
class TravelDocumentHolder:
    """The personal data printed in the MRZ and stored in DG1 (test data only)."""

    document_code: str = "CS"
    issuing_state: str = "CHN"
    document_number: str = "C01234567"
    birth_date: str = "900115"
    sex: str = "F"
    expiry_date: str = "330115"
    nationality: str = "CHN"
    surname: str = "ZHANG"
    given_names: str = "SAN"
    optional_data: str = ""

    def __repr__(self) -> str:  # never leak personal data into logs
        number = self.document_number
        return (
            f"TravelDocumentHolder(document_code={self.document_code!r}, "
            f"issuing_state={self.issuing_state!r}, document_number='***{number[-2:]}')"
        )


def mrz_td1(holder: TravelDocumentHolder) -> str:
    """The TD1 MRZ (3 lines of 30, concatenated: 90 characters) with all check digits."""
    number = _field(holder.document_number, 9)
    line1 = (
        _field(holder.document_code, 2)
        + _field(holder.issuing_state, 3)
        + number
        + check_digit(number)
        + _field(holder.optional_data, 15)
    )
    birth = _field(holder.birth_date, 6)
    expiry = _field(holder.expiry_date, 6)
    line2 = (
        birth
        + check_digit(birth)
        + _field(holder.sex or "<", 1)
        + expiry
        + check_digit(expiry)
        + _field(holder.nationality, 3)
        + "<" * 11
    )
    composite = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
    line2 += check_digit(composite)
    name = mrz_text(holder.surname) + "<<" + mrz_text(holder.given_names)
    line3 = name[:30].ljust(30, "<")
    return line1 + line2 + line3


def _line2_td23(holder: TravelDocumentHolder, optional_width: int) -> str:
    """The second line of TD2 and TD3 (ICAO 9303 Parts 4 and 5), composite digit included."""
    number = _field(holder.document_number, 9)
    birth = _field(holder.birth_date, 6)
    expiry = _field(holder.expiry_date, 6)
    line = (
        number + check_digit(number) + _field(holder.nationality, 3)
        + birth + check_digit(birth) + _field(holder.sex or "<", 1)
        + expiry + check_digit(expiry)
    )  # fmt: skip
    optional = _field(holder.optional_data, optional_width)
    if optional_width == 14:  # TD3: the personal number has its own digit, '<' when empty
        optional += "<" if set(optional) == {"<"} else check_digit(optional)
    line += optional
    return line + check_digit(line[0:10] + line[13:20] + line[21:])


def _line1_td23(holder: TravelDocumentHolder, width: int) -> str:
    name = mrz_text(holder.surname) + "<<" + mrz_text(holder.given_names)
    head = _field(holder.document_code, 2) + _field(holder.issuing_state, 3)
    return (head + name)[:width].ljust(width, "<")


def mrz_td2(holder: TravelDocumentHolder) -> str:
    """The TD2 MRZ (2 lines of 36, concatenated: 72 characters) with all check digits."""
    return _line1_td23(holder, 36) + _line2_td23(holder, 7)


def mrz_td3(holder: TravelDocumentHolder) -> str:
    """The TD3 MRZ (passport book: 2 lines of 44, concatenated) with all check digits."""
    return _line1_td23(holder, 44) + _line2_td23(holder, 14)


class MrzLayout(StrEnum):
    """The three MRZ sizes: lines x characters (ICAO 9303 Parts 4-6)."""

    TD1 = "td1"  # 3 x 30, ID-1 cards
    TD2 = "td2"  # 2 x 36, ID-2 cards and permits
    TD3 = "td3"  # 2 x 44, passport books

    @property
    def width(self) -> int:
        return {"td1": 30, "td2": 36, "td3": 44}[self.value]


def mrz_lines(holder: TravelDocumentHolder, layout: MrzLayout) -> list[str]:
    """The holder's MRZ in `layout`, as its printed lines."""
    text = {MrzLayout.TD1: mrz_td1, MrzLayout.TD2: mrz_td2, MrzLayout.TD3: mrz_td3}[layout](holder)
    return [text[i : i + layout.width] for i in range(0, len(text), layout.width)]


def mrz_information(holder: TravelDocumentHolder) -> str:
    """What Basic Access Control's keys come from (ICAO 9303 Part 11, 9.7.2): document
    number, birth and expiry dates, each with its check digit."""
    number = mrz_text(holder.document_number).ljust(9, "<")
    return (
        number
        + check_digit(number)
        + holder.birth_date
        + check_digit(holder.birth_date)
        + holder.expiry_date
        + check_digit(holder.expiry_date)
    )
