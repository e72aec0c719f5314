"""Each catalog step declares its parameters (kiosk.step_declarations); the catalog is checked
against them when it is accepted, so a typo is refused at load, not in a citizen's transaction.
Driven by the simulator's published reference catalog, changed as a catalog author might."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk import evaluation, steps, steps_documents, steps_mrz, steps_services
from kiosk.catalog import CatalogError, CatalogReason, parse_catalog
from kiosk.step_library import STEP_LIBRARY
from kiosk.step_params import ParamsError, params_of
from simulator.backends import reference_catalog

REFERENCE = json.loads(reference_catalog())


def _first(step_name: str) -> tuple[dict, int, dict]:
    """(item, step number, step) of the reference catalog's first use of `step_name`."""
    for item in REFERENCE["items"]:
        for number, step in enumerate(item.get("steps", ()), start=1):
            if step["step"] == step_name:
                return item, number, step
    raise AssertionError(f"the reference catalog never uses {step_name}")


def _refused(step_name: str, change) -> CatalogError:
    catalog = copy.deepcopy(REFERENCE)
    item, number, _ = _first(step_name)
    [changed] = [i for i in catalog["items"] if i["code"] == item["code"]]
    change(changed["steps"][number - 1].setdefault("params", {}))
    with pytest.raises(CatalogError) as refused:
        parse_catalog(json.dumps(catalog), STEP_LIBRARY)
    assert refused.value.reason is CatalogReason.BAD_STEP_PARAMS
    assert f"{item['code']} step {number} {step_name}" in refused.value.detail
    return refused.value


def test_the_reference_catalog_fits_and_its_steps_get_their_declared_parameters():
    catalog = parse_catalog(reference_catalog(), STEP_LIBRARY)
    used = {spec.step for item in catalog.items for spec in item.steps}
    assert used <= STEP_LIBRARY.keys()
    for item in catalog.items:
        for spec in item.steps:
            assert isinstance(spec.params, STEP_LIBRARY[spec.step].params)
    _, _, receipt = _first("print_receipt")
    spec = next(s for i in catalog.items for s in i.steps if s.raw == receipt["params"])
    assert spec.params.title == receipt["params"]["title"]


def test_a_misspelt_parameter_is_refused_with_where_it_is():
    def misspell(params):
        params["titel"] = params.pop("title")

    refused = _refused("print_receipt", misspell)
    assert "unknown parameter 'titel'" in refused.detail and "title" in refused.detail


def test_a_missing_required_parameter_is_refused():
    refused = _refused("submit", lambda params: params.pop("backend"))
    assert "'backend' is required" in refused.detail


def test_a_value_of_the_wrong_type_is_refused():
    refused = _refused("print_receipt", lambda params: params.update(optional="no"))
    assert "optional: must be true or false" in refused.detail


def test_rules_across_parameters_are_checked_at_load():
    refused = _refused("enter_account", lambda params: params.update(pattern="[0-9"))
    assert "pattern is not a regular expression" in refused.detail
    refused = _refused("choose_option", lambda params: params.update(options=[{"code": "a"}]))
    assert "either options or options_from" in refused.detail


def test_the_library_lists_every_step_function_once_with_a_frozen_declaration():
    modules = (steps, steps_services, steps_documents, steps_mrz, evaluation)
    for name, definition in STEP_LIBRARY.items():
        assert definition.name == name
        assert any(getattr(m, definition.run.__name__, None) is definition.run for m in modules)
        assert dataclasses.is_dataclass(definition.params)
        assert definition.params.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert len({d.run for d in STEP_LIBRARY.values()}) == len(STEP_LIBRARY)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=3),
    max_leaves=10)


@given(step=st.sampled_from(sorted(STEP_LIBRARY)),
       raw=st.dictionaries(st.sampled_from(["title", "into", "lines", "backend", "path", "from",
                                            "options", "options_from", "label", "qr", "copies",
                                            "categories", "materials", "pattern", "optional",
                                            "page_timeout_s", "record", "of", "x"]),
                           json_values, max_size=5))
def test_any_params_object_is_accepted_or_refused_with_a_reason(step, raw):
    definition = STEP_LIBRARY[step]
    try:
        parsed = params_of(definition.params, raw, f"item step 1 {step}")
    except ParamsError as exc:
        assert str(exc).startswith(f"item step 1 {step}: ")
    else:
        assert isinstance(parsed, definition.params)
