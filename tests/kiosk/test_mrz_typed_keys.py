"""The chip's keys as a citizen types them when the data page did not read (kiosk.steps_mrz):
what the keypad accepts, fuzzed, and what a refusal by the chip then means."""

import datetime

from hypothesis import given
from hypothesis import strategies as st

from kiosk.flow import Reason
from kiosk.steps_mrz import KeySource, refused_reason, typed_date, typed_document_number
from kiosk.viewmodel import SessionView


@given(st.text(max_size=12))
def test_a_typed_document_number_is_refused_or_as_bac_takes_it(text):
    number = typed_document_number(text)
    if number is not None:
        assert 1 <= len(number) <= 9 and number.isascii() and number.isalnum()
        assert number == number.upper() == text.strip().upper()


@given(st.text(max_size=8))
def test_a_typed_date_is_refused_or_a_real_yymmdd(text):
    date = typed_date(text)
    if date is not None:
        assert date == text and len(date) == 6 and date.isdigit()
        datetime.date(2000 + int(date[:2]), int(date[2:4]), int(date[4:]))


@given(st.dates(min_value=datetime.date(2000, 1, 1), max_value=datetime.date(2099, 12, 31)))
def test_every_real_date_is_taken(day):
    assert typed_date(day.strftime("%y%m%d")) == day.strftime("%y%m%d")


def test_the_printed_values_are_taken_and_the_misfits_are_not():
    assert typed_document_number("l898902c3") == "L898902C3"
    assert typed_document_number("L8989-02C3") is None and typed_document_number("") is None
    assert typed_document_number("1234567890") is None
    assert typed_date("740812") == "740812"
    assert typed_date("741312") is None and typed_date("740230") is None
    assert typed_date("７４０８１２") is None    # full-width digits are not what the chip holds


def test_a_refusal_says_which_keys_were_wrong():
    assert refused_reason({"source": KeySource.PAGE.value}) is Reason.PAGE_KEYS_REFUSED
    assert refused_reason({"source": KeySource.KEYPAD.value}) is Reason.TYPED_KEYS_REFUSED
    assert refused_reason({"document_number": "x"}) is Reason.AUTHENTICATION_REFUSED


def test_the_keypad_types_letters_only_where_the_entry_takes_them():
    view = SessionView()
    assert view.typable("7") and not view.typable("c") and not view.typable("ok")
    view.update(entry_letters=True)
    assert view.typable("c") and view.typable("7") and not view.typable("é")
    assert not view.typable("back") and not view.typable("")
