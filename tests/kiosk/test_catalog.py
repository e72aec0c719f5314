"""The catalog: the reference catalog validates; anything broken is refused, never cached."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.catalog import CatalogError, CatalogReason, parse_catalog
from kiosk.catalog_cache import CatalogCache
from kiosk.step_library import STEP_LIBRARY
from simulator.backends import reference_catalog

STEPS = STEP_LIBRARY


def reference() -> dict:
    return json.loads(reference_catalog())


def test_the_reference_catalog_describes_the_services():
    catalog = parse_catalog(reference_catalog(), STEPS)
    services = {item.service for item in catalog.items}
    assert {"endorsement", "utility_bill", "certificate_print", "queue_ticket",
            "materials_prereview", "credit_report", "guide"} <= services
    bill = next(i for i in catalog.items if i.service == "utility_bill")
    assert bill.takes_payment and [s.step for s in bill.steps][:3] == [
        "enter_account",
        "lookup",
        "confirm_amount",
    ]
    queue = next(i for i in catalog.items if i.service == "queue_ticket")
    assert not queue.takes_payment


def _kiosk_item(data: dict) -> dict:
    return next(item for item in data["items"] if item.get("steps"))


@pytest.mark.parametrize(
    "mutate,reason",
    [
        (lambda d: d.update(schema="kiosk-catalog/9"), CatalogReason.UNKNOWN_SCHEMA),
        (lambda d: d["items"][0].pop("legal_basis"), CatalogReason.MALFORMED),
        (lambda d: d["items"][0].update(handling_level="galaxy"), CatalogReason.MALFORMED),
        (
            lambda d: _kiosk_item(d)["steps"].append({"step": "launch_rocket"}),
            CatalogReason.UNKNOWN_STEP,
        ),
        (lambda d: d["items"].append(d["items"][0]), CatalogReason.MALFORMED),
        (lambda d: d["items"][0]["time_limit"].update(promised=-1), CatalogReason.MALFORMED),
        (lambda d: d["items"][0].update(fee={"kind": "fixed"}), CatalogReason.MALFORMED),
        (lambda d: d["items"][0].update(fee={"kind": "free", "amount_fen": 5}),
         CatalogReason.MALFORMED),
        (lambda d: d["items"][0]["materials"][0].update(form="photocopy"),
         CatalogReason.MALFORMED),
        (lambda d: d["items"][0].update(delivery=["pigeon"]), CatalogReason.MALFORMED),
        (lambda d: d["items"][0].update(supervision_phone="call us"), CatalogReason.MALFORMED),
    ],
)
def test_a_broken_catalog_is_refused_with_its_reason(mutate, reason):
    data = reference()
    mutate(data)
    with pytest.raises(CatalogError) as err:
        parse_catalog(json.dumps(data), STEPS)
    assert err.value.reason is reason


def _steps(data: dict, service: str) -> list[dict]:
    return next(i for i in data["items"] if i["service"] == service)["steps"]


def _move_pay_after_submit(data: dict) -> None:
    steps = _steps(data, "utility_bill")
    pay = next(s for s in steps if s["step"] == "pay")
    steps.remove(pay)
    steps.insert(next(i for i, s in enumerate(steps) if s["step"] == "submit") + 1, pay)


@pytest.mark.parametrize("mutate", [
    _move_pay_after_submit,
    lambda d: _steps(d, "endorsement").remove(
        next(s for s in _steps(d, "endorsement") if s["step"] == "pay")),
    lambda d: next(i for i in d["items"] if i["service"] == "credit_report")["fee"].update(
        kind="free"),
], ids=["submits-before-paying", "never-pays", "priced-but-says-free"])
def test_a_priced_item_that_does_not_pay_before_it_submits_is_refused(mutate):
    data = reference()
    mutate(data)
    with pytest.raises(CatalogError) as err:
        parse_catalog(json.dumps(data), STEPS)
    assert err.value.reason is CatalogReason.UNPAID_SUBMISSION


def test_not_json_is_malformed():
    with pytest.raises(CatalogError) as err:
        parse_catalog(b"\xff<html>gateway error</html>", STEPS)
    assert err.value.reason is CatalogReason.MALFORMED


def test_the_cache_keeps_the_last_good_catalog(tmp_path):
    cache = CatalogCache(tmp_path / "catalog.json", STEPS)
    assert cache.load() is None
    good = cache.accept(reference_catalog())
    broken = reference()
    broken["items"][0]["fee"] = {"kind": "whatever"}
    with pytest.raises(CatalogError):
        cache.accept(json.dumps(broken).encode())
    with pytest.raises(CatalogError):
        cache.accept(b"")
    assert cache.load() == good


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(path_choice=st.integers(min_value=0, max_value=10_000), value=json_values)
def test_fuzzed_catalogs_raise_only_catalog_errors(path_choice, value):
    data = reference()
    # Every kiosk item and a few guide-only ones: the whole hall would only slow each example.
    data["items"] = [i for i in data["items"] if i.get("steps")] + \
        [i for i in data["items"] if not i.get("steps")][:5]
    # Replace one field somewhere in the document with an arbitrary JSON value.
    targets = []

    def walk(node):
        if isinstance(node, dict):
            for key in node:
                targets.append((node, key))
                walk(node[key])
        elif isinstance(node, list):
            for index in range(len(node)):
                targets.append((node, index))
                walk(node[index])

    walk(data)
    container, key = targets[path_choice % len(targets)]
    container[key] = value
    try:
        parse_catalog(json.dumps(data), STEPS)
    except CatalogError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_catalog_errors(raw):
    with pytest.raises(CatalogError):
        parse_catalog(raw, STEPS)
