"""A catalog step's parameters as a typed object, made when the catalog is accepted.

Each step declares a frozen dataclass of its parameters (kiosk.steps and its neighbours); the
catalog's `params` object for that step must fit it: no unknown key (a typo such as `titel`),
every required key, each value of its declared type. A catalog that does not fit is refused at
load, never in the middle of a citizen's transaction; the step then reads `params.title`.

The types a field may have are the catalog's JSON ones: `str`, `int`, `float`, `bool`,
`JsonObject` (an object), `Text` (an object of language -> text), `Lines` (a list of objects),
`tuple[str, ...]`, `JsonValue` (any JSON value: a template or a request body), and `X | None`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar, Union

from kiosk.json_object import JsonObject, JsonValue

P = TypeVar("P")

Text = dict[str, str]  # language -> text, or a template of one
Lines = tuple[JsonObject, ...]  # a list of objects (receipt lines, materials, options)


class ParamsError(ValueError):
    """The catalog's params do not fit the step's declaration; the message says where."""


@dataclasses.dataclass(frozen=True)
class NoParams:
    """A step that takes no parameters."""


def params_of(cls: type[P], raw: object, where: str) -> P:
    """`raw` (a catalog step's `params`) as `cls`, or ParamsError naming `where` and the key."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{where}: params must be an object")
    # A field may read a key Python cannot name (`from`): its metadata's "key".
    fields = {f.metadata.get("key", f.name): f
              for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ParamsError(f"{where}: unknown parameter {unknown[0]!r} "
                          f"(known: {', '.join(sorted(fields)) or 'none'})")
    hints = typing.get_type_hints(cls)
    values: dict[str, object] = {}
    for key, field in fields.items():
        if key in raw:
            values[field.name] = _checked(hints[field.name], raw[key], f"{where}: {key}")
        elif field.default is dataclasses.MISSING and \
                field.default_factory is dataclasses.MISSING:
            raise ParamsError(f"{where}: parameter {key!r} is required")
    try:
        return cls(**values)
    except ParamsError as exc:   # a rule across fields (__post_init__)
        raise ParamsError(f"{where}: {exc}") from None


def _checked(kind: object, value: object, where: str) -> object:
    origin = typing.get_origin(kind)
    if origin in (Union, types.UnionType):
        for option in typing.get_args(kind):
            if option is type(None) and value is None:
                return None
        inner = [option for option in typing.get_args(kind) if option is not type(None)]
        return _checked(inner[0], value, where) if len(inner) == 1 else value
    if kind is JsonValue:
        return value
    if kind is bool:
        return _is(value, bool, where, "true or false")
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{where}: must be a whole number")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(f"{where}: must be a number")
        return float(value)
    if kind is str:
        return _is(value, str, where, "text")
    if origin is dict:
        checked = _is(value, dict, where, "an object")
        _, of = typing.get_args(kind)
        if of is str and not all(isinstance(v, str) for v in checked.values()):
            raise ParamsError(f"{where}: every value must be text")
        return dict(checked)
    if origin is tuple:
        items = _is(value, list, where, "a list")
        (of, _) = typing.get_args(kind)
        return tuple(_checked(of, item, f"{where}[{n}]") for n, item in enumerate(items))
    raise TypeError(f"{where}: a parameter type the catalog cannot carry: {kind!r}")


# Any: the value checked to be a `kind`, returned as the caller's type for it.
def _is(value: object, kind: type[Any], where: str, what: str) -> Any:
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        raise ParamsError(f"{where}: must be {what}")
    return value


@dataclasses.dataclass(frozen=True)
class StepDef(Generic[P]):
    """A step the catalog may name: what runs, and the parameters it declares (mypy checks
    that the step takes the parameters declared with it)."""

    name: str
    # The step's run is a kiosk.step_registry.FlowRun, which imports far more than this module
    # may. Any: that run.
    run: Callable[[Any, P], Awaitable[None]]
    params: type[P]

    def parse(self, raw: object, where: str) -> P:
        return params_of(self.params, raw, where)


# Any: each step has its own parameters' type.
StepLibrary = Mapping[str, StepDef[Any]]
