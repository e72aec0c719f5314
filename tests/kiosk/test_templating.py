import pytest

from kiosk.templating import TemplateError, render

STATE = {"bill": {"payee": "水务", "amount_due_fen": 8650}, "account": "3100123456789"}


def test_a_lone_placeholder_keeps_its_type():
    assert render("{bill.amount_due_fen}", STATE) == 8650


def test_filters_format_money_and_mask_identifiers():
    assert render("{bill.amount_due_fen|yuan}", STATE) == "86.50 元"
    assert render("户号 {account|mask}", STATE) == "户号 ***********89"


def test_nested_templates_render_inside_dicts_and_lists():
    assert render({"a": ["{bill.payee}", 3]}, STATE) == {"a": ["水务", 3]}


@pytest.mark.parametrize("template", ["{nope}", "{bill.missing}", "{bill.payee|shout}"])
def test_unknown_paths_and_filters_are_errors(template):
    with pytest.raises(TemplateError):
        render(template, STATE)
