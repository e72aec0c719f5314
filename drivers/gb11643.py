"""Citizen identity numbers (公民身份号码) of GB 11643-1999, and how we mask personal text.

An identity number is 18 characters: a 6-digit region code, the birth date YYYYMMDD, a 3-digit
sequence (odd for men, even for women) and a check digit over the first 17 computed with
ISO 7064 MOD 11-2 (weights 2^(17-i) mod 11; a remainder of 10 is written `X`).
"""

from __future__ import annotations

import re

# GB 11643-1999 §8.2 (ISO 7064:1983 MOD 11-2): Wi = 2^(i-1) mod 11 for positions 18..2.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"  # indexed by the weighted sum mod 11
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")


def check_digit(first17: str) -> str:
    """The check character (`0`-`9` or `X`) for the first 17 digits of an identity number."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("an identity number's body is 17 ASCII digits")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def is_valid(id_number: str) -> bool:
    """True when `id_number` is 17 digits plus the right check character (`x` taken as `X`)."""
    value = id_number.upper()
    if not _SHAPE.fullmatch(value):
        return False
    return check_digit(value[:17]) == value[17]


def mask_id_number(id_number: str) -> str:
    """`440101199001011234` -> `4401**********1234`: region prefix and the last four only."""
    if len(id_number) <= 8:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


def mask_text(value: str, keep_start: int = 1) -> str:
    """`王晓明` -> `王**`: the first `keep_start` characters, the rest starred; empty stays empty."""
    if len(value) <= keep_start:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start)
