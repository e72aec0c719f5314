"""Card presence on one PC/SC reader, watched through one long-lived context with
`SCardGetStatusChange` and a real time-out (pyscard's monitoring model, without its thread).

pyscard's own `CardMonitor` dies silently when pcscd restarts, and connecting from inside its
observer callback can deadlock; so the caller runs `ReaderWatcher.wait()` on its own worker
thread, in slices, and the watcher re-establishes its context by itself when pcscd went away
and came back. Blocking: never call it on the event loop. `cancel()` is the one call made from
another thread: a read queued behind a wait then starts at once (`SCardCancel`), instead of a
slice later.
"""

from __future__ import annotations

import enum
import logging
import threading
import time

from smartcard import scard

from drivers.pcsc import NoReader, PcscError, PcscUnavailable, _u32

log = logging.getLogger(__name__)

# pcscd gone (stopped, restarted: the old context is then invalid) -> a new context next time.
_CONTEXT_LOST = {
    _u32(scard.SCARD_E_NO_SERVICE),
    _u32(scard.SCARD_E_SERVICE_STOPPED),
    _u32(scard.SCARD_E_INVALID_HANDLE),
    _u32(scard.SCARD_F_COMM_ERROR),
}
# A wait that ended with nothing to say: its time was up, or `cancel()` cut it short.
_NOTHING_NEW = (_u32(scard.SCARD_E_TIMEOUT), _u32(scard.SCARD_E_CANCELLED))
_READER_GONE = scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_IGNORE
# PC/SC's pseudo-reader whose state changes when a reader is attached or removed (pcsc-lite).
_PNP_READER = "\\\\?PnP?\\Notification"


class CardPresence(enum.Enum):
    PRESENT = "present"
    ABSENT = "absent"
    NO_READER = "no_reader"  # pcscd runs, but no reader of that name is attached


class ReaderWatcher:
    """The presence of a card on the first reader whose name starts with `reader_prefix`."""

    def __init__(self, reader_prefix: str) -> None:
        self.reader_prefix = reader_prefix
        self.presence: CardPresence | None = None  # the last one seen; None before the first
        self.reader: str | None = None
        self._context: int | None = None
        self._state = scard.SCARD_STATE_UNAWARE
        self._pnp_state = scard.SCARD_STATE_UNAWARE
        self._lock = threading.Lock()   # `cancel` (any thread) against `wait` (the worker)
        self._waiting = False
        self._cut_short = False

    def cancel(self) -> None:
        """From any thread: the wait under way returns now as if its time were up, and so does
        the next one if it has not begun (nothing is lost: a change is seen by the next wait)."""
        with self._lock:
            self._cut_short = True
            context = self._context if self._waiting else None
        if context is not None:
            scard.SCardCancel(context)

    def wait(self, timeout_s: float) -> CardPresence | None:
        """Blocks until the card's presence changes or `timeout_s` passes; returns the new
        presence (the first call always returns one), None when nothing changed.

        Raises PcscUnavailable while pcscd is away; the next call tries a new context.
        """
        try:
            context = self._ensure_context()
            if self.reader is None:
                self.reader = self._find_reader(context)
            with self._lock:
                if self._cut_short:
                    self._cut_short, timeout_s = False, 0.0
                self._waiting = True
            try:
                presence = (self._wait_for_reader(context, timeout_s) if self.reader is None
                            else self._wait_on_reader(context, self.reader, timeout_s))
            finally:
                with self._lock:
                    self._waiting = self._cut_short = False
        except PcscUnavailable:
            self.drop()
            raise
        if presence is None or presence is self.presence:
            return None
        self.presence = presence
        return presence

    def drop(self) -> None:
        """Releases the context (a new one is made on the next `wait`)."""
        context, self._context = self._context, None
        self.reader, self.presence = None, None
        self._state = self._pnp_state = scard.SCARD_STATE_UNAWARE
        if context is not None:
            scard.SCardReleaseContext(context)

    close = drop

    # -- one step each ------------------------------------------------------------------------

    def _ensure_context(self) -> int:
        if self._context is None:
            hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            _raise_for(hresult, "establishing a PC/SC context")
            self._context = context
            log.info("PC/SC context established for %s", self.reader_prefix)
        return self._context

    def _find_reader(self, context: int) -> str | None:
        hresult, names = scard.SCardListReaders(context, [])
        if _u32(hresult) in (_u32(scard.SCARD_E_NO_READERS_AVAILABLE),):
            return None
        _raise_for(hresult, "listing readers")
        return next((str(n) for n in names if str(n).startswith(self.reader_prefix)), None)

    def _wait_on_reader(self, context: int, reader: str, timeout_s: float) -> CardPresence | None:
        hresult, states = scard.SCardGetStatusChange(
            context, int(timeout_s * 1000), [(reader, self._state)]
        )
        if _u32(hresult) in _NOTHING_NEW:
            return None
        if _u32(hresult) in (_u32(scard.SCARD_E_UNKNOWN_READER),
                             _u32(scard.SCARD_E_READER_UNAVAILABLE)):
            return self._reader_gone()
        _raise_for(hresult, f"status of reader {reader!r}")
        event_state = states[0][1]
        if event_state & _READER_GONE:
            return self._reader_gone()
        # The event state, counter included, is what pcscd compares against next time.
        self._state = event_state & ~scard.SCARD_STATE_CHANGED
        present = event_state & scard.SCARD_STATE_PRESENT and not (
            event_state & scard.SCARD_STATE_MUTE
        )
        return CardPresence.PRESENT if present else CardPresence.ABSENT

    def _reader_gone(self) -> CardPresence:
        self.reader, self._state = None, scard.SCARD_STATE_UNAWARE
        return CardPresence.NO_READER

    def _wait_for_reader(self, context: int, timeout_s: float) -> CardPresence | None:
        """No reader yet: waits on the PnP pseudo-reader for one to be attached."""
        hresult, states = scard.SCardGetStatusChange(
            context, int(timeout_s * 1000), [(_PNP_READER, self._pnp_state)]
        )
        if _u32(hresult) == _u32(scard.SCARD_E_UNKNOWN_READER):
            time.sleep(timeout_s)  # a pcscd without PnP notification: look again after a while
        elif _u32(hresult) not in (*_NOTHING_NEW, _u32(scard.SCARD_S_SUCCESS)):
            _raise_for(hresult, "waiting for a reader")
        if _u32(hresult) == _u32(scard.SCARD_S_SUCCESS) and states:
            self._pnp_state = states[0][1] & ~scard.SCARD_STATE_CHANGED
        self.reader = self._find_reader(context)
        if self.reader is None:
            return CardPresence.NO_READER
        return self._wait_on_reader(context, self.reader, 0)


def _raise_for(hresult: int, what: str) -> None:
    if hresult == scard.SCARD_S_SUCCESS:
        return
    code = _u32(hresult)
    message = f"{what}: {scard.SCardGetErrorMessage(hresult)}"
    if code in _CONTEXT_LOST:
        raise PcscUnavailable(message, hresult=code)
    if code == _u32(scard.SCARD_E_NO_READERS_AVAILABLE):
        raise NoReader(message, hresult=code)
    raise PcscError(message, hresult=code)
