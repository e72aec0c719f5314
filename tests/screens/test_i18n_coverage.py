"""Every text key the code uses is defined in both languages, every defined key is used, and no
citizen-visible text in the screens or the steps bypasses kiosk.i18n.

"Used" is computed from the code itself (an AST scan of string literals and of f-string
prefixes such as f"reason.{...}"), so keys that other branches add are picked up by this test
without a list to keep in step.
"""

from __future__ import annotations

import ast
import re
from dataclasses import fields
from pathlib import Path

from drivers.document_scan import ScanFailure
from drivers.face_quality import FaceHint
from kiosk.flow import Devices, Reason
from kiosk.i18n import LANGUAGES, TEXTS
from kiosk.viewmodel import Volume
from kiosk.village_agent import REFUSAL_KEYS
from wire.videocall import EndReason

ROOT = Path(__file__).resolve().parents[2]
CODE = [p for folder in ("kiosk", "screens") for p in sorted((ROOT / folder).rglob("*.py"))
        if not (p.parent == ROOT / "kiosk" and p.name.startswith("i18n"))]
# Citizen-visible text lives in these; a literal with Chinese in it there is a bypass.
VISIBLE = [*sorted((ROOT / "screens").glob("*.py")), ROOT / "kiosk/steps.py",
           ROOT / "kiosk/flow_engine.py", ROOT / "kiosk/session.py"]
# Keys built at run time from an enum's values: prefix -> every value it can take.
DYNAMIC = {
    "reason.": {r.value for r in Reason},
    "face.hint.": {h.value for h in FaceHint},
    "scan.problem.": {s.value for s in ScanFailure},
    "unavailable.device.": {f.name for f in fields(Devices)},
    "common.sound.": {v.value for v in Volume},
    "call.end.": {r.value for r in EndReason},
    "agent.refused.": set(REFUSAL_KEYS),
}
# Symbols that are not words: the PIN's dots, the progress bar's circled numbers.
SYMBOLS = re.compile(r"^[●①②③④⑤⑥⑦⑧⑨⑩]+$")
CJK = re.compile(r"[\u3400-\u9fff\uff01-\uff5e\u3000-\u303f]")


def literals(path: Path) -> tuple[set[str], set[str]]:
    """(string constants, f-string constant prefixes) in one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    strings, prefixes = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            strings.add(node.value)
        elif isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and \
                    first.value.endswith("."):
                prefixes.add(first.value)
    return strings, prefixes


def scan() -> tuple[set[str], set[str]]:
    strings, prefixes = set(), set()
    for path in CODE:
        s, p = literals(path)
        strings |= s
        prefixes |= p
    # kiosk/i18n.py's own functions use keys too (outside the TEXTS table itself).
    tree = ast.parse((ROOT / "kiosk/i18n.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            strings |= {n.value for n in ast.walk(node)
                        if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return strings, prefixes


# f-string prefixes that name widgets for the scripted citizen, not texts.
AUTOMATION_PREFIXES = {"service.", "option.", "key.", "progress."}


def key_prefixes(prefixes: set[str]) -> set[str]:
    """The f-string prefixes that build text keys (a namespace the texts use)."""
    namespaces = {key.split(".")[0] + "." for key in TEXTS}
    return {p for p in prefixes if any(p.startswith(ns) for ns in namespaces)} - \
        AUTOMATION_PREFIXES


def test_every_key_is_defined_in_every_language():
    missing = [(key, lang) for key, entry in TEXTS.items() for lang in LANGUAGES
               if not entry.get(lang)]
    assert missing == []


def test_every_dynamic_key_family_is_known_and_complete():
    _, prefixes = scan()
    unknown = key_prefixes(prefixes) - set(DYNAMIC)
    assert unknown == set(), f"a key built at run time from an unknown family: {unknown}"
    undefined = sorted(prefix + value for prefix, values in DYNAMIC.items()
                       for value in values if prefix + value not in TEXTS)
    assert undefined == []


def test_every_literal_that_names_a_key_is_defined():
    strings, _ = scan()
    namespaces = {key.split(".")[0] for key in TEXTS}
    looks_like_key = re.compile(r"^[a-z_]+(\.[a-z0-9_]+)+$")
    # Automation ids (names of widgets for the scripted citizen) share the dotted shape.
    suspects = {s for s in strings if looks_like_key.match(s) and s.split(".")[0] in namespaces}
    undefined = sorted(s for s in suspects
                       if s not in TEXTS and not _automation_id(s) and s not in NOT_TEXT)
    assert undefined == []


# Dotted names that are not texts: a sentinel verdict that is never shown.
NOT_TEXT = {"unavailable.not_fitted"}


def _automation_id(name: str) -> bool:
    return name.split(".")[-1] in {"start", "headline", "qr", "done", "continue", "stay",
                                   "leave", "close", "self_test", "back", "text", "busy",
                                   "countdown", "take", "heading", "agree", "decline",
                                   "language"}


def test_every_defined_key_is_used():
    strings, prefixes = scan()
    families = key_prefixes(prefixes)
    unused = sorted(key for key in TEXTS
                    if key not in strings and not any(key.startswith(p) for p in families))
    assert unused == []


def test_no_visible_text_bypasses_i18n():
    found = []
    for path in VISIBLE:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                        ast.AsyncFunctionDef))
                      and n.body and isinstance(n.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if id(node) in docstrings:
                continue
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    CJK.search(node.value) and not SYMBOLS.match(node.value):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
            if isinstance(node, ast.keyword) and node.arg == "text" and \
                    isinstance(node.value, ast.Constant) and isinstance(node.value.value, str) \
                    and re.search(r"[A-Za-z]{2}", node.value.value):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} text={node.value.value!r}")
    assert found == []


def test_the_checks_catch_a_bypass_and_an_unused_key(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('label.text = "请稍候"\nkey = "reason.no_such_reason"\n')
    strings, _ = literals(bad)
    assert "请稍候" in strings and CJK.search("请稍候")
    assert "reason.no_such_reason" not in TEXTS
