"""What the kiosk prints: a service's receipt or document, and the slip a citizen keeps when the
payment is still being checked. Every printed line is masked or a reference, never personal."""

from __future__ import annotations

import time

from kiosk.flow import FlowContext
from kiosk.i18n import TEXTS
from kiosk.journal import Transaction
from peripherals.errors import DeviceError, DeviceReason
from peripherals.receipt_printer import Align, ReceiptDocument, ReceiptLine


def bilingual(key: str, **params: object) -> str:
    """One receipt line in both languages: the printed slip serves every citizen."""
    return " ".join(TEXTS[key][lang].format(**params) for lang in ("zh", "en"))


def _footer(ctx: FlowContext, tx: Transaction) -> list[ReceiptLine]:
    order = tx.paid_trade_no or tx.out_trade_no  # the order that took the money
    return [
        *([ReceiptLine(bilingual("receipt.order", value=order))] if order else []),
        ReceiptLine(bilingual("receipt.transaction", value=tx.tx_id)),
        ReceiptLine(bilingual("receipt.kiosk", value=ctx.config.kiosk_id)),
        ReceiptLine(bilingual("receipt.time", value=time.strftime("%Y-%m-%d %H:%M:%S"))),
        ReceiptLine("-" * 32),
        ReceiptLine(bilingual("receipt.hotline", value=ctx.config.flow.office_hotline),
                    align=Align.CENTER),
    ]


async def print_document(ctx: FlowContext, tx: Transaction, title: dict[str, str],
                         lines: list[ReceiptLine], copy: tuple[int, int] | None = None) -> None:
    """One receipt (or one copy of a document); DeviceError when it did not come out."""
    printer = ctx.devices.receipt_printer
    if printer is None:
        raise DeviceError("receipt_printer", DeviceReason.PRINTER_OFFLINE, "none fitted")
    head = [ReceiptLine(title["zh"], align=Align.CENTER, bold=True, double=True)]
    if title.get("en"):
        head.append(ReceiptLine(title["en"], align=Align.CENTER))
    if copy is not None:
        head.append(ReceiptLine(f"第 {copy[0]}/{copy[1]} 份 Copy {copy[0]} of {copy[1]}",
                                align=Align.CENTER))
    head.append(ReceiptLine("-" * 32))
    await printer.print_receipt(ReceiptDocument(
        lines=tuple(head + lines + _footer(ctx, tx)), qr=tx.tx_id))


async def print_slip(ctx: FlowContext, tx: Transaction, reference: str) -> bool:
    """The slip for a payment still being checked: its reference and the hotline. True if it
    came out (the screen then says "keep this slip"; otherwise "note this reference")."""
    title = TEXTS["slip.title"]
    body = TEXTS["result.checking"]
    lines = [ReceiptLine(body["zh"]), ReceiptLine(body["en"]),
             ReceiptLine(f"查询编号 Reference: {reference}", bold=True)]
    try:
        await print_document(ctx, tx, title, lines)
    except DeviceError:
        return False
    return True
