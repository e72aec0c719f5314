"""Nothing is attached after construction (issue 11): a collaborator that one of our classes
leaves as a placeholder in its `__init__` (None, or a lambda doing nothing) for somebody else
to fill in later is a seam a newcomer cannot see from the constructor, and a crash when the
filling-in is forgotten. Found over the AST: any assignment, outside the class's own `self`, to
an attribute that some class of ours initialises to such a placeholder."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("drivers", "peripherals", "wire", "fleet", "kiosk")

# The ones that may, and why: each is state told as it changes, not a collaborator.
TOLD_STATE = {
    "peripherals/base.py: self._keeper.sink":
        "set_event_sink is the subscription itself, on the peripheral's own status keeper",
    "kiosk/session.py: self.clock.item":
        "the item the citizen is being served, told to the clock as it starts and ends",
    "kiosk/agent_intents.py: self.clock.item":
        "the village agent's item ended: told to the clock, as the session does",
    "kiosk/session.py: self.catalog_cache.in_force":
        "the session's catalog property: the catalog in force is kept by its cache",
}


def _trees() -> dict[str, ast.Module]:
    return {str(path.relative_to(ROOT)): ast.parse(path.read_text(encoding="utf-8"))
            for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def _is_placeholder(value: ast.expr) -> bool:
    return (isinstance(value, ast.Constant) and value.value is None) or isinstance(value,
                                                                                   ast.Lambda)


def _assignments(node: ast.AST) -> list[tuple[ast.expr, ast.expr]]:
    pairs: list[tuple[ast.expr, ast.expr]] = []
    for st in ast.walk(node):
        if isinstance(st, ast.Assign):
            pairs += [(target, st.value) for target in st.targets]
        elif isinstance(st, ast.AnnAssign) and st.value is not None:
            pairs.append((st.target, st.value))
    return pairs


def _placeholders(trees: dict[str, ast.Module]) -> set[str]:
    names = set()
    for tree in trees.values():
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            for init in (f for f in cls.body
                         if isinstance(f, ast.FunctionDef) and f.name == "__init__"):
                for target, value in _assignments(init):
                    if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                            and target.value.id == "self" and _is_placeholder(value)):
                        names.add(target.attr)
    return names


def attached_after_construction() -> set[str]:
    trees = _trees()
    names = _placeholders(trees)
    found = set()
    for path, tree in trees.items():
        for target, _ in _assignments(tree):
            if (isinstance(target, ast.Attribute) and target.attr in names
                    and not (isinstance(target.value, ast.Name)
                             and target.value.id in ("self", "cls"))):
                found.add(f"{path}: {ast.unparse(target)}")
    return found


def test_no_collaborator_is_attached_after_construction():
    assert attached_after_construction() - TOLD_STATE.keys() == set()


def test_every_allowance_is_still_needed():
    assert TOLD_STATE.keys() - attached_after_construction() == set()
