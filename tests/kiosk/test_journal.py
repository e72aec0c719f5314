"""The journal's state machine: durable, owner-only, compare-and-set, and no sequence of events
makes an illegal move."""

from __future__ import annotations

import json
import sqlite3
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.journal import FINAL_STATES, Journal, OrderKind, TxState, allowed_transitions
from kiosk.transaction import IllegalTransition, JournalBusy, JournalWriter, StaleTransition

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


def test_a_priced_transaction_cannot_be_submitted_from_its_quote(tmp_path):
    journal = JournalWriter(tmp_path / "j.sqlite3", "K1")
    free = journal.transition(journal.create("queue"), TxState.QUOTED, amount_fen=0)
    assert journal.transition(free, TxState.SUBMITTED).state is TxState.SUBMITTED
    priced = journal.transition(journal.create("bill"), TxState.QUOTED, amount_fen=8650)
    with pytest.raises(IllegalTransition, match="paid before it is submitted"):
        journal.transition(priced, TxState.SUBMITTED)
    assert journal.get(priced.tx_id).state is TxState.QUOTED


def test_a_decision_made_on_an_old_state_fails_and_changes_nothing(tmp_path):
    journal = JournalWriter(tmp_path / "j.sqlite3", "K1")
    seen = journal.transition(journal.create("bill"), TxState.QUOTED, amount_fen=8650)
    moved = journal.transition(seen, TxState.PAYMENT_PENDING, out_trade_no="O1")
    # A reconciler that read the QUOTED row decides "nothing paid, cancel": too late.
    with pytest.raises(StaleTransition) as stale:
        journal.transition(seen, TxState.CANCELLED, "recovery:nothing_paid")
    assert stale.value.reason == "stale:quoted->cancelled:now_payment_pending"
    assert journal.get(seen.tx_id).state is TxState.PAYMENT_PENDING
    assert [h[1] for h in journal.history(seen.tx_id)] == ["created", "quoted", "payment_pending"]
    with pytest.raises(StaleTransition):
        journal.defer(seen, "checking:x", 1.0)
    assert journal.defer(moved, "checking:gateway_unreachable", 1.0).attention == \
        "checking:gateway_unreachable"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(list(TxState)), max_size=25))
def test_no_sequence_of_events_leads_to_an_illegal_transition(tmp_path_factory, events):
    journal = JournalWriter(tmp_path_factory.mktemp("j") / "journal.sqlite3", "K1")
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
    journal = JournalWriter(path, "K1")
    tx = journal.create("item")
    journal.transition(tx, TxState.QUOTED, amount_fen=1500)
    journal.close()
    again = Journal(path, "K1")
    assert again.get(tx.tx_id).state is TxState.QUOTED
    assert again.get(tx.tx_id).amount_fen == 1500
    assert again._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert again._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert [t.tx_id for t in again.unfinished()] == [tx.tx_id]


def test_the_journal_and_its_wal_files_are_owner_only(tmp_path):
    path = tmp_path / "journal.sqlite3"
    journal = JournalWriter(path, "K1")
    journal.transition(journal.create("item"), TxState.QUOTED, amount_fen=1)
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    for file in files:
        assert file.exists() and stat.S_IMODE(file.stat().st_mode) == 0o600, file
    journal.close()


def test_one_process_writes_a_journal(tmp_path):
    writer = JournalWriter(tmp_path / "j.sqlite3", "K1")
    with pytest.raises(JournalBusy):
        JournalWriter(tmp_path / "j.sqlite3", "K1")
    Journal(tmp_path / "j.sqlite3", "K1").close()  # readers are welcome
    writer.close()
    JournalWriter(tmp_path / "j.sqlite3", "K1").close()


def test_orders_and_refunds_are_journaled_with_the_transaction(tmp_path):
    journal = JournalWriter(tmp_path / "j.sqlite3", "K1")
    tx = journal.transition(journal.create("bill"), TxState.QUOTED, amount_fen=8650)
    tx = journal.transition(tx, TxState.PAYMENT_PENDING, out_trade_no="O1",
                            order=("O1", OrderKind.NATIVE, 8650))
    tx = journal.record_order(tx, "O1M", OrderKind.MICROPAY, 8650)
    assert [(o.out_trade_no, o.kind) for o in tx.orders] == [
        ("O1", OrderKind.NATIVE), ("O1M", OrderKind.MICROPAY)]
    refund = journal.record_refund(tx, "O1M", 8650, "paid_not_delivered")
    assert refund.out_refund_no == f"{tx.tx_id}R1" and not journal.get(tx.tx_id).refunds[0].done
    journal.refund_done(refund)
    assert journal.get(tx.tx_id).refunds[0].done
    other = journal.create("bill")
    with pytest.raises(ValueError, match="another transaction"):
        journal.record_order(other, "O1", OrderKind.NATIVE, 1)


def test_an_older_journal_is_migrated_with_its_orders_and_refunds(tmp_path):
    path = tmp_path / "journal.sqlite3"
    db = sqlite3.connect(path)
    db.executescript("""CREATE TABLE transactions (tx_id TEXT PRIMARY KEY, service TEXT NOT NULL,
        state TEXT NOT NULL, amount_fen INTEGER, out_trade_no TEXT UNIQUE, subject TEXT,
        detail TEXT NOT NULL DEFAULT '{}', created_at REAL NOT NULL, updated_at REAL NOT NULL);
        CREATE TABLE transitions (tx_id TEXT NOT NULL, seq INTEGER NOT NULL, from_state TEXT,
        to_state TEXT NOT NULL, reason TEXT, at REAL NOT NULL, PRIMARY KEY (tx_id, seq));""")
    db.execute("INSERT INTO transactions VALUES ('T1', 's', 'paid', 100, 'O1', NULL, ?, 1, 1)",
               (json.dumps({"micropay_out_trade_no": "O1M"}),))
    db.execute("INSERT INTO transactions VALUES ('T2', 's', 'refund_pending', 200, 'O2', NULL, "
               "'{}', 2, 2)")
    db.commit()
    db.close()
    journal = Journal(path, "K1")
    t1 = journal.get("T1")
    assert t1.state is TxState.PAID and t1.paid_trade_no is None
    assert [o.out_trade_no for o in t1.orders] == ["O1", "O1M"]
    [refund] = journal.get("T2").refunds
    assert (refund.out_refund_no, refund.amount_fen, refund.done) == ("T2R1", 200, False)


def test_idempotency_keys_are_stable_per_transaction_and_action(tmp_path):
    journal = JournalWriter(tmp_path / "j.sqlite3", "K1")
    tx = journal.create("item")
    again = journal.get(tx.tx_id)
    assert tx.idempotency_key("submit") == again.idempotency_key("submit")
    assert tx.idempotency_key("submit") != tx.idempotency_key("refund")
    assert journal.create("item").idempotency_key("submit") != tx.idempotency_key("submit")
