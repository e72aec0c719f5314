"""End to end, headless (issue 18): a visitor's passport the backends do not know. The kiosk
process with its embedded simulator; the scripted visitor (scenarios.headless_passport) lays
the data page on the document camera, the kiosk reads its MRZ from the camera's stream and
opens the chip with it. No driver is mocked: the simulator renders the page and holds the chip.
"""

from __future__ import annotations

import json

import pytest

from kiosk.config import DEV_KIOSK_ID
from kiosk.journal import Journal, TxState
from simulator.icao_chip.mrz import MrzLayout, mrz_lines
from simulator.reference import FOREIGNER_ACCOMMODATION
from simulator.runtime import VISITOR_HOLDER
from tests.e2e.test_endorsement_e2e import kiosk_files_text, run_headless


@pytest.mark.parametrize(("scenario", "placements"), [
    ("passport", 1),           # the page reads at once
    ("passport_retry", 2),     # a finger over the MRZ: refused, placed again, read
    ("passport_keypad", 3),    # every placement covered: the three fields typed instead
])
def test_a_visitors_chip_opens_with_the_keys_from_its_page(tmp_path, scenario, placements):
    summary = run_headless(tmp_path, scenario)
    assert summary["steps"]["mrz_from_page/camera"]["runs"] == placements
    state = tmp_path / "kiosk"
    journal = Journal(state / "journal.sqlite3", DEV_KIOSK_ID)
    try:
        (tx,) = journal.recent(5)
    finally:
        journal.close()
    # The chip opened with those keys and its data checked; the registration came back.
    assert tx.service == FOREIGNER_ACCOMMODATION and tx.state is TxState.CLOSED
    assert tx.detail["passive_auth"] == "passed" and tx.detail["access_control"] in ("BAC", "PACE")
    assert tx.detail["result"]["registration_id"].startswith("AR")
    # Nothing of the passport reached the kiosk's journal, logs or caches: not its number, its
    # dates, its names, nor a line of its MRZ.
    written = kiosk_files_text(state)
    holder = VISITOR_HOLDER
    secrets = (holder.document_number, holder.birth_date, holder.expiry_date, holder.surname,
               "ANNA<MARIA", *mrz_lines(holder, MrzLayout.TD3))
    for secret in secrets:
        assert secret.encode() not in written, secret
        assert secret.encode("utf-16-le") not in written, secret
    if placements > 1:   # each refused placement is in the log with its reason, no more
        assert b"data page not read (try 1 of 3): mrz_unclear" in written


def test_a_chip_that_refuses_the_keys_from_the_page_ends_with_its_reason(tmp_path):
    """The page read, but another document lies on the chip reader: the chip refuses those keys,
    and the citizen and the operator are told it is the document, not a typing mistake."""
    run_headless(tmp_path, "passport_other_chip")   # ok: refused, with the reason's words
    state = tmp_path / "kiosk"
    journal = Journal(state / "journal.sqlite3", DEV_KIOSK_ID)
    try:
        (tx,) = journal.recent(5)
        history = journal.history(tx.tx_id)
    finally:
        journal.close()
    assert tx.service == FOREIGNER_ACCOMMODATION and tx.state is not TxState.CLOSED
    assert history[-1][2] == "settle:nothing_paid"      # nothing was charged
    # The operator's reason code, on the transaction's log line.
    ended = [json.loads(line) for path in (state / "logs").glob("*.log")
             for line in path.read_text().splitlines() if "flow ended" in line]
    assert [(e["transaction"], e["reason"]) for e in ended] == [(tx.tx_id, "page_keys_refused")]
