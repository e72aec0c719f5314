"""Masking of personal data for logs, the journal and receipts."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import traceback

from wire.log_lines import context_attributes


def mask(value: str, keep_start: int = 0, keep_end: int = 2) -> str:
    """`C12345678` -> `*******78`; short values are masked whole."""
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[-keep_end:]


def pseudonym(value: str, key: bytes) -> str:
    """A keyed hash that links records of one document without revealing it."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:24]


# Document numbers, 18-digit ID numbers, MRZ lines and account numbers that may slip into a
# message.
_PATTERNS = (
    re.compile(r"\b\d{17}[\dXx]\b"),  # resident ID number
    re.compile(r"[A-Z0-9<]{30,44}"),  # an MRZ line
    re.compile(r"\b[A-Z]{1,2}\d{7,9}\b"),  # passport / permit number
    # A utility account or bill number, a bank card, a payment code: any run of 10+ digits on
    # its own (a URL path such as /bills/<account> in an access log). Order and transaction
    # numbers mix digits and letters and are kept: operators quote them.
    re.compile(r"\b\d{10,30}\b"),
)


class PersonalDataFilter(logging.Filter):
    """Masks anything shaped like personal data in every record that passes a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _masked(message)
        if masked != message:
            record.msg, record.args = masked, None
        # Context fields (`extra=`: a reason quoting a device's or backend's answer) are
        # written beside the message (wire.log_lines): masked the same way.
        for key in context_attributes(record):
            value = getattr(record, key)
            shown = _masked(value if isinstance(value, str) else str(value))
            if shown != str(value):
                setattr(record, key, shown)
        # A traceback carries its exception's message (a KeyError of an ID number, a parser's
        # complaint quoting its input): formatted here, masked, and kept where the handler's
        # formatter looks for it first.
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = _masked(
                "".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        elif record.exc_text:
            record.exc_text = _masked(record.exc_text)
        return True


def _masked(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: mask(m.group(0)), text)
    return text
