"""Why something did not happen, told to the citizen: one text per reason code
(kiosk.flow.Reason and the service hall's own reasons), merged into kiosk.i18n.TEXTS."""

from __future__ import annotations

REASON_TEXTS: dict[str, dict[str, str]] = {
    "reason.payment_declined": {
        "zh": "付款未成功。",
        "en": "The payment did not go through.",
    },
    "reason.nothing_due": {"zh": "该户号当前无欠费。", "en": "Nothing is due on this account."},
    "reason.not_found": {
        "zh": "未查询到相关信息，请核对后重试。",
        "en": "Nothing was found; please check and try again.",
    },
    "reason.settle_later": {"zh": "如已扣款，系统将自动退回，无需重复支付。",
                            "en": "If you were charged, the money will be refunded automatically."},
    "reason.authentication_refused": {"zh": "证件与身份信息不符，无法读取。请确认放置的是本人的通行证。",
                                      "en": "This permit does not match your identity record. Please check it is your own permit."},
    "reason.integrity_failed": {"zh": "证件芯片校验未通过，请到窗口办理。",
                                "en": "The permit's chip failed its security check; please go to a counter."},
    "reason.chip_not_genuine": {"zh": "证件芯片未能证明其真实性，请到窗口办理。",
                                "en": "The permit's chip could not prove it is genuine; please go to a counter."},
    "reason.document_expired": {"zh": "通行证已过有效期，请先换发证件。",
                                "en": "Your permit has expired; please renew the permit first."},
    "reason.no_page": {"zh": "未能扫描到材料，请到窗口办理或稍后再试。",
                       "en": "No page could be scanned; please try again or go to a counter."},
    "reason.refunded": {"zh": "已付款项已原路退回。", "en": "Your payment has been refunded."},
    "reason.print_failed": {
        "zh": "打印失败，请联系工作人员重新打印。",
        "en": "Printing failed; please ask for a reprint.",
    },
    "reason.device_missing": {
        "zh": "本机不支持该业务。",
        "en": "This kiosk cannot offer that service.",
    },
    "reason.step_timeout": {"zh": "操作超时。", "en": "The step took too long."},
    # Failure messages, one per reason code (kiosk.flow.Reason).
    "reason.card_removed": {
        "zh": "证件被移开，读取未完成。请重新办理，读卡时请勿移动证件。",
        "en": "The permit was moved away before it was read. Please start again and keep it still.",
    },
    "reason.card_unreadable": {
        "zh": "无法读取该证件，请确认放置的是往来港澳通行证。",
        "en": "This card could not be read. Please check it is your exit-entry permit.",
    },
    "reason.card_timeout": {"zh": "未检测到证件。", "en": "No permit was placed on the reader."},
    "reason.reader_fault": {
        "zh": "读卡器暂时无法使用，请联系工作人员。",
        "en": "The card reader is not working. Please ask for help.",
    },
    "reason.face_timeout": {"zh": "未能采集到人像。", "en": "We could not take your photo."},
    "reason.camera_fault": {"zh": "摄像头暂时无法使用。", "en": "The camera is not working."},
    "reason.payment_timeout": {
        "zh": "未收到支付，订单已关闭。",
        "en": "No payment was received; the order is closed.",
    },
    "reason.backend_unavailable": {
        "zh": "业务系统暂时无法连接，请稍后再试。",
        "en": "The service is not reachable right now. Please try again later.",
    },
    "reason.backend_rejected": {
        "zh": "业务系统未受理本次申请。",
        "en": "The service did not accept the application.",
    },
    "reason.cancelled": {"zh": "已取消。", "en": "Cancelled."},
    "reason.needs_attention": {
        "zh": "您的付款已收到，业务正在人工核对，请凭订单号咨询 {hotline}。",
        "en": "Your payment was received and is being checked; call {hotline} with your order number.",
    },
    "reason.internal_error": {"zh": "系统出现异常，业务未能完成。",
                              "en": "Something went wrong; your service could not be completed."},
    "reason.no_applications": {
        "zh": "未查询到您的办件信息。如有疑问请咨询 {hotline}。",
        "en": "No applications were found. Call {hotline} with any questions.",
    },
    "reason.no_appointment": {
        "zh": "未查询到您今天的预约，请现场取号。",
        "en": "You have no appointment today; please take a number.",
    },
    "reason.nothing_to_collect": {
        "zh": "您暂无可在本机领取的证件。",
        "en": "There is no document for you to collect here.",
    },
    "reason.document_slot_empty": {
        "zh": "证件暂未放入自助取证柜，请到服务台领取，工作人员已收到通知。",
        "en": "Your document is not in the machine yet; please ask at the desk (staff have been told).",
    },
    "reason.dispenser_fault": {
        "zh": "出证设备故障，您的证件仍安全保存在机内，请到服务台领取。",
        "en": "The dispenser failed; your document is safe inside. Please ask at the desk.",
    },
    "reason.document_retained": {
        "zh": "您未在规定时间内取走证件，证件已安全回收，请到服务台领取。",
        "en": "The document was not taken in time and was safely taken back; please ask at the desk.",
    },
    # The chip's keys from the data page (kiosk.steps_mrz), refused by the chip.
    "reason.page_keys_refused": {
        "zh": "读卡区上证件的芯片与刚才识别的资料页不符。请确认两次放置的是同一本证件后重新办理。",
        "en": "The chip on the reader does not match the data page that was read. Check it is the same document and start again.",
    },
    "reason.typed_keys_refused": {
        "zh": "输入的证件号码或日期与证件芯片不符，请按证件资料页核对后重新办理。",
        "en": "The number or dates typed do not open this document's chip; check them against its data page and start again.",
    },
    "reason.data_page_unread": {
        "zh": "未能识别证件资料页，请到窗口办理。",
        "en": "The document's data page could not be read; please go to a counter.",
    },
    # Citizen experience (issue 12): progress, busy feedback, ways out, help, elder mode, sound,
    # placement guides, the face-capture notice and the reminder to take documents back.
}
