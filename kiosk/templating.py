"""Values from a flow's state in catalog templates: "{bill.payee}", "{tx.amount_fen|yuan}".

A template that is exactly one placeholder without a filter yields the raw value (an int
stays an int); anything else yields text. Unknown paths raise TemplateError.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from kiosk.i18n import format_fen, translate
from kiosk.json_object import JsonObject, JsonValue
from kiosk.privacy import mask

_TOKEN = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)(?:\|([a-z]+))?\}")


class TemplateError(Exception):
    pass


def _lookup(state: JsonObject, path: str) -> JsonValue:
    value: JsonValue = state
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif hasattr(value, part) and not part.startswith("_"):
            value = getattr(value, part)
        else:
            raise TemplateError(f"no value for {path}")
    return value


def _both(key: str, **params: object) -> str:
    return f"{translate(key, 'zh', **params)} / {translate(key, 'en', **params)}"


# "yuan" is the Chinese amount ("86.50 元"), "cny" the English one ("CNY 86.50"): a catalog's
# English text uses "cny" so no "元" appears in English.
_FILTERS: dict[str, Callable[[JsonValue], str]] = {
    "yuan": lambda v: format_fen(int(v), "zh"), "cny": lambda v: format_fen(int(v), "en"),
    "workdays": lambda v: _both("common.working_days", days=int(v)),
    "mask": lambda v: mask(str(v)), "str": str}


def render(template: JsonValue, state: JsonObject) -> JsonValue:
    """Renders strings, and the strings inside dicts and lists, against `state`."""
    if isinstance(template, dict):
        return {k: render(v, state) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, state) for v in template]
    if not isinstance(template, str):
        return template
    whole = _TOKEN.fullmatch(template)
    if whole and not whole.group(2):
        return _lookup(state, whole.group(1))

    def substitute(match: re.Match[str]) -> str:
        value = _lookup(state, match.group(1))
        name = match.group(2)
        if name:
            if name not in _FILTERS:
                raise TemplateError(f"unknown filter {name}")
            return str(_FILTERS[name](value))
        return str(value)

    return _TOKEN.sub(substitute, template)
