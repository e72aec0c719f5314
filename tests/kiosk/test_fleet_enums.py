"""Issue 11: health, event kinds and reasons are enums end to end in the kiosk's fleet code,
compared as members, never through their strings (`str(kind) == "lost"`,
`health.value == "fault"`): a renamed member then fails mypy instead of silently never matching."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _through_a_string(node: ast.expr) -> bool:
    """`str(x)` or `x.value`: an enum member turned into its string."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "str":
        return True
    return isinstance(node, ast.Attribute) and node.attr == "value"


def string_comparisons(source: str) -> list[int]:
    """Lines comparing `str(x)` or `x.value` with a string literal."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        literal = any(isinstance(o, ast.Constant) and isinstance(o.value, str) for o in operands)
        if literal and any(_through_a_string(o) for o in operands):
            lines.append(node.lineno)
    return lines


def test_the_fleet_code_compares_enum_members_not_strings():
    found = {
        path.name: lines
        for path in sorted((ROOT / "kiosk").glob("fleet_*.py"))
        if (lines := string_comparisons(path.read_text()))
    }
    assert found == {}


def test_the_check_sees_both_shapes():
    source = (
        'if str(event.kind) == "status_changed" and event.status.health.value == "fault":\n'
        "    pass\n"
        "if event.kind is DeviceEventKind.LOST:\n"
        "    pass\n"
    )
    assert string_comparisons(source) == [1, 1]  # two comparisons on line 1, none on line 3
    assert string_comparisons('ok = health.value == "fault"\n') == [1]
