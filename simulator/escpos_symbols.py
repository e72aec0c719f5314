"""What the receipt printer stores before it prints it: a QR code's settings and data (GS ( k)
and one raster graphic (GS ( L). ESC @ forgets them with the rest of the print modes.

Byte layouts follow the Epson ESC/POS Application Programming Guide (command reference).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import qrcode
import qrcode.constants
import qrcode.exceptions

from simulator.escpos_page import Align, QrBlock, RasterBlock

log = logging.getLogger(__name__)

MAX_QR_DATA = 7089  # GS ( k fn 80: largest QR payload (numeric, version 40)
_QR_ERROR_LEVELS = {
    48: qrcode.constants.ERROR_CORRECT_L,
    49: qrcode.constants.ERROR_CORRECT_M,
    50: qrcode.constants.ERROR_CORRECT_Q,
    51: qrcode.constants.ERROR_CORRECT_H,
}


@dataclass
class StoredSymbols:
    """The QR code and graphic stored so far; each command returns the block it prints, if any."""

    qr_module_size: int = 3
    qr_error: int = qrcode.constants.ERROR_CORRECT_L
    qr_data: bytes = b""
    graphics: RasterBlock | None = None

    def two_dimensional_code(self, body: bytes, align: Align) -> QrBlock | None:
        """GS ( k pL pH cn fn [parameters]; only cn = 49 (QR Code) is acted on."""
        if len(body) < 2 or body[0] != 49:
            return None
        fn, params = body[1], body[2:]
        if fn == 67 and params:  # fn 167: module size in dots
            if 1 <= params[0] <= 16:
                self.qr_module_size = params[0]
        elif fn == 69 and params:  # fn 169: error correction level
            self.qr_error = _QR_ERROR_LEVELS.get(params[0], self.qr_error)
        elif fn == 80 and params:  # fn 180: store data (m = 48)
            self.qr_data = params[1 : 1 + MAX_QR_DATA]
        elif fn == 81:  # fn 181: print the stored symbol
            return self._qr_block(align)
        return None

    def _qr_block(self, align: Align) -> QrBlock | None:
        if not self.qr_data:
            return None
        code = qrcode.QRCode(error_correction=self.qr_error, border=0)
        try:
            code.add_data(self.qr_data)
            code.make(fit=True)
        except (qrcode.exceptions.DataOverflowError, ValueError):
            log.debug("QR data does not fit a symbol; nothing printed")
            return None
        modules = tuple(tuple(bool(cell) for cell in row) for row in code.get_matrix())
        payload = self.qr_data.decode("utf-8", errors="replace")
        return QrBlock(payload, modules, self.qr_module_size, align)

    def graphics_function(self, body: bytes, align: Align) -> RasterBlock | None:
        """GS ( L m fn ...: fn 112 stores raster graphics, fn 50 prints them."""
        if len(body) < 2 or body[0] != 48:
            return None
        fn = body[1]
        if fn == 112 and len(body) >= 10:
            scale_x, scale_y = body[3], body[4]
            width = body[6] + 256 * body[7]
            height = body[8] + 256 * body[9]
            width_bytes = (width + 7) // 8
            data = body[10 : 10 + width_bytes * height]
            if width_bytes and height and len(data) == width_bytes * height:
                self.graphics = RasterBlock(
                    width_bytes, height, data,
                    2 if scale_x == 2 else 1, 2 if scale_y == 2 else 1, Align.LEFT,
                )  # fmt: skip
        elif fn in (50, 2) and self.graphics is not None:
            printed = dataclasses.replace(self.graphics, align=align)
            self.graphics = None
            return printed
        return None
