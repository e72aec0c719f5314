"""An MRZ as read from a data page's picture, made right or refused (ICAO 9303 Parts 3-5).

OCR of OCR-B confuses some characters (0 and O, 1 and I, 8 and B, 5 and S, 2 and Z, 6 and G).
A field that a check digit covers is corrected only where exactly one way of swapping such
characters, the fewest swaps, makes its check digit right; the composite check digit must then
hold too. A field no check digit covers (the names, the nationality) is left as read. Anything
else (the wrong length, two equally good corrections, a check digit no swap can satisfy) is
refused: a wrong MRZ is never accepted, a citizen is asked to place the page again instead.

TD1 (3 x 30), TD2 (2 x 36), TD3 (2 x 44). Nothing here logs what it reads.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from drivers.iso7816 import ChipError
from drivers.mrz import MrzData, check_digit, parse_mrz

# The characters OCR takes for one another in OCR-B; each may stand for the others.
CONFUSED = {"0": "OQD", "O": "0Q", "Q": "0O", "D": "0", "1": "I", "I": "1", "8": "B", "B": "8",
            "5": "S", "S": "5", "2": "Z", "Z": "2", "6": "G", "G": "6"}
MAX_SWAPS = 3        # a field needing more swaps than this is misread beyond trusting
_DIGITS = "0123456789"


@dataclass(frozen=True)
class Field:
    """A field a check digit covers: its slice and its check digit's position (in the whole
    MRZ text, lines joined); `digits` when it holds digits only (dates)."""

    start: int
    end: int
    check: int
    digits: bool = False


# Where each layout's protected fields are, and the composite check (ICAO 9303 Parts 4-5).
_TD3 = (Field(44, 53, 53), Field(57, 63, 63, True), Field(65, 71, 71, True),
        Field(72, 86, 86))
_TD2 = (Field(36, 45, 45), Field(49, 55, 55, True), Field(57, 63, 63, True))
_TD1 = (Field(5, 14, 14), Field(30, 36, 36, True), Field(38, 44, 44, True))
LAYOUTS = {(44, 44): _TD3, (36, 36): _TD2, (30, 30, 30): _TD1}


def _composite(text: str) -> tuple[str, str]:
    """The composite check's data and its digit."""
    if len(text) == 88:
        return text[44:54] + text[57:64] + text[65:87], text[87]
    if len(text) == 72:
        return text[36:46] + text[49:56] + text[57:71], text[71]
    return text[5:30] + text[30:37] + text[38:45] + text[48:59], text[59]


def _alternatives(ch: str, digits: bool) -> str:
    """What `ch` may really be: itself first, then what OCR confuses it with."""
    options = ch + CONFUSED.get(ch, "")
    return "".join(c for c in options if c in _DIGITS) if digits else options


def _correct_field(text: str, field: Field) -> str | None:
    """The field and its check digit with the fewest swaps that make the digit right, when
    exactly one way does; None otherwise. Tried by the number of swaps, 0 to MAX_SWAPS."""
    value = text[field.start:field.end] + text[field.check]
    if set(value) == {"<"}:
        return value   # an empty optional field: its check digit is a filler too
    last = len(value) - 1
    options = [_alternatives(c, field.digits or i == last) for i, c in enumerate(value)]
    forced = [i for i, o in enumerate(options) if value[i] not in o]   # a letter in a date
    if any(not options[i] for i in forced):
        return None
    doubtful = [i for i, o in enumerate(options) if len(o) > 1 and i not in forced]
    for extra in range(MAX_SWAPS + 1 - len(forced)):
        found: set[str] = set()
        for spots in itertools.combinations(doubtful, extra):
            changing = [*forced, *spots]
            for picks in itertools.product(*(options[i].replace(value[i], "")
                                             for i in changing)):
                word = list(value)
                for i, c in zip(changing, picks, strict=True):
                    word[i] = c
                candidate = "".join(word)
                if _check_holds(candidate):
                    found.add(candidate)
        if found:
            return found.pop() if len(found) == 1 else None
    return None


def _check_holds(word: str) -> bool:
    try:
        return word[-1] in _DIGITS and check_digit(word[:-1]) == word[-1]
    except ValueError:   # a character outside the MRZ's alphabet
        return False


def correct_mrz(lines: list[str]) -> tuple[str, MrzData] | None:
    """The MRZ the lines hold, corrected where check digits confirm it, and its data; None
    when they do not make a valid MRZ."""
    cleaned = ["".join(line.split()).upper() for line in lines if line.strip()]
    fields = LAYOUTS.get(tuple(len(line) for line in cleaned))
    if fields is None:
        return None
    text = "".join(cleaned)
    for field in fields:
        corrected = _correct_field(text, field)
        if corrected is None:
            return None
        text = (text[:field.start] + corrected[:-1] + text[field.end:field.check]
                + corrected[-1] + text[field.check + 1:])
    data, digit = _composite(text)
    position = len(text) - 31 if len(text) == 90 else len(text) - 1
    digits = _alternatives(digit, True)
    try:
        right = [d for d in digits if check_digit(data) == d]
        if len(right) != 1:
            return None
        text = text[:position] + right[0] + text[position + 1:]
        parsed = parse_mrz(text)
    except (ValueError, ChipError):   # characters outside the MRZ's alphabet
        return None
    if not parsed.check_digits_ok:
        return None
    width = len(cleaned[0])
    return "\n".join(text[i:i + width] for i in range(0, len(text), width)), parsed
