"""Logging set-up: every handler masks personal data; the kiosk keeps a rotating log file."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from kiosk.privacy import PersonalDataFilter

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def setup_logging(log_dir: Path, level: int = logging.INFO) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    root.setLevel(level)
    # Libraries that log through the root logger before this (python-escpos does) leave a
    # default handler behind, which would print every line twice and unmasked.
    for handler in list(root.handlers):
        root.removeHandler(handler)
    masking = PersonalDataFilter()
    file_handler = logging.handlers.RotatingFileHandler(
        log_dir / "kiosk.log", maxBytes=5_000_000, backupCount=5, encoding="utf-8"
    )
    console = logging.StreamHandler()
    for handler in (file_handler, console):
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(masking)
        root.addHandler(handler)
