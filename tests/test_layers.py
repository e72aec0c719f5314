"""The layer rules of ARCHITECTURE.md: imports may only go down."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"kiosk", "drivers", "peripherals", "screens", "provisioning", "simulator", "fleet"}
FORBIDDEN = {
    "drivers": PACKAGES - {"drivers"},
    "peripherals": PACKAGES - {"peripherals", "drivers"},
    "screens": {"peripherals", "drivers", "simulator", "provisioning", "fleet"},
    "simulator": {"drivers", "peripherals", "screens", "kiosk", "provisioning"},
    "kiosk": {"screens", "simulator", "provisioning", "fleet"},
    "fleet": {"drivers", "peripherals", "screens", "simulator", "provisioning"},
}
# The composition root may wire the screens and the simulator together.
ALLOWED = {"kiosk/app.py", "kiosk/cli.py"}


def imports_of(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            yield node.lineno, "<relative>"


def crossings(root: Path) -> list[str]:
    found = []
    for package, forbidden in FORBIDDEN.items():
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if rel in ALLOWED:
                continue
            for lineno, name in imports_of(path):
                if name in forbidden or name == "<relative>":
                    found.append(f"{rel}:{lineno} imports {name}")
    return found


def test_no_import_crosses_a_layer_the_wrong_way():
    assert crossings(ROOT) == []


@pytest.mark.parametrize(
    "package,bad",
    [
        ("drivers", "kiosk"),
        ("simulator", "drivers"),
        ("screens", "peripherals"),
        ("peripherals", "kiosk"),
    ],
)
def test_the_check_catches_a_wrong_import(tmp_path, package, bad):
    (tmp_path / package).mkdir()
    (tmp_path / package / "bad.py").write_text(f"from {bad}.x import y\n")
    assert crossings(tmp_path) == [f"{package}/bad.py:1 imports {bad}"]
