"""QR codes and barcodes read from camera frames with zbar (pyzbar), classified the way a
kiosk's serial scanner's reads are: payment code, appointment QR, or bill barcode.

For kiosks without a separate scanner. Codes can be payment authorisations: reprs mask
their contents and nothing here logs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

import cv2
import numpy as np
from pyzbar import pyzbar


class CodeKind(StrEnum):
    """What a scanned code is for, guessed from its content (and symbology if known)."""

    PAYMENT_CODE = "payment_code"  # a wallet's 18-digit payment authorisation code
    APPOINTMENT = "appointment"  # a QR code with an appointment or queue reference
    BILL_BARCODE = "bill_barcode"  # a 1D barcode on a utility bill


class Symbology(StrEnum):
    QR = "QRCODE"
    CODE128 = "CODE128"
    OTHER = "OTHER"


# Mobile wallets' payment codes: 18 digits led by 10-15 (WeChat Pay's "付款码" range).
_PAYMENT_CODE = re.compile(r"^1[0-5]\d{16}$")
_QR_NAMES = {"QRCODE", "QR", "SQCODE"}
_DEFAULT_SYMBOLOGIES = ("QRCODE", "CODE128", "EAN13", "CODE39")


def guess_kind(data: str, symbology: str | None = None) -> CodeKind:
    """The kind of a code from its text; ``symbology`` ("QRCODE", "CODE128", ..., or
    None when the reader does not say, as a serial scanner in plain mode does)."""
    text = data.strip()
    if _PAYMENT_CODE.fullmatch(text):
        return CodeKind.PAYMENT_CODE
    if symbology is None:
        # A serial scanner's plain output: QR codes carry letters, punctuation or long
        # text; bill barcodes are short runs of digits and capitals.
        return (
            CodeKind.BILL_BARCODE
            if re.fullmatch(r"[0-9A-Z\-]{6,40}", text)
            else CodeKind.APPOINTMENT
        )
    if symbology.upper() in _QR_NAMES:
        return CodeKind.APPOINTMENT
    return CodeKind.BILL_BARCODE


@dataclass(frozen=True)
class DecodedCode:
    """One code found in a frame: its kind, text, symbology and where it was (x, y, w, h)."""

    kind: CodeKind
    data: str = field(repr=False)
    symbology: str
    box: tuple[int, int, int, int]

    def __repr__(self) -> str:
        return (
            f"DecodedCode(kind={self.kind.value}, data=<{len(self.data)} chars>, "
            f"symbology={self.symbology}, box={self.box})"
        )


def _text(raw: bytes) -> str | None:
    # QR codes printed in China often carry GB 18030 text rather than UTF-8.
    for encoding in ("utf-8", "gb18030"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return _undo_zbar_guess(text)
    return None


def _undo_zbar_guess(text: str) -> str:
    """zbar guesses a QR code's byte-mode text encoding and converts it to UTF-8; UTF-8
    Chinese is often taken for Big5 or Shift JIS. If re-encoding in the guessed charset
    gives valid UTF-8, that was the original text (mojibake is almost never valid UTF-8)."""
    if text.isascii():
        return text
    for guessed in ("big5", "shift_jis"):
        try:
            return text.encode(guessed).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
    return text


class BarcodeReader:
    """Finds and decodes the codes in BGR or grey frames (blocking; a device thread's)."""

    def __init__(self, symbologies: tuple[str, ...] = _DEFAULT_SYMBOLOGIES) -> None:
        names = {s.name: s for s in pyzbar.ZBarSymbol}
        self._symbols = [names[s] for s in symbologies if s in names]

    def decode(self, frame: np.ndarray) -> list[DecodedCode]:
        """Every distinct code in the frame; [] when none (or the frame is unusable)."""
        if frame.dtype != np.uint8 or frame.ndim not in (2, 3) or min(frame.shape[:2]) < 8:
            return []
        grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        grey = np.ascontiguousarray(grey)
        found = []
        seen = set()
        for result in pyzbar.decode(grey, symbols=self._symbols):
            text = _text(result.data)
            if text is None or not text or (result.type, text) in seen:
                continue
            seen.add((result.type, text))
            r = result.rect
            found.append(
                DecodedCode(
                    guess_kind(text, result.type),
                    text,
                    result.type,
                    (int(r.left), int(r.top), int(r.width), int(r.height)),
                )
            )
        return found


__all__ = ["BarcodeReader", "CodeKind", "DecodedCode", "Symbology", "guess_kind"]
