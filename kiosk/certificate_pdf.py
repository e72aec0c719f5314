"""A certificate laid out on A4 as a PDF, in memory only (it carries the holder's name and
number): title, number, the authority's wording, the authority and date with its seal over
them, and a verification QR code that opens the authority's check page.
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass

import qrcode
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from reportlab.platypus import Paragraph

from kiosk.json_object import JsonObject

FONT = "KioskCJK"


class CertificateContentError(ValueError):
    """The backend's certificate data lacks something the page needs (reason in the text)."""


@dataclass(frozen=True)
class CertificateContent:
    """What the issuing authority's backend returns for one certificate."""

    certificate_id: str
    title: str
    body: tuple[str, ...]
    authority: str
    issued_on: str
    verify_code: str
    verify_url: str
    seal_png: bytes

    @classmethod
    def from_backend(cls, data: JsonObject) -> CertificateContent:
        try:
            return cls(str(data["certificate_id"]), str(data["title"]),
                       tuple(str(p) for p in data["body"]), str(data["authority"]),
                       str(data["issued_on"]), str(data["verify_code"]), str(data["verify_url"]),
                       base64.b64decode(str(data["seal_png_b64"]), validate=True))
        except (KeyError, TypeError, binascii.Error) as exc:
            raise CertificateContentError(f"certificate data: {exc!r}") from exc

    def __repr__(self) -> str:  # the body names the holder: never in a log line
        return f"CertificateContent({self.certificate_id})"


def _font(path: str) -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, path, subfontIndex=0))
    return FONT


def _qr_png(payload: str) -> bytes:
    image = qrcode.make(payload, box_size=8, border=2)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


def certificate_pdf(content: CertificateContent, font_path: str, kiosk_id: str) -> bytes:
    """One A4 page, as the authority's template lays it out."""
    font = _font(font_path)
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    page.setTitle(content.title)
    page.setAuthor(content.authority)
    width, height = A4
    page.setFont(font, 10)
    page.drawRightString(width - 25 * mm, height - 25 * mm, f"编号：{content.certificate_id}")
    page.setFont(font, 26)
    page.drawCentredString(width / 2, height - 55 * mm, content.title)
    style = ParagraphStyle("body", fontName=font, fontSize=14, leading=26, firstLineIndent=28,
                           wordWrap="CJK")
    top = height - 80 * mm
    for text in content.body:
        paragraph = Paragraph(text, style)
        _, used = paragraph.wrap(width - 50 * mm, height)
        paragraph.drawOn(page, 25 * mm, top - used)
        top -= used + 6 * mm
    # The authority and the date, bottom right, the seal over them as the paper one is.
    page.setFont(font, 14)
    sign_y = top - 35 * mm
    page.drawRightString(width - 30 * mm, sign_y, content.authority)
    page.drawRightString(width - 30 * mm, sign_y - 9 * mm, content.issued_on)
    seal = 42 * mm
    page.drawImage(ImageReader(io.BytesIO(content.seal_png)), width - 30 * mm - seal * 0.9,
                   sign_y - seal / 2, seal, seal, mask="auto")
    # Verification: the QR code opens the authority's check page; the code is typed there too.
    qr = 32 * mm
    page.drawImage(ImageReader(io.BytesIO(_qr_png(content.verify_url))), 25 * mm, 30 * mm,
                   qr, qr)
    page.setFont(font, 9)
    page.drawString(25 * mm + qr + 4 * mm, 30 * mm + qr - 6 * mm, "扫码核验 Scan to verify")
    page.drawString(25 * mm + qr + 4 * mm, 30 * mm + qr - 12 * mm,
                    f"核验码 Verification code：{content.verify_code}")
    page.drawString(25 * mm + qr + 4 * mm, 30 * mm + qr - 18 * mm, f"自助打印终端：{kiosk_id}")
    page.showPage()
    page.save()
    return out.getvalue()
