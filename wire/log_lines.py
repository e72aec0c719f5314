"""Log lines with their context, written by the kiosk and the fleet server, read by the
technician's `kiosk-journal log` and the fleet's log upload.

Code logs its context as `extra=` fields (`transaction`, `device`, `reason`...); the standard
formatter drops them. Here they are kept:

- `JsonLineFormatter`: one JSON object a line, `{"ts", "level", "logger", "msg", <context>...,
  "exc"}`, for files a program reads back (the kiosk's kiosk.log, its uploaded bundles);
- `ContextFormatter`: the familiar text line with `key=value` context appended, for people
  reading a console or the system journal.

`parse_line` reads a line back, whatever it is: a JSON line, a text line written before the
kiosk logged JSON, or a torn last line; it never raises.

Masking personal data is the writer's job (kiosk.privacy.PersonalDataFilter, before any
formatter); nothing here looks at values.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field

# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}
# A JSON line's own keys; a context field of the same name is written as ctx_<name>.
ENVELOPE = ("ts", "level", "logger", "msg", "exc")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

Scalar = str | int | float | bool | None


def context_attributes(record: logging.LogRecord) -> list[str]:
    """The names of the record's context attributes (what its `extra=` set)."""
    return [key for key in vars(record) if key not in _STANDARD and not key.startswith("_")]


def record_context(record: logging.LogRecord) -> dict[str, Scalar]:
    """The record's context fields (its `extra=`), each a JSON scalar (anything else as text),
    named as written: an attribute named like an envelope key is written as ctx_<name>."""
    context: dict[str, Scalar] = {}
    for key in context_attributes(record):
        value = getattr(record, key)
        scalar = value if isinstance(value, (str, int, float, bool)) or value is None \
            else str(value)
        context[f"ctx_{key}" if key in ENVELOPE else key] = scalar
    return context


class JsonLineFormatter(logging.Formatter):
    """One JSON object a line; the time in local time with its offset, to the millisecond."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Scalar] = {
            "ts": dt.datetime.fromtimestamp(record.created).astimezone().isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(record_context(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["exc"] = (record.exc_text or "") + self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False)


class ContextFormatter(logging.Formatter):
    """The standard text line, then every context field as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = record_context(record)
        if context:
            line += " " + " ".join(f"{k}={_shown(v)}" for k, v in sorted(context.items()))
        return line


def _shown(value: Scalar) -> str:
    text = str(value)
    quoted = not text or any(c.isspace() or c in "\"'=" for c in text)
    return json.dumps(text, ensure_ascii=False) if quoted else text


@dataclass(frozen=True)
class LogLine:
    """One line read back. `structured` is False for a text line (`msg` is then the whole
    line, and `level` the level word found in it, if any)."""

    msg: str
    ts: str = ""
    level: str = ""
    logger: str = ""
    context: dict[str, Scalar] = field(default_factory=dict)
    exc: str = ""
    structured: bool = True

    def at_least(self, level: str) -> bool:
        """At `level` or above; a line of no known level always passes."""
        if self.level not in LEVELS:
            return True
        return LEVELS.index(self.level) >= LEVELS.index(level.upper())

    def text(self) -> str:
        """The line as a person reads it (ContextFormatter's shape)."""
        if not self.structured:
            return self.msg
        head = " ".join(part for part in (self.ts, self.level, self.logger, self.msg) if part)
        if self.context:
            head += " " + " ".join(f"{k}={_shown(v)}" for k, v in sorted(self.context.items()))
        return head + ("\n" + self.exc if self.exc else "")

    def as_json(self) -> dict[str, Scalar]:
        line: dict[str, Scalar] = {"ts": self.ts, "level": self.level, "logger": self.logger,
                                   "msg": self.msg}
        line.update(self.context)
        if self.exc:
            line["exc"] = self.exc
        return line


def parse_line(raw: str) -> LogLine:
    """A line of a log file or bundle, without its newline. Never raises."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict) and all(isinstance(data.get(k), str) for k in ENVELOPE[:4]):
        context = {k: v for k, v in data.items() if k not in ENVELOPE
                   and (isinstance(v, (str, int, float, bool)) or v is None)}
        exc = data.get("exc")
        return LogLine(msg=data["msg"], ts=data["ts"], level=data["level"],
                       logger=data["logger"], context=context,
                       exc=exc if isinstance(exc, str) else "")
    words = raw.split(maxsplit=3)
    level = next((w for w in words if w in LEVELS), "")
    return LogLine(msg=raw, level=level, structured=False)


def read_lines(text: str) -> list[LogLine]:
    """Every non-empty line of a log file's or bundle's text; a traceback's lines in a text
    log stay lines of their own."""
    return [parse_line(raw) for raw in text.splitlines() if raw.strip()]
