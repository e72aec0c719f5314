"""drivers.gb11643: identity-number check digits (ISO 7064 MOD 11-2) and masking."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.gb11643 import check_digit, is_valid, mask_id_number, mask_text

# GB 11643-1999's own examples, and the standard's worked example of a check character of 10.
PUBLISHED = ["11010519491231002X", "440524188001010014"]


@pytest.mark.parametrize("number", PUBLISHED)
def test_published_examples_are_valid(number: str) -> None:
    assert is_valid(number)
    assert check_digit(number[:17]) == number[17]


def test_a_remainder_of_ten_is_written_x_and_lowercase_x_is_accepted() -> None:
    assert check_digit("11010519491231002") == "X"
    assert is_valid("11010519491231002x")


@pytest.mark.parametrize(
    "number",
    ["110105194912310021", "44052418800101001", "4405241880010100144", "44052418800101001A",
     "", "４４0524188001010014"],
)  # fmt: skip
def test_wrong_digit_or_shape_is_invalid(number: str) -> None:
    assert not is_valid(number)


@settings(max_examples=200, deadline=None)
@given(st.text("0123456789", min_size=17, max_size=17), st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_change_is_detected(body: str, position: int, shift: int) -> None:
    number = body + check_digit(body)
    changed = str((int(number[position]) + shift) % 10)
    altered = number[:position] + changed + number[position + 1 :]
    assert is_valid(number)
    assert not is_valid(altered)


@pytest.mark.parametrize("body", ["1234567890123456", "1234567890123456A", "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧"])
def test_check_digit_refuses_a_body_that_is_not_17_ascii_digits(body: str) -> None:
    with pytest.raises(ValueError):
        check_digit(body)


def test_masking_keeps_only_the_region_prefix_and_last_four() -> None:
    assert mask_id_number("440101199001011234") == "4401**********1234"
    assert mask_id_number("1234") == "****"
    assert mask_text("王晓明") == "王**"
    assert mask_text("王") == "*"
    assert mask_text("") == ""
