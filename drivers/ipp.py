"""IPP/2.0 (RFC 8010 encoding, RFC 8011 model) for an A4 office printer: the message codec,
an HTTP transport, and the few operations a kiosk needs (Print-Job, Get-Job-Attributes,
Get-Printer-Attributes, Cancel-Job).

Why our own small codec rather than pycups or pyipp: pycups needs a CUPS scheduler on the
kiosk in front of the printer, and pyipp is an asyncio client built for monitoring (no job
submission in its public API); an IPP Everywhere printer needs neither. The codec below is
~150 lines, synchronous (the peripheral runs it on its worker thread), and fuzzed.

    message   version(2) operation-or-status(2) request-id(4) groups end-tag(0x03) [data]
    group     delimiter-tag(1) attribute*
    attribute value-tag(1) name-length(2) name value-length(2) value, then for each further
              value of a 1setOf: value-tag(1) 0x0000 value-length(2) value      (RFC 8010 §3.1)
    collection begCollection(0x34) ... memberAttrName(0x4A) + value ... endCollection(0x37)
"""

from __future__ import annotations

import http.client
import struct
import urllib.parse
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

# An IPP attribute value: an integer, a boolean, text, bytes, a resolution or a range (tuples), a
# collection (a dict of member values), as RFC 8010 section 3.5 encodes them. Any: that union,
# read by each attribute's caller as the type its attribute has.
IppValue = Any


class Operation(IntEnum):
    PRINT_JOB = 0x0002
    CANCEL_JOB = 0x0008
    GET_JOB_ATTRIBUTES = 0x0009
    GET_PRINTER_ATTRIBUTES = 0x000B


class Tag(IntEnum):
    OPERATION = 0x01
    JOB = 0x02
    END = 0x03
    PRINTER = 0x04
    UNSUPPORTED_GROUP = 0x05
    UNSUPPORTED = 0x10
    UNKNOWN = 0x12
    NO_VALUE = 0x13
    INTEGER = 0x21
    BOOLEAN = 0x22
    ENUM = 0x23
    OCTET_STRING = 0x30
    DATETIME = 0x31
    RESOLUTION = 0x32
    RANGE = 0x33
    BEGIN_COLLECTION = 0x34
    TEXT_WITH_LANGUAGE = 0x35
    NAME_WITH_LANGUAGE = 0x36
    END_COLLECTION = 0x37
    TEXT = 0x41
    NAME = 0x42
    KEYWORD = 0x44
    URI = 0x45
    URI_SCHEME = 0x46
    CHARSET = 0x47
    LANGUAGE = 0x48
    MIME_TYPE = 0x49
    MEMBER_NAME = 0x4A


class JobState(IntEnum):
    PENDING = 3
    PENDING_HELD = 4
    PROCESSING = 5
    PROCESSING_STOPPED = 6
    CANCELED = 7
    ABORTED = 8
    COMPLETED = 9

    @property
    def final(self) -> bool:
        return self >= JobState.CANCELED


class PrinterState(IntEnum):
    IDLE = 3
    PROCESSING = 4
    STOPPED = 5


class IppFailure(IntEnum):
    """Why an IPP exchange failed (the peripheral maps these to device reasons)."""

    UNREACHABLE = 1  # no connection, or it broke
    MALFORMED = 2  # the answer is not an IPP message we can read
    REFUSED = 3  # the printer answered with an error status


class IppError(Exception):
    def __init__(self, failure: IppFailure, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.failure = failure
        self.status = status  # the IPP status-code when the printer answered


_INT_TAGS = {Tag.INTEGER, Tag.ENUM}
_DELIMITERS = {Tag.OPERATION, Tag.JOB, Tag.PRINTER, Tag.UNSUPPORTED_GROUP}
_OUT_OF_BAND = {Tag.UNSUPPORTED, Tag.UNKNOWN, Tag.NO_VALUE}


@dataclass(frozen=True)
class Message:
    """An IPP request or response: `code` is the operation-id or the status-code."""

    code: int
    request_id: int
    groups: tuple[tuple[int, dict[str, list[IppValue]]], ...] = ()
    data: bytes = b""
    version: tuple[int, int] = (2, 0)

    def group(self, tag: Tag) -> dict[str, list[IppValue]]:
        """The first group with `tag` (empty if none)."""
        return next((attrs for t, attrs in self.groups if t == tag), {})

    @property
    def ok(self) -> bool:
        return self.code < 0x0100  # successful-ok and its informational variants


# -- encoding -----------------------------------------------------------------------------

def _value(tag: Tag, value: IppValue) -> bytes:
    if tag in _INT_TAGS:
        return struct.pack(">i", int(value))
    if tag is Tag.BOOLEAN:
        return b"\x01" if value else b"\x00"
    if tag in _OUT_OF_BAND:
        return b""
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def _attribute(tag: Tag, name: str, values: list[IppValue]) -> bytes:
    out = bytearray()
    for index, value in enumerate(values):
        raw = _value(tag, value)
        label = name.encode("ascii") if index == 0 else b""
        out += struct.pack(">BH", tag, len(label)) + label + struct.pack(">H", len(raw)) + raw
    return bytes(out)


def encode(message: Message, tags: dict[str, Tag]) -> bytes:
    """`tags` names each attribute's value tag (a request's attributes are of known syntax)."""
    out = bytearray(struct.pack(">BBHI", *message.version, message.code, message.request_id))
    for group_tag, attributes in message.groups:
        out.append(group_tag)
        for name, values in attributes.items():
            out += _attribute(tags[name], name, values)
    out.append(Tag.END)
    return bytes(out) + message.data


# -- decoding (fuzzed: anything but an IppError is a bug) ----------------------------------

class _Reader:
    def __init__(self, raw: bytes) -> None:
        self.raw, self.pos = raw, 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.raw):
            raise IppError(IppFailure.MALFORMED, f"truncated at byte {self.pos}")
        chunk = self.raw[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def short(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])


def _decode_value(tag: int, raw: bytes) -> IppValue:
    if tag in _INT_TAGS:
        if len(raw) != 4:
            raise IppError(IppFailure.MALFORMED, f"integer of {len(raw)} bytes")
        return struct.unpack(">i", raw)[0]
    if tag == Tag.BOOLEAN:
        if len(raw) != 1:
            raise IppError(IppFailure.MALFORMED, "boolean size")
        return raw != b"\x00"
    if tag == Tag.RANGE and len(raw) == 8:
        return struct.unpack(">ii", raw)
    if tag == Tag.RESOLUTION and len(raw) == 9:
        return struct.unpack(">iib", raw)
    if tag in (Tag.OCTET_STRING, Tag.DATETIME, Tag.RESOLUTION, Tag.RANGE,
               Tag.TEXT_WITH_LANGUAGE, Tag.NAME_WITH_LANGUAGE) or tag in _OUT_OF_BAND:
        return raw
    return raw.decode("utf-8", "replace")


def _read_collection(reader: _Reader, depth: int) -> dict[str, list[IppValue]]:
    if depth > 8:
        raise IppError(IppFailure.MALFORMED, "collections nested too deep")
    members: dict[str, list[IppValue]] = {}
    name = ""
    while True:
        tag = reader.take(1)[0]
        reader.take(reader.short())  # member names are empty; the memberAttrName value names it
        raw = reader.take(reader.short())
        if tag == Tag.END_COLLECTION:
            return members
        if tag == Tag.MEMBER_NAME:
            name = raw.decode("utf-8", "replace")
            members.setdefault(name, [])
            continue
        if not name:
            raise IppError(IppFailure.MALFORMED, "collection value without a member name")
        value = _read_collection(reader, depth + 1) if tag == Tag.BEGIN_COLLECTION else \
            _decode_value(tag, raw)
        members[name].append(value)


def decode(raw: bytes) -> Message:
    """Parses an IPP message; raises IppError(MALFORMED) on anything it cannot read."""
    reader = _Reader(raw)
    major, minor, code, request_id = struct.unpack(">BBHI", reader.take(8))
    groups: list[tuple[int, dict[str, list[IppValue]]]] = []
    current: dict[str, list[IppValue]] | None = None
    name = ""
    while True:
        tag = reader.take(1)[0]
        if tag == Tag.END:
            break
        if tag in _DELIMITERS:
            current = {}
            groups.append((tag, current))
            continue
        if current is None or tag < 0x10:
            raise IppError(IppFailure.MALFORMED, f"value tag 0x{tag:02x} outside a group")
        name_length = reader.short()
        if name_length:
            name = reader.take(name_length).decode("utf-8", "replace")
            current[name] = []
        elif not name:
            raise IppError(IppFailure.MALFORMED, "additional value without an attribute")
        raw_value = reader.take(reader.short())
        value = _read_collection(reader, 1) if tag == Tag.BEGIN_COLLECTION else \
            _decode_value(tag, raw_value)
        current[name].append(value)
    return Message(code, request_id, tuple(groups), raw[reader.pos:], (major, minor))


# -- transport and operations ------------------------------------------------------------------

class HttpTransport:
    """IPP over HTTP: one POST of application/ipp per exchange (RFC 8010 §4)."""

    def __init__(self, uri: str, timeout: float = 10.0) -> None:
        parsed = urllib.parse.urlsplit(uri.replace("ipp://", "http://", 1))
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 631
        self.path = parsed.path or "/ipp/print"
        self.timeout = timeout

    def exchange(self, body: bytes) -> bytes:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request("POST", self.path, body, {"Content-Type": "application/ipp"})
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise IppError(IppFailure.UNREACHABLE, f"{self.host}:{self.port}: {exc}") from exc
        finally:
            connection.close()
        if response.status != 200:
            raise IppError(IppFailure.REFUSED, f"HTTP {response.status}")
        return payload


_REQUEST_TAGS = {
    "attributes-charset": Tag.CHARSET, "attributes-natural-language": Tag.LANGUAGE,
    "printer-uri": Tag.URI, "requesting-user-name": Tag.NAME, "job-name": Tag.NAME,
    "document-format": Tag.MIME_TYPE, "job-id": Tag.INTEGER, "requested-attributes": Tag.KEYWORD,
    "media": Tag.KEYWORD, "sides": Tag.KEYWORD, "copies": Tag.INTEGER,
}

PRINTER_ATTRIBUTES = ["printer-state", "printer-state-reasons", "printer-state-message",
                      "printer-make-and-model", "marker-names", "marker-levels",
                      "marker-low-levels", "media-ready", "printer-is-accepting-jobs",
                      "printer-supply", "printer-supply-description"]


@dataclass(frozen=True)
class PrinterStatus:
    state: PrinterState
    reasons: tuple[str, ...]  # printer-state-reasons, "none" left out
    make_and_model: str = ""
    markers: dict[str, int] = field(default_factory=dict)  # marker name -> level (%)
    media_ready: tuple[str, ...] = ()
    accepting: bool = True
    supplies: dict[str, int] = field(default_factory=dict)  # supply type -> level (%)

    def has(self, reason: str) -> bool:
        """True when `reason` is set at any severity (media-empty, media-empty-error...)."""
        return any(r == reason or r.startswith(reason + "-") for r in self.reasons)


@dataclass(frozen=True)
class JobStatus:
    job_id: int
    state: JobState
    reasons: tuple[str, ...]
    pages: int = 0


def supply_levels(values: list[IppValue]) -> dict[str, int]:
    """printer-supply values ("index=2;type=toner;level=75;...", PWG 5100.13) as type -> level;
    a value that does not say both is skipped."""
    levels: dict[str, int] = {}
    for value in values:
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        fields = dict(part.split("=", 1) for part in text.split(";") if "=" in part)
        try:
            levels[fields["type"]] = int(fields["level"])
        except (KeyError, ValueError):
            continue
    return levels


class IppPrinter:
    """One printer at `uri` (ipp://host:port/ipp/print) over a transport."""

    def __init__(self, uri: str, transport: HttpTransport | None = None,
                 user: str = "kiosk") -> None:
        self.uri = uri
        self.transport = transport or HttpTransport(uri)
        self.user = user
        self._request_id = 0

    def _call(self, operation: Operation, attributes: dict[str, list[IppValue]],
              data: bytes = b"") -> Message:
        self._request_id += 1
        head = {"attributes-charset": ["utf-8"], "attributes-natural-language": ["zh-cn"],
                "printer-uri": [self.uri], "requesting-user-name": [self.user], **attributes}
        request = Message(operation, self._request_id, ((Tag.OPERATION, head),), data)
        answer = decode(self.transport.exchange(encode(request, _REQUEST_TAGS)))
        if not answer.ok:
            message = answer.group(Tag.OPERATION).get("status-message", [""])[0]
            raise IppError(IppFailure.REFUSED, f"status 0x{answer.code:04x} {message}",
                           answer.code)
        return answer

    def status(self) -> PrinterStatus:
        attrs = self._call(Operation.GET_PRINTER_ATTRIBUTES,
                           {"requested-attributes": PRINTER_ATTRIBUTES}).group(Tag.PRINTER)
        try:
            state = PrinterState(attrs["printer-state"][0])
        except (KeyError, IndexError, ValueError) as exc:
            raise IppError(IppFailure.MALFORMED, "no printer-state") from exc
        names = [str(n) for n in attrs.get("marker-names", [])]
        levels = [v for v in attrs.get("marker-levels", []) if isinstance(v, int)]
        return PrinterStatus(
            state,
            tuple(str(r) for r in attrs.get("printer-state-reasons", []) if r != "none"),
            str(attrs.get("printer-make-and-model", [""])[0]),
            dict(zip(names, levels, strict=False)),
            tuple(str(m) for m in attrs.get("media-ready", [])),
            bool(attrs.get("printer-is-accepting-jobs", [True])[0]),
            supply_levels(attrs.get("printer-supply", [])),
        )

    def print_job(self, document: bytes, job_name: str,
                  document_format: str = "application/pdf") -> int:
        """Submits one document; returns the printer's job-id."""
        answer = self._call(Operation.PRINT_JOB, {"job-name": [job_name],
                                                 "document-format": [document_format]},
                            document)
        try:
            return int(answer.group(Tag.JOB)["job-id"][0])
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise IppError(IppFailure.MALFORMED, "no job-id in the answer") from exc

    def job(self, job_id: int) -> JobStatus:
        attrs = self._call(Operation.GET_JOB_ATTRIBUTES, {"job-id": [job_id]}).group(Tag.JOB)
        try:
            state = JobState(attrs["job-state"][0])
        except (KeyError, IndexError, ValueError) as exc:
            raise IppError(IppFailure.MALFORMED, "no job-state") from exc
        pages = attrs.get("job-impressions-completed", [0])[0]
        return JobStatus(job_id, state,
                         tuple(str(r) for r in attrs.get("job-state-reasons", []) if r != "none"),
                         pages if isinstance(pages, int) else 0)

    def cancel(self, job_id: int) -> None:
        self._call(Operation.CANCEL_JOB, {"job-id": [job_id]})
