"""Code cards held up to a simulated camera: a QR code or a Code 128 barcode printed on a white
card, and pasting that card into a frame at an angle."""

from __future__ import annotations

from enum import StrEnum

import cv2
import numpy as np


class CodeKind(StrEnum):
    """Symbologies the simulator can show to a camera."""

    QR = "qr"
    CODE128 = "code128"


def render_code_card(data: str, kind: CodeKind | str, module_px: int = 4) -> np.ndarray:
    """A white card (BGR) carrying ``data`` as a QR code or a Code 128 barcode."""
    kind = CodeKind(kind)
    if kind is CodeKind.QR:
        import qrcode

        qr = qrcode.QRCode(border=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
        qr.add_data(data)
        qr.make(fit=True)
        modules = np.array(qr.get_matrix(), dtype=bool)
        img = np.where(modules, 0, 255).astype(np.uint8)
        img = cv2.resize(img, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)
    else:
        from barcode.codex import Code128  # python-barcode, which python-escpos brings

        bars = Code128(data).build()[0]
        row = np.array([0 if bit == "1" else 255 for bit in bars], np.uint8)
        quiet = np.full(12, 255, np.uint8)
        row = np.concatenate([quiet, row, quiet])
        height = max(40, len(row) * module_px // 4)
        img = np.repeat(np.repeat(row[None, :], height, axis=0), module_px, axis=1)
        img = cv2.copyMakeBorder(img, 16, 16, 0, 0, cv2.BORDER_CONSTANT, value=255)
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)


def paste_card(frame: np.ndarray, card: np.ndarray, centre: tuple[float, float], angle: float,
               fit: float) -> None:  # fmt: skip
    """Paste ``card`` into ``frame`` rotated by ``angle`` degrees, scaled to ``fit`` of the
    frame's shorter side (its longer side), centred at ``centre`` (fractions of w, h)."""
    height, width = frame.shape[:2]
    scale = fit * min(width, height) / max(card.shape[:2])
    matrix = cv2.getRotationMatrix2D((card.shape[1] / 2, card.shape[0] / 2), angle, scale)
    matrix[0, 2] += centre[0] * width - card.shape[1] / 2
    matrix[1, 2] += centre[1] * height - card.shape[0] / 2
    mask = np.full(card.shape[:2], 255, np.uint8)
    warped = cv2.warpAffine(card, matrix, (width, height), flags=cv2.INTER_AREA)
    warped_mask = cv2.warpAffine(mask, matrix, (width, height), flags=cv2.INTER_LINEAR)
    cv2.copyTo(warped, warped_mask, frame)
