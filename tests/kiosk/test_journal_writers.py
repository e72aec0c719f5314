"""Only the transaction core writes the journal: no module outside `kiosk/transaction/` may
reach the writer, call a journal write, or write the journal's tables in SQL."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = "kiosk/transaction/"
# The writer's write methods; a call of one of these on anything named like the journal.
WRITES = {"transition", "annotate", "record_order", "record_refund", "refund_done", "learned",
          "defer", "create", "fold_ended"}
TABLE_WRITE = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b[^\"']*\b(transactions|transitions|"
                         r"orders|refunds|daily_totals)\b", re.IGNORECASE)
# The journal module itself creates and migrates its file. Tests and benchmarks set up their own
# journals with the writer.
SQL_ALLOWED = {"kiosk/journal.py"}


def _journalish(node: ast.expr) -> bool:
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
    return "journal" in name.lower() or name == "writer"


def violations(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith((CORE, ".venv/", "tests/", "bench/")) or "/." in f"/{rel}":
            continue
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and any(
                    a.name == "JournalWriter" for a in node.names):
                found.append(f"{rel}:{node.lineno} imports JournalWriter")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in WRITES and _journalish(node.func.value):
                found.append(f"{rel}:{node.lineno} calls {node.func.attr} on the journal")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    rel not in SQL_ALLOWED and TABLE_WRITE.search(node.value):
                found.append(f"{rel}:{node.lineno} writes a journal table in SQL")
    return found


def test_only_the_transaction_core_writes_the_journal():
    assert violations(ROOT) == []


def test_the_check_catches_a_write_from_elsewhere(tmp_path):
    (tmp_path / "kiosk").mkdir()
    (tmp_path / "kiosk" / "rogue.py").write_text(
        "from kiosk.transaction import JournalWriter\n"
        "def f(ctx, tx):\n"
        "    ctx.journal.transition(tx, 'cancelled')\n"
        "    db.execute('UPDATE transactions SET state = ?')\n")
    assert violations(tmp_path) == [
        "kiosk/rogue.py:1 imports JournalWriter",
        "kiosk/rogue.py:3 calls transition on the journal",
        "kiosk/rogue.py:4 writes a journal table in SQL",
    ]
