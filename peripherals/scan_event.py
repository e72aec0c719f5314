"""What a barcode/QR read looks like to the rest of the kiosk, whichever device read it:
the serial scanner or a camera."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from drivers.barcode_camera import CodeKind, guess_kind

# The kinds of code a kiosk acts on (payment code, appointment QR, bill barcode).
ScanKind = CodeKind


class ScanSource(StrEnum):
    SERIAL = "serial"  # the kiosk's barcode/QR scanner on a serial (USB-CDC) port
    CAMERA = "camera"  # a code held up to one of the kiosk's cameras


@dataclass(frozen=True)
class ScanEvent:
    """One code read: its kind, its text, and which device read it.

    The text may be a payment authorisation: the repr shows its length only.
    """

    kind: ScanKind
    data: str = field(repr=False)
    source: ScanSource = ScanSource.SERIAL

    @classmethod
    def from_text(
        cls, data: str, source: ScanSource = ScanSource.SERIAL, symbology: str | None = None
    ) -> ScanEvent:
        """An event for ``data``, its kind guessed as every scanner guesses it."""
        return cls(guess_kind(data, symbology), data, source)

    def __repr__(self) -> str:
        return (
            f"ScanEvent(kind={self.kind.value}, data=<{len(self.data)} chars>, "
            f"source={self.source.value})"
        )


__all__ = ["ScanEvent", "ScanKind", "ScanSource"]
