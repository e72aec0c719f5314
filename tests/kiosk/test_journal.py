"""The journal's state machine: durable, and no sequence of events makes an illegal move."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.journal import (
    FINAL_STATES,
    IllegalTransition,
    Journal,
    TxState,
    allowed_transitions,
)

# The transitions ARCHITECTURE.md draws, plus the free-item shortcuts the catalog needs.
EXPECTED_EDGES = {
    ("created", "identified"),
    ("identified", "quoted"),
    ("quoted", "payment_pending"),
    ("payment_pending", "paid"),
    ("paid", "submitted"),
    ("submitted", "fulfilled"),
    ("fulfilled", "receipted"),
    ("receipted", "closed"),
    ("payment_pending", "cancelled"),
    ("paid", "refund_pending"),
    ("submitted", "refund_pending"),
    ("refund_pending", "refunded"),
    ("submitted", "needs_attention"),
}


def test_the_architecture_edges_are_all_allowed():
    for source, target in EXPECTED_EDGES:
        assert TxState(target) in allowed_transitions(TxState(source)), (source, target)


def test_final_states_have_no_way_out():
    for state in FINAL_STATES:
        assert allowed_transitions(state) == frozenset()


def test_money_cannot_skip_payment():
    for source in (TxState.CREATED, TxState.IDENTIFIED, TxState.PAYMENT_PENDING):
        assert TxState.SUBMITTED not in allowed_transitions(source)
    assert TxState.REFUNDED not in allowed_transitions(TxState.PAID)  # refund is journaled first


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(list(TxState)), max_size=25))
def test_no_sequence_of_events_leads_to_an_illegal_transition(tmp_path_factory, events):
    journal = Journal(tmp_path_factory.mktemp("j") / "journal.sqlite3", "K1")
    tx = journal.create("item")
    states = [tx.state]
    for wanted in events:
        before = journal.get(tx.tx_id).state
        if wanted in allowed_transitions(before):
            tx = journal.transition(tx, wanted)
            states.append(wanted)
        else:
            with pytest.raises(IllegalTransition):
                journal.transition(tx, wanted)
            assert journal.get(tx.tx_id).state is before
    history = journal.history(tx.tx_id)
    assert [h[1] for h in history] == [s.value for s in states]
    for (prev, nxt, _), (_, prev_to, _) in zip(history[1:], history[:-1], strict=True):
        assert prev == prev_to and TxState(nxt) in allowed_transitions(TxState(prev))
    journal.close()


def test_the_journal_survives_reopening_and_is_wal_with_full_sync(tmp_path):
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path, "K1")
    tx = journal.create("item")
    journal.transition(tx, TxState.QUOTED, amount_fen=1500)
    journal.close()
    again = Journal(path, "K1")
    assert again.get(tx.tx_id).state is TxState.QUOTED
    assert again.get(tx.tx_id).amount_fen == 1500
    assert again._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert again._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert [t.tx_id for t in again.unfinished()] == [tx.tx_id]


def test_an_older_journal_is_migrated(tmp_path):
    path = tmp_path / "journal.sqlite3"
    db = sqlite3.connect(path)
    db.executescript("""CREATE TABLE transactions (tx_id TEXT PRIMARY KEY, service TEXT NOT NULL,
        state TEXT NOT NULL, amount_fen INTEGER, out_trade_no TEXT UNIQUE, subject TEXT,
        detail TEXT NOT NULL DEFAULT '{}', created_at REAL NOT NULL, updated_at REAL NOT NULL);
        INSERT INTO transactions VALUES ('T1', 's', 'paid', 100, 'O1', NULL, '{}', 1, 1);""")
    db.commit()
    db.close()
    journal = Journal(path, "K1")
    assert journal.get("T1").state is TxState.PAID and journal.get("T1").paid_trade_no is None


def test_idempotency_keys_are_stable_per_transaction_and_action(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3", "K1")
    tx = journal.create("item")
    again = journal.get(tx.tx_id)
    assert tx.idempotency_key("submit") == again.idempotency_key("submit")
    assert tx.idempotency_key("submit") != tx.idempotency_key("refund")
    assert journal.create("item").idempotency_key("submit") != tx.idempotency_key("submit")
