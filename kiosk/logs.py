"""Logging set-up: every handler masks personal data; the kiosk keeps a rotating log file.

kiosk.log holds one JSON object a line with the context the code logs (`transaction`, `device`,
`reason`...; wire.log_lines), read back by `kiosk-journal log` and uploaded to the fleet as is;
the console (stderr, the system journal) gets the same lines as text with key=value context.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from kiosk.config import RetentionConfig
from kiosk.privacy import PersonalDataFilter
from wire.log_lines import ContextFormatter, JsonLineFormatter

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


LOG_FILE = "kiosk.log"


def rotated_logs(log_dir: Path) -> list[tuple[int, Path]]:
    """(N, kiosk.log.N) for each rotated file RotatingFileHandler left, newest (1) first."""
    found = []
    for path in log_dir.glob(f"{LOG_FILE}.*"):
        suffix = path.name[len(LOG_FILE) + 1:]
        if suffix.isdigit():
            found.append((int(suffix), path))
    return sorted(found)


def setup_logging(
    log_dir: Path | None, level: int = logging.INFO, retention: RetentionConfig | None = None
) -> None:
    """The console (stderr) and, given `log_dir`, a rotating kiosk.log; both masked, at `level`.
    The file rotates at [retention] log_file_mb and keeps log_files old ones.

    Command-line tools pass no folder: they log to the console only.
    """
    keep = retention or RetentionConfig()
    root = logging.getLogger()
    root.setLevel(level)
    # Libraries that log through the root logger before this (python-escpos calls
    # logging.basicConfig() when imported) leave a default handler behind, which would print
    # every line twice and unmasked, and would keep a tool's own level from taking effect.
    for handler in list(root.handlers):
        root.removeHandler(handler)
    masking = PersonalDataFilter()
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                log_dir / LOG_FILE,
                maxBytes=int(keep.log_file_mb * 1_000_000),
                backupCount=keep.log_files,
                encoding="utf-8",
            )
        )
    handlers[0].setFormatter(ContextFormatter(FORMAT))
    if len(handlers) > 1:
        handlers[1].setFormatter(JsonLineFormatter())
    for handler in handlers:
        handler.addFilter(masking)
        root.addHandler(handler)
