"""The endorsement flow: permit chip -> face -> choose -> pay by QR -> submit -> receipt.

Each step that enables a side effect is journaled first; every backend call carries the
transaction's idempotency key. Personal data stays in local variables of this session.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time

from kiosk.backends import BackendError, BackendReason, OrderStatus
from kiosk.flow import FlowContext, FlowFailure, Reason
from kiosk.i18n import format_fen
from kiosk.journal import Transaction, TxState
from kiosk.privacy import mask, pseudonym
from kiosk.viewmodel import OptionTile, ScreenId
from peripherals.errors import DeviceError, DeviceReason
from peripherals.receipt_printer import ReceiptDocument, ReceiptLine

log = logging.getLogger(__name__)

SERVICE_CODE = "endorsement"

_DEVICE_REASONS = {
    DeviceReason.CARD_REMOVED: Reason.CARD_REMOVED,
    DeviceReason.NOT_A_TRAVEL_DOCUMENT: Reason.CARD_UNREADABLE,
    DeviceReason.CARD_UNREADABLE: Reason.CARD_UNREADABLE,
    DeviceReason.READER_UNAVAILABLE: Reason.READER_FAULT,
}


def _backend_failure(exc: BackendError, charged: bool = False) -> FlowFailure:
    reason = (
        Reason.BACKEND_REJECTED
        if exc.reason is BackendReason.REJECTED
        else Reason.BACKEND_UNAVAILABLE
    )
    return FlowFailure(reason, charged=charged)


class EndorsementFlow:
    """One citizen's endorsement renewal; `run` returns when the result screen is shown."""

    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx
        self.tx: Transaction | None = None

    def _move(self, to: TxState, reason: str | None = None, **fields: object) -> None:
        assert self.tx is not None
        self.tx = self.ctx.journal.transition(self.tx, to, reason, **fields)
        log.info(
            "transaction %s -> %s", self.tx.tx_id, to.value, extra={"transaction": self.tx.tx_id}
        )

    async def run(self) -> None:
        ctx = self.ctx
        self.tx = ctx.journal.create(SERVICE_CODE)
        try:
            await self._run()
        except FlowFailure as failure:
            self._record_failure(failure)
            ctx.show(
                ScreenId.RESULT,
                result_ok=False,
                result_title_key="result.fail.title",
                result_lines=self._failure_lines(failure),
                busy=False,
                preview=None,
            )
        except asyncio.CancelledError:
            self._record_failure(FlowFailure(Reason.CANCELLED))
            raise

    def _record_failure(self, failure: FlowFailure) -> None:
        if self.tx is None or self.tx.state in (
            TxState.CANCELLED,
            TxState.NEEDS_ATTENTION,
            TxState.CLOSED,
        ):
            return
        if (
            self.tx.state
            in (TxState.CREATED, TxState.IDENTIFIED, TxState.QUOTED, TxState.PAYMENT_PENDING)
            and not failure.charged
        ):
            self._move(TxState.CANCELLED, failure.reason.value)
        else:
            self._move(TxState.NEEDS_ATTENTION, failure.reason.value)

    def _failure_lines(self, failure: FlowFailure) -> tuple:
        lines: list[tuple[str, dict]] = [
            (f"reason.{failure.reason.value}", {"hotline": self.ctx.config.flow.office_hotline})
        ]
        if not failure.charged and failure.reason is not Reason.NEEDS_ATTENTION:
            lines.append(("result.no_charge", {}))
        if self.tx is not None and self.tx.out_trade_no and failure.charged:
            lines.append(("pay.order", {"order": self.tx.out_trade_no}))
        return tuple(lines)

    async def _run(self) -> None:
        ctx = self.ctx
        flow_cfg = ctx.config.flow

        # 1. The permit's chip.
        ctx.show(ScreenId.PLACE_PERMIT, status_key="permit.instruction", busy=False)
        try:
            await ctx.devices.permit_reader.wait_for_card(flow_cfg.place_card_timeout_s)
            ctx.view.update(status_key="permit.reading", busy=True)
            permit = await ctx.devices.permit_reader.read_permit()
        except DeviceError as exc:
            if exc.reason is DeviceReason.TIMEOUT:
                raise FlowFailure(Reason.CARD_TIMEOUT) from exc
            raise FlowFailure(_DEVICE_REASONS.get(exc.reason, Reason.READER_FAULT)) from exc
        subject = pseudonym(permit.mrz.document_number, ctx.subject_key)
        self._move(TxState.IDENTIFIED, subject=subject, detail={"permit_apdus": permit.apdus})

        # 2. The face, captured by itself once one face holds still.
        ctx.show(ScreenId.FACE, status_key="face.no_face", busy=False, faces=0)

        def on_preview(frame, faces: int) -> None:
            ctx.view.update(
                preview=frame,
                faces=faces,
                status_key="face.hold_still" if faces == 1 else "face.no_face",
            )

        try:
            face = await ctx.devices.face_camera.capture(
                on_preview, flow_cfg.face_stable_frames, flow_cfg.face_timeout_s
            )
        except DeviceError as exc:
            reason = (
                Reason.FACE_TIMEOUT if exc.reason is DeviceReason.TIMEOUT else Reason.CAMERA_FAULT
            )
            raise FlowFailure(reason) from exc
        ctx.view.update(status_key="face.captured", preview=None)

        # 3. The endorsement and its fee, both from the backend.
        try:
            types = await ctx.exit_entry.endorsement_types()
        except BackendError as exc:
            raise _backend_failure(exc) from exc
        ctx.show(
            ScreenId.CHOOSE,
            options=tuple(
                OptionTile(t.code, {"zh": t.name_zh, "en": t.name_en}, t.fee_fen) for t in types
            ),
        )
        code = await ctx.wait_choice()
        chosen = next(t for t in types if t.code == code)
        self._move(TxState.QUOTED, amount_fen=chosen.fee_fen, detail={"endorsement": code})

        # 4. Payment by QR code.
        await self._pay(chosen.fee_fen, chosen.name_zh)

        # 5. Submit the application.
        ctx.show(ScreenId.PROCESSING, status_key="processing.instruction", busy=True)
        self._move(TxState.SUBMITTED)
        try:
            application = await ctx.exit_entry.submit_application(
                idempotency_key=self.tx.idempotency_key("submit"),
                subject=subject,
                endorsement=code,
                out_trade_no=self.tx.out_trade_no or "",
                face_jpeg_b64=base64.b64encode(face.jpeg).decode(),
            )
        except BackendError as exc:
            raise FlowFailure(Reason.NEEDS_ATTENTION, charged=True) from exc
        self._move(TxState.FULFILLED, detail={"application_id": application["application_id"]})

        # 6. The receipt; a missing receipt does not undo a granted endorsement.
        lines = [
            (
                "result.ok.body",
                {"endorsement": chosen.name_zh if ctx.view.language == "zh" else chosen.name_en},
            )
        ]
        try:
            await ctx.devices.receipt_printer.print_receipt(
                self._receipt(
                    chosen.name_zh,
                    chosen.name_en,
                    chosen.fee_fen,
                    application,
                    permit.mrz.document_number,
                )
            )
            self._move(TxState.RECEIPTED)
        except DeviceError as exc:
            log.warning(
                "receipt not printed: %s",
                exc.reason.value,
                extra={"transaction": self.tx.tx_id, "reason": exc.reason.value},
            )
            lines.append(("result.receipt_failed", {"order": self.tx.out_trade_no}))
        self._move(TxState.CLOSED)
        ctx.show(
            ScreenId.RESULT,
            result_ok=True,
            result_title_key="result.ok.title",
            result_lines=tuple(lines),
            busy=False,
        )

    async def _pay(self, amount_fen: int, description: str) -> None:
        ctx = self.ctx
        assert self.tx is not None
        out_trade_no = f"{ctx.config.kiosk_id[-4:]}{self.tx.tx_id}"
        self._move(TxState.PAYMENT_PENDING, out_trade_no=out_trade_no)
        try:
            order = await ctx.payment.create_order(out_trade_no, amount_fen, description)
        except BackendError as exc:
            await self._close_order_after_failure(out_trade_no)
            raise _backend_failure(exc) from exc
        ctx.show(
            ScreenId.PAY,
            qr_payload=order.code_url,
            order_no=out_trade_no,
            fee_fen=amount_fen,
            status_key="pay.instruction",
            status_params={"fee": format_fen(amount_fen, ctx.view.language)},
        )
        deadline = time.monotonic() + ctx.config.flow.payment_timeout_s
        try:
            while True:
                try:
                    order = await ctx.payment.query_order(out_trade_no)
                except BackendError:
                    log.warning(
                        "order query failed; retrying", extra={"transaction": self.tx.tx_id}
                    )
                    order = None
                if order is not None and order.status is OrderStatus.SUCCESS:
                    break
                if time.monotonic() > deadline:
                    if await self._close_order_after_failure(out_trade_no):
                        break  # paid at the last moment: carry on
                    raise FlowFailure(Reason.PAYMENT_TIMEOUT)
                await asyncio.sleep(ctx.config.flow.payment_poll_s)
        except asyncio.CancelledError:
            if await asyncio.shield(self._close_order_after_failure(out_trade_no)):
                self._move(TxState.PAID)
                self._move(TxState.NEEDS_ATTENTION, "paid_then_cancelled")
            raise
        self._move(TxState.PAID)

    async def _close_order_after_failure(self, out_trade_no: str) -> bool:
        """Closes the order so it can no longer be paid; True if it turned out to be paid."""
        try:
            order = await self.ctx.payment.close_order(out_trade_no)
        except BackendError as exc:
            if exc.reason is BackendReason.REJECTED:
                return False  # never created: nothing to close
            raise FlowFailure(Reason.NEEDS_ATTENTION) from exc
        return order.status is OrderStatus.SUCCESS

    def _receipt(
        self, name_zh: str, name_en: str, fee_fen: int, application: dict, document_number: str
    ) -> ReceiptDocument:
        assert self.tx is not None
        yuan = f"{fee_fen // 100}.{fee_fen % 100:02d}"
        return ReceiptDocument(
            lines=(
                ReceiptLine("出入境自助签注凭条", align="center", bold=True, double=True),
                ReceiptLine("Exit-Entry Self-Service Receipt", align="center"),
                ReceiptLine("-" * 32),
                ReceiptLine(f"证件号码 Permit: {mask(document_number)}"),
                ReceiptLine(f"签注类型: {name_zh}"),
                ReceiptLine(f"Endorsement: {name_en}"),
                ReceiptLine(f"金额 Amount: {yuan} 元"),
                ReceiptLine(f"受理编号 Application: {application['application_id']}"),
                ReceiptLine(f"有效期至 Valid until: {application['valid_until']}"),
                ReceiptLine(f"订单号 Order: {self.tx.out_trade_no}"),
                ReceiptLine(f"终端 Kiosk: {self.ctx.config.kiosk_id}"),
                ReceiptLine(time.strftime("时间 Time: %Y-%m-%d %H:%M:%S")),
                ReceiptLine("-" * 32),
                ReceiptLine(
                    f"咨询电话 Hotline: {self.ctx.config.flow.office_hotline}", align="center"
                ),
            ),
            qr=self.tx.tx_id,
        )
