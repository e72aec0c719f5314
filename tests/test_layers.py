"""The layer rules of ARCHITECTURE.md: imports may only go down."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"kiosk", "drivers", "peripherals", "screens", "provisioning", "simulator", "fleet",
            "wire", "scenarios"}
FORBIDDEN = {
    "drivers": PACKAGES - {"drivers"},
    "peripherals": PACKAGES - {"peripherals", "drivers"},
    "screens": {"peripherals", "drivers", "simulator", "provisioning", "fleet", "scenarios"},
    "simulator": PACKAGES - {"simulator"},
    "kiosk": {"screens", "simulator", "provisioning", "fleet", "scenarios"},
    # The operators' server shares only the wire schema with the kiosk (ARCHITECTURE.md).
    "fleet": PACKAGES - {"fleet", "wire"},
    "wire": PACKAGES - {"wire"},
}
# The composition root may wire the screens and the simulator together.
ALLOWED = {"kiosk/app.py", "kiosk/cli.py", "kiosk/main.py"}
# Known crossings, each with why, to be moved away (not new ones). None left: the update
# bundle's manifest, checks and outcomes that the fleet's rollouts verify moved to wire/update.
KNOWN_CROSSINGS: set[tuple[str, str]] = set()


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


def _imports_with_module(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0], alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0], node.module
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            yield node.lineno, "<relative>", ""


def crossings(root: Path) -> list[str]:
    found = []
    for package, forbidden in FORBIDDEN.items():
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if rel in ALLOWED:
                continue
            for lineno, name, module in _imports_with_module(path):
                if any(package == p and (module + ".").startswith(m + ".")
                       for p, m in KNOWN_CROSSINGS):
                    continue
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
        ("fleet", "kiosk"),
        ("wire", "kiosk"),
        ("simulator", "scenarios"),
    ],
)
def test_the_check_catches_a_wrong_import(tmp_path, package, bad):
    (tmp_path / package).mkdir()
    (tmp_path / package / "bad.py").write_text(f"from {bad}.x import y\n")
    assert crossings(tmp_path) == [f"{package}/bad.py:1 imports {bad}"]


def package_graph(root: Path) -> dict[str, set[str]]:
    """Which of our packages each package imports (any import, also inside functions), the
    composition root aside: it sits above every layer to wire them together."""
    graph: dict[str, set[str]] = {package: set() for package in PACKAGES}
    for package in sorted(PACKAGES):
        for path in sorted((root / package).rglob("*.py")):
            if path.relative_to(root).as_posix() in ALLOWED:
                continue
            for _, name in imports_of(path):
                if name in PACKAGES and name != package:
                    graph[package].add(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle reachable in `graph`, each as the path that closes it."""
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            found.append(path[path.index(node):] + [node])
            return
        if node in done:
            return
        for target in sorted(graph.get(node, ())):
            visit(target, path + [node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    return found


def test_no_import_cycle_between_our_packages():
    assert cycles(package_graph(ROOT)) == []


def test_the_cycle_check_catches_a_cycle(tmp_path):
    for package, imported in (("wire", "fleet"), ("fleet", "wire")):
        (tmp_path / package).mkdir()
        (tmp_path / package / "m.py").write_text(f"def f():\n    import {imported}.x\n")
    assert cycles(package_graph(tmp_path)) == [["fleet", "wire", "fleet"]]


def _runtime_imports(tree: ast.Module):
    """Import statements that run (those under `if TYPE_CHECKING:` do not)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for child in node.body for inner in ast.walk(child))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skipped:
            yield node


def module_graph(root: Path) -> dict[str, set[str]]:
    """Which of our modules each module imports, anywhere in it (inside functions too)."""
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif node.level == 0 and node.module:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules
                           else node.module for a in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def test_no_import_cycle_between_our_modules():
    assert cycles(module_graph(ROOT)) == []


def test_the_module_cycle_check_sees_imports_inside_functions_not_type_checking(tmp_path):
    (tmp_path / "wire").mkdir()
    (tmp_path / "wire" / "a.py").write_text("def f():\n    from wire import b\n")
    (tmp_path / "wire" / "b.py").write_text("import wire.a\n")
    (tmp_path / "wire" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from wire.b import x\n")
    graph = module_graph(tmp_path)
    assert cycles(graph) == [["wire.a", "wire.b", "wire.a"]] and graph["wire.c"] == set()
