"""An MRZ read from a page (drivers/mrz_correct.py): OCR's usual confusions corrected only where
check digits confirm them, everything else refused; never a different MRZ accepted. Fed by the
ICAO 9303 Part 4 specimen passport and the simulator's TD1 permits."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.mrz_correct import CONFUSED, LAYOUTS, correct_mrz
from simulator.icao_chip import TravelDocumentHolder, mrz_td1

SPECIMEN = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
            "L898902C36UTO7408122F1204159ZE184226B<<<<<10"]   # ICAO 9303 Part 4's TD3


def test_the_specimen_reads_as_printed():
    text, data = correct_mrz(SPECIMEN)
    assert text.splitlines() == SPECIMEN
    assert (data.document_number, data.birth_date, data.expiry_date) == (
        "L898902C3", "740812", "120415")
    assert (data.surname, data.given_names) == ("ERIKSSON", "ANNA MARIA")


def test_confusions_in_protected_fields_are_corrected():
    line2 = SPECIMEN[1]
    misread = line2.replace("L898902C3", "L8989O2C3").replace("740812", "74O8I2")
    misread = misread[:21] + misread[21:27].replace("0", "O") + misread[27:]
    text, data = correct_mrz([SPECIMEN[0], misread])
    assert text.splitlines() == SPECIMEN


def test_a_digit_misread_as_another_digit_is_refused():
    misread = SPECIMEN[1].replace("7408122", "7408172")   # 2 read as 7: no swap explains it
    assert correct_mrz([SPECIMEN[0], misread]) is None
    assert correct_mrz([SPECIMEN[0], SPECIMEN[1][:-1]]) is None   # a character short
    assert correct_mrz(["", ""]) is None


holders = st.builds(
    TravelDocumentHolder,
    document_number=st.text(alphabet="ABCDEFGHJKLMNPRTUVWXY0123456789", min_size=9, max_size=9),
    birth_date=st.dates().map(lambda d: d.strftime("%y%m%d")),
    expiry_date=st.dates().map(lambda d: d.strftime("%y%m%d")),
    surname=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=10),
)


# G and 6 differ by 10 in the check digit's values: no check digit can tell them apart, so a
# G read for a 6 (or the other way) in a document number is beyond any MRZ's own checks.
DETECTABLE = {c: "".join(o for o in others if {c, o} != {"G", "6"})
              for c, others in CONFUSED.items()}


@settings(max_examples=400, deadline=None)
@given(holders, st.randoms(use_true_random=False), st.booleans())
def test_one_confusion_per_field_is_read_right_or_refused_never_wrong(holder,
                                                                      rng: random.Random,
                                                                      in_every_field):
    """OCR's confusions put into a real permit's MRZ, at most one in each field a check digit
    covers: the corrector gives back exactly the printed MRZ, or nothing."""
    printed = mrz_td1(holder).replace("\n", "")
    text = list(printed)
    fields = LAYOUTS[(30, 30, 30)]
    for field in fields if in_every_field else fields[:1]:
        spots = [i for i in (*range(field.start, field.end), field.check)
                 if DETECTABLE.get(text[i])]
        if spots:
            i = rng.choice(spots)
            text[i] = rng.choice(DETECTABLE[text[i]])
    read = "".join(text)
    result = correct_mrz([read[i:i + 30] for i in range(0, 90, 30)])
    assert result is None or result[0].replace("\n", "") == printed
    if read == printed:
        assert result is not None
