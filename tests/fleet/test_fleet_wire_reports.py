"""The business reports' wire schema: round trips, refusals with reasons, a parser that never
crashes on bad input, and the heartbeat's optional `items` that older peers never needed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fleet import wire_v1
from wire.fleet import Heartbeat, ItemAvailability, WireError, WireErrorReason
from wire.reports import (
    ApplicationStatus,
    ApplicationUpdate,
    DayUnit,
    EvaluationReport,
    ReportBatch,
    TransactionOutcome,
    TransactionSummary,
)

SUMMARY = TransactionSummary(
    tx_id="20240607A1B2C3D4E5F6",
    item_code="442000-HZ-0012",
    outcome=TransactionOutcome.COMPLETED,
    revision=3,
    started_at=1717740000.0,
    ended_at=1717740090.5,
    amount_fen=0,
    time_limit_days=3,
    time_limit_unit=DayUnit.WORKING_DAYS,
    submitted_at=1717740050.0,
    item_name="户籍材料预审",
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
near_batches = st.fixed_dictionaries(
    {},
    optional={
        "kiosk_id": st.sampled_from(["K-1", "", "../x", 5]),
        "report_version": st.sampled_from([1, 2, "1", None]),
        "transactions": st.lists(
            st.fixed_dictionaries({}, optional={k: json_values for k in SUMMARY.to_json()}),
            max_size=3,
        )
        | json_values,
        "evaluations": st.lists(json_values, max_size=3),
        "applications": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(data=json_values | near_batches)
def test_the_reports_parser_answers_bad_input_with_a_wire_error(data):
    try:
        ReportBatch.from_json(data)
    except WireError as exc:
        assert isinstance(exc.reason, WireErrorReason)


def test_reports_round_trip():
    batch = ReportBatch(
        "K-1",
        (SUMMARY,),
        (EvaluationReport("e-1", "442000-BM-0001", 2, 1717740100.0, "T1", ("too_slow",)),),
        (ApplicationUpdate(SUMMARY.tx_id, ApplicationStatus.DONE, 1717900000.0, 4),),
    )
    assert ReportBatch.from_json(batch.to_json()) == batch
    assert len(batch) == 3


@pytest.mark.parametrize(
    "change, field",
    [
        ({"refunded_fen": 1}, "refunded_fen"),  # more than was taken
        ({"amount_fen": -5}, "amount_fen"),
        ({"revision": 0}, "revision"),
        ({"outcome": "vanished"}, "outcome"),
        ({"started_at": float("inf")}, "started_at"),
        ({"time_limit_days": 400}, "time_limit_days"),
        ({"tx_id": "有"}, "tx_id"),
    ],
)
def test_a_summary_that_cannot_be_true_is_refused_with_its_field(change, field):
    with pytest.raises(WireError) as refused:
        TransactionSummary.from_json({**SUMMARY.to_json(), **change})
    assert refused.value.field == field


def test_an_evaluation_carries_a_level_of_one_to_five_and_tags_not_words():
    good = EvaluationReport("e-1", "442000-BM-0001", 5, 1.0).to_json()
    for bad in ({"level": 6}, {"level": 0}, {"tags": ["slow service!"]}, {"tags": ["a"] * 9}):
        with pytest.raises(WireError):
            EvaluationReport.from_json({**good, **bad})
    assert "comment" not in good


def test_heartbeat_items_are_optional_and_ignored_by_the_first_release():
    hb = Heartbeat("K-1", 1, 1.0, 15.0, items=(ItemAvailability("442000-BM-0001", False, "x"),))
    data = hb.to_json()
    assert Heartbeat.from_json(data) == hb
    assert Heartbeat.from_json({k: v for k, v in data.items() if k != "items"}).items == ()
    # The released parsers take what they know and leave the rest: an unknown field is no error.
    assert wire_v1.Heartbeat.from_json({**data, "wire_version": 1}).kiosk_id == "K-1"
