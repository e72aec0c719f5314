"""A thin, typed layer over pyscard: list readers, check for a card, connect, transmit.

Every call blocks (pcscd round trips): run them in a worker thread, never on the
event loop. Every pyscard / PC/SC failure comes out as a `PcscError` subclass with a
`reason`; APDU contents are never logged.
"""

from __future__ import annotations

import enum
import logging
import time

from smartcard import scard
from smartcard.Exceptions import SmartcardException
from smartcard.System import readers as _pyscard_readers

log = logging.getLogger(__name__)


class PcscReason(enum.Enum):
    UNAVAILABLE = "unavailable"  # pcscd not reachable
    NO_READER = "no_reader"
    CARD_ABSENT = "card_absent"
    CARD_REMOVED = "card_removed"
    NOT_CONNECTED = "not_connected"
    FAILED = "failed"  # any other PC/SC failure; see `hresult`


class PcscError(Exception):
    reason: PcscReason = PcscReason.FAILED

    def __init__(self, message: str, *, hresult: int | None = None) -> None:
        super().__init__(message)
        self.hresult = hresult


class PcscUnavailable(PcscError):
    reason = PcscReason.UNAVAILABLE


class NoReader(PcscError):
    reason = PcscReason.NO_READER


class CardAbsent(PcscError):
    reason = PcscReason.CARD_ABSENT


class CardRemoved(PcscError):
    reason = PcscReason.CARD_REMOVED


class NotConnected(PcscError):
    reason = PcscReason.NOT_CONNECTED


def _u32(hresult: int) -> int:
    return hresult & 0xFFFFFFFF


_UNAVAILABLE = {_u32(scard.SCARD_E_NO_SERVICE), _u32(scard.SCARD_E_SERVICE_STOPPED)}
_NO_READER = {
    _u32(scard.SCARD_E_UNKNOWN_READER),
    _u32(scard.SCARD_E_READER_UNAVAILABLE),
    _u32(scard.SCARD_E_NO_READERS_AVAILABLE),
}
_ABSENT = {_u32(scard.SCARD_E_NO_SMARTCARD), _u32(scard.SCARD_W_UNRESPONSIVE_CARD)}
_REMOVED = {
    _u32(scard.SCARD_W_REMOVED_CARD),
    _u32(scard.SCARD_W_RESET_CARD),
    _u32(scard.SCARD_E_NO_SMARTCARD),
}


def _map(exc: BaseException, what: str, *, connected: bool = False) -> PcscError:
    """A typed error for a pyscard exception (or a failed hresult wrapped in one)."""
    hresult = getattr(exc, "hresult", None)
    code = _u32(hresult) if isinstance(hresult, int) and hresult not in (-1, 0) else None
    message = f"{what}: {exc}"
    if code in _UNAVAILABLE:
        return PcscUnavailable(message, hresult=code)
    if code in _NO_READER:
        return NoReader(message, hresult=code)
    if connected and code in _REMOVED:
        return CardRemoved(message, hresult=code)
    if code in _ABSENT or code == _u32(scard.SCARD_W_REMOVED_CARD):
        return CardAbsent(message, hresult=code)
    return PcscError(message, hresult=code)


def _check(hresult: int, what: str) -> None:
    if hresult != scard.SCARD_S_SUCCESS:
        raise _map(SmartcardException(hresult=hresult), what)


_POWERING_UP = {0x80100067 - (1 << 32), 0x80100067, 0x80100066 - (1 << 32), 0x80100066}
_POWER_UP_ATTEMPTS = 4


def list_readers() -> list[str]:
    """Names of the readers pcscd knows ([] when none). Raises PcscUnavailable."""
    try:
        return [str(r) for r in _pyscard_readers()]
    except SmartcardException as exc:
        raise _map(exc, "listing readers") from exc


def card_present(reader: str) -> bool:
    """Whether a card sits in `reader`, without waiting (SCardGetStatusChange, timeout 0)."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    _check(hresult, "establishing a PC/SC context")
    try:
        hresult, states = scard.SCardGetStatusChange(
            context, 0, [(reader, scard.SCARD_STATE_UNAWARE)]
        )
        if _u32(hresult) == _u32(scard.SCARD_E_TIMEOUT):
            hresult = scard.SCARD_S_SUCCESS
        _check(hresult, f"status of reader {reader!r}")
        event_state = states[0][1]
        if event_state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_IGNORE):
            raise NoReader(f"no reader named {reader!r}")
        return bool(event_state & scard.SCARD_STATE_PRESENT) and not (
            event_state & scard.SCARD_STATE_MUTE
        )
    finally:
        scard.SCardReleaseContext(context)


class PcscConnection:
    """One connection to the card in one reader, speaking short APDUs as bytes.

    This is the transport that protocol layers (`drivers.icao9303.IcaoReader`, later a
    secure-messaging wrapper) use: `transmit(apdu) -> (data, sw)`.
    """

    def __init__(self, *, removal_grace_s: float = 1.0) -> None:
        # after an unexplained transmit failure, how long to watch the reader for the
        # card leaving before calling it a plain PcscError (pcscd polls every 0.4 s)
        self.removal_grace_s = removal_grace_s
        self._connection = None
        self.reader: str | None = None
        self.apdu_count = 0

    def __repr__(self) -> str:
        return f"PcscConnection(reader={self.reader!r}, apdus={self.apdu_count})"

    @property
    def connected(self) -> bool:
        return self._connection is not None

    @property
    def atr(self) -> bytes:
        if self._connection is None:
            raise NotConnected("not connected")
        return bytes(self._connection.getATR())

    def connect(self, reader: str) -> None:
        """Connect to the card in `reader` (T=0 or T=1, shared). Raises NoReader, CardAbsent."""
        if self._connection is not None:
            self.disconnect()
        for attempt in range(_POWER_UP_ATTEMPTS):
            try:
                found = [r for r in _pyscard_readers() if str(r) == reader]
                if not found:
                    raise NoReader(f"no reader named {reader!r}")
                connection = found[0].createConnection()
                connection.connect()
                break
            except SmartcardException as exc:
                # A card laid on the reader a moment ago may still be powering up: pcscd
                # answers SCARD_W_UNPOWERED_CARD / UNRESPONSIVE_CARD until its ATR is in.
                powering_up = getattr(exc, "hresult", None) in _POWERING_UP
                if powering_up and attempt < _POWER_UP_ATTEMPTS - 1:
                    time.sleep(0.15 * (attempt + 1))
                    continue
                raise _map(exc, f"connecting to {reader!r}") from exc
        self._connection = connection
        self.reader = reader
        self.apdu_count = 0
        log.debug("connected to %r", reader)

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """Send one command APDU; return the response data and SW1-SW2 as an int."""
        connection = self._connection
        if connection is None:
            raise NotConnected("transmit without a connection")
        self.apdu_count += 1
        try:
            data, sw1, sw2 = connection.transmit(list(apdu))
        except SmartcardException as exc:
            error = _map(exc, "transmit", connected=True)
            if type(error) is PcscError and self._card_left():
                # e.g. vpcd: "Card returned no valid response" with hresult 0
                error = CardRemoved(f"transmit: card went away ({exc})", hresult=error.hresult)
            raise error from exc
        return bytes(data), (sw1 << 8) | sw2

    def _card_left(self) -> bool:
        """Whether the card leaves the reader within `removal_grace_s`."""
        deadline = time.monotonic() + self.removal_grace_s
        while True:
            try:
                if self.reader is None or not card_present(self.reader):
                    return True
            except PcscError:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def disconnect(self) -> None:
        """Release the card. Idempotent; never raises (the card may already be gone)."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.disconnect()
        except SmartcardException as exc:
            log.debug("disconnect from %r: %s", self.reader, exc)
        try:
            connection.release()
        except (SmartcardException, AttributeError) as exc:
            log.debug("release of %r: %s", self.reader, exc)

    def __enter__(self) -> PcscConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disconnect()
