"""The fleet server's log lines: each carries its context (kiosk, command, reason...) as key=value
(wire.log_lines, the kiosk's format too)."""

from __future__ import annotations

import logging

from wire.log_lines import ContextFormatter

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(ContextFormatter(FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
