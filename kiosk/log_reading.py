"""The kiosk's log read back (kiosk.log and its rotated files, oldest line first), filtered by
the context the code logged: what `kiosk-journal log` and `kiosk-journal show` print."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kiosk.logs import LOG_FILE, rotated_logs
from wire.log_lines import LogLine, read_lines


@dataclass(frozen=True)
class LogFilter:
    transaction: str = ""
    device: str = ""
    level: str = ""           # this level and above
    contains: str = ""        # in the message

    def passes(self, line: LogLine) -> bool:
        if self.transaction and line.context.get("transaction") != self.transaction:
            return False
        if self.device and line.context.get("device") != self.device:
            return False
        if self.level and not line.at_least(self.level):
            return False
        return not self.contains or self.contains in line.msg


def log_files(log_dir: Path) -> list[Path]:
    """kiosk.log.N ... kiosk.log.1, kiosk.log: oldest first (RotatingFileHandler's order)."""
    current = log_dir / LOG_FILE
    return [p for _, p in reversed(rotated_logs(log_dir))] + ([current] if current.exists() else [])


def _lines(log_dir: Path) -> Iterator[LogLine]:
    for path in log_files(log_dir):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:   # rotated away while read
            continue
        yield from read_lines(text)


def read_log(log_dir: Path, wanted: LogFilter, limit: int | None = None) -> list[LogLine]:
    """The lines that pass `wanted`, oldest first; the newest `limit` of them if given."""
    found = [line for line in _lines(log_dir) if wanted.passes(line)]
    return found[-limit:] if limit else found
