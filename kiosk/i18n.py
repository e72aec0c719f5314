"""Texts shown to citizens, in Chinese (default) and English. Keys are stable identifiers."""

from __future__ import annotations

import datetime

from kiosk.i18n_agent import AGENT_TEXTS
from kiosk.i18n_menu import MENU_TEXTS
from kiosk.i18n_mrz import MRZ_TEXTS
from kiosk.i18n_reasons import REASON_TEXTS

LANGUAGES = ("zh", "en")

TEXTS: dict[str, dict[str, str]] = {
    "app.title": {"zh": "出入境自助服务", "en": "Exit-Entry Self-Service"},
    "attract.headline": {"zh": "24小时自助服务", "en": "24-Hour Self-Service"},
    "attract.touch": {"zh": "请触摸屏幕开始", "en": "Touch the screen to start"},
    "attract.hint": {
        "zh": "往来港澳通行证签注 · 即办即取",
        "en": "Hong Kong / Macau endorsements while you wait",
    },
    "common.exit": {"zh": "退出", "en": "Exit"},
    "common.back_home": {"zh": "返回首页", "en": "Home"},
    "common.language": {"zh": "English", "en": "中文"},
    "common.yuan": {"zh": "{yuan} 元", "en": "CNY {yuan}"},
    "menu.title": {"zh": "请选择服务", "en": "Choose a service"},
    "permit.title": {"zh": "请放置通行证", "en": "Place your permit"},
    "permit.instruction": {
        "zh": "请将往来港澳通行证平放在下方感应区，读卡期间请勿移动",
        "en": "Lay your exit-entry permit flat on the reader below and keep it still",
    },
    "permit.reading": {
        "zh": "正在读取证件，请勿移动…",
        "en": "Reading your permit, keep it still…",
    },
    "passport.title": {"zh": "请放置护照", "en": "Place your passport"},
    "passport.instruction": {
        "zh": "请将护照合上，封面朝上平放在下方感应区，读卡期间请勿移动",
        "en": "Close your passport and lay it flat, cover up, on the reader below; keep it still",
    },
    "passport.reading": {
        "zh": "正在读取护照芯片，请勿移动…",
        "en": "Reading your passport's chip, keep it still…",
    },
    "face.title": {"zh": "人像采集", "en": "Photo"},
    "face.instruction": {"zh": "请正对摄像头，保持不动", "en": "Look at the camera and hold still"},
    "face.no_face": {"zh": "请站到摄像头前", "en": "Please stand in front of the camera"},
    "face.captured": {"zh": "采集成功", "en": "Photo taken"},
    "face.hint.no_face": {"zh": "请站到摄像头前", "en": "Please stand in front of the camera"},
    "face.hint.too_many_faces": {"zh": "请只留一人在镜头前", "en": "Only one person in front of the camera, please"},
    "face.hint.move_closer": {"zh": "请靠近一点", "en": "Please move closer"},
    "face.hint.move_back": {"zh": "请稍微后退", "en": "Please step back a little"},
    "face.hint.center_face": {"zh": "请把脸移到框内", "en": "Move your face into the oval"},
    "face.hint.face_camera": {"zh": "请正对摄像头", "en": "Please face the camera"},
    "face.hint.too_dark": {"zh": "光线太暗，请靠近灯光", "en": "It's too dark, please move into the light"},
    "face.hint.too_bright": {"zh": "光线太强，请避开反光", "en": "Too much light, please avoid glare"},
    "face.hint.blurred": {"zh": "画面模糊，请保持不动", "en": "The picture is blurred, please hold still"},
    "face.hint.hold_still": {"zh": "请保持不动", "en": "Please hold still"},
    "face.hint.ok": {"zh": "很好，保持不动，正在拍照…", "en": "Good, hold still, taking your photo…"},
    "choose.fee": {"zh": "费用：{fee}", "en": "Fee: {fee}"},
    "pay.title": {"zh": "请扫码支付", "en": "Scan to pay"},
    "pay.instruction": {
        "zh": "请使用手机扫描二维码支付 {fee}",
        "en": "Scan the code with your phone to pay {fee}",
    },
    "pay.order": {"zh": "订单号 {order}", "en": "Order {order}"},
    "pay.waiting": {
        "zh": "等待支付… 剩余 {seconds} 秒",
        "en": "Waiting for payment… {seconds} s left",
    },
    "processing.title": {"zh": "正在办理", "en": "Processing"},
    "processing.instruction": {
        "zh": "正在提交申请，请稍候…",
        "en": "Submitting your application, please wait…",
    },
    "result.ok.title": {"zh": "办理成功", "en": "Done"},
    "result.fail.title": {"zh": "未能办理", "en": "Not completed"},
    "result.no_charge": {"zh": "本次未扣费。", "en": "You have not been charged."},
    "result.receipt_failed": {
        "zh": "凭条打印失败，请凭订单号查询：{order}",
        "en": "The receipt could not be printed; your order number is {order}",
    },
    "idle.title": {"zh": "您还在吗？", "en": "Are you still there?"},
    "idle.body": {"zh": "{seconds} 秒后将返回首页", "en": "Returning to the start in {seconds} s"},
    "idle.continue": {"zh": "继续办理", "en": "Continue"},
    "idcard.title": {"zh": "请放置身份证", "en": "Place your ID card"},
    "idcard.instruction": {
        "zh": "请将居民身份证放在读卡区",
        "en": "Put your resident ID card on the reader",
    },
    "idcard.reading": {"zh": "正在读取身份证…", "en": "Reading your ID card…"},
    "account.title": {"zh": "输入户号", "en": "Account number"},
    "account.invalid": {
        "zh": "号码有误，请重新输入",
        "en": "That number is not valid; please try again",
    },
    "account.scan_hint": {
        "zh": "也可将账单条码对准扫描口",
        "en": "Or hold the bill's barcode to the scanner",
    },
    "keypad.back": {"zh": "删除", "en": "Delete"},
    "keypad.ok": {"zh": "确认", "en": "OK"},
    "confirm.title": {"zh": "请核对缴费信息", "en": "Check the details"},
    "confirm.amount": {"zh": "应缴金额 {fee}", "en": "Amount due {fee}"},
    "confirm.pay": {"zh": "确认支付", "en": "Pay"},
    "choose.default_title": {"zh": "请选择", "en": "Please choose"},
    "pay.or_scan": {
        "zh": "或出示付款码对准扫描口",
        "en": "or show your payment code to the scanner",
    },
    "network.down": {
        "zh": "网络暂时中断，部分业务暂停办理",
        "en": "The network is down; some services are paused",
    },
    "unavailable.network": {"zh": "网络中断，本业务需联网核验，暂停办理",
                            "en": "Paused: this service needs a live check and the network is down"},
    "receipt.queued": {"zh": "网络中断：已存于本机，网络恢复后自动提交并短信通知",
                       "en": "Network down: kept here, sent when it is back; a text then"},
    "result.queued": {"zh": "网络暂时中断：您的材料已保存在本机，网络恢复后将自动提交，届时短信通知您",
                      "en": "The network is down: your submission is kept on this kiosk and will "
                            "be sent by itself when the network is back; you get a text then"},
    "unavailable.network_payment": {"zh": "网络中断，无法在线缴费，暂停办理",
                                    "en": "Paused: payment needs the network, which is down"},
    "unavailable.device.permit_reader": {
        "zh": "读卡器故障，暂停办理",
        "en": "Paused: card reader fault",
    },
    "unavailable.device.idcard_reader": {
        "zh": "身份证读卡器故障，暂停办理",
        "en": "Paused: ID card reader fault",
    },
    "unavailable.device.face_camera": {"zh": "摄像头故障，暂停办理", "en": "Paused: camera fault"},
    "unavailable.device.receipt_printer": {
        "zh": "打印机暂停使用",
        "en": "Paused: printer unavailable",
    },
    "unavailable.device.barcode_scanner": {
        "zh": "扫描器故障，暂停办理",
        "en": "Paused: scanner fault",
    },
    "warning.no_receipt": {
        "zh": "打印机缺纸，本次无法打印凭条",
        "en": "No receipt can be printed right now",
    },
    "oos.title": {"zh": "暂停服务", "en": "Out of service"},
    "oos.body": {"zh": "本机暂停服务，请使用其他自助机或前往服务窗口。\n咨询电话 {hotline}",
                 "en": "This kiosk is out of service. Please use another kiosk or a counter.\nHotline {hotline}"},
    "oos.no_service": {"zh": "所有业务暂时无法办理", "en": "No service can be offered right now"},
    "oos.operator": {"zh": "维护中", "en": "Under maintenance"},
    "oos.disk_full": {"zh": "设备存储空间不足，已通知运维人员",
                      "en": "The kiosk's storage is full; the operators have been told"},
    "oos.start_failed": {"zh": "系统启动失败，已通知运维人员", "en": "The kiosk failed to start; the operators have been told"},
    # systemd hardening (issue 17): the out-of-service screen of a kiosk not provisioned yet.
    "oos.not_provisioned": {"zh": "本机尚未完成安装配置（未开通）",
                            "en": "Not provisioned: this kiosk has not been set up yet"},
    "scan.title": {"zh": "材料扫描", "en": "Scan your documents"},
    "scan.which": {"zh": "第 {index}/{total} 份：{material}", "en": "{index} of {total}: {material}"},
    "scan.place": {"zh": "请将材料正面朝上平放在扫描区，保持不动", "en": "Lay the page face up in the scan area and keep it still"},
    "scan.done": {"zh": "扫描完成", "en": "Scanned"},
    "scan.problem.no_page": {"zh": "未检测到材料，请平放在扫描区", "en": "No page found; lay it flat in the scan area"},
    "scan.problem.page_too_small": {"zh": "材料太小或太远，请平放在扫描区中央", "en": "The page is too small; put it in the middle"},
    "scan.problem.page_cut_off": {"zh": "材料超出扫描区，请移到中间", "en": "The page goes off the edge; move it to the middle"},
    "scan.problem.too_dark": {"zh": "光线太暗，请稍候重试", "en": "Too dark; please wait and try again"},
    "scan.problem.bad_image": {"zh": "画面异常，请重新放置", "en": "The picture is not clear; place it again"},
    "unavailable.device.document_camera": {"zh": "扫描仪故障，暂停办理", "en": "Paused: document camera fault"},
    "tech.pin_title": {"zh": "运维人员验证", "en": "Technician sign-in"},
    "tech.pin_prompt": {"zh": "请输入运维密码", "en": "Enter the technician PIN"},
    "tech.pin_wrong": {"zh": "密码错误", "en": "Wrong PIN"},
    "tech.locked": {"zh": "错误次数过多，请稍后再试", "en": "Too many wrong PINs; try again later"},
    "tech.not_provisioned": {"zh": "本机尚未设置运维密码", "en": "No technician PIN is set on this kiosk"},
    "tech.title": {"zh": "运维模式", "en": "Technician mode"},
    "tech.devices": {"zh": "设备状态", "en": "Devices"},
    "tech.events": {"zh": "最近事件", "en": "Recent events"},
    "tech.self_test": {"zh": "全部自检", "en": "Self-test all"},
    "tech.self_test_done": {"zh": "自检完成：{passed}/{total} 通过", "en": "Self-test: {passed} of {total} passed"},
    "tech.self_test_failed": {"zh": "自检未能完成，请查看日志", "en": "The self-test could not finish; see the log"},
    "tech.attention": {"zh": "待处理交易：{count}", "en": "Transactions needing attention: {count}"},
    "menu.empty": {
        "zh": "暂无可办理的业务，请稍后再试",
        "en": "No services are available right now",
    },

    # The transaction core's endings (kiosk.transaction.settlement.citizen_message).
    "settle.checking": {"zh": "请稍候，正在确认办理结果…", "en": "One moment: confirming the outcome…"},
    "result.checking": {
        "zh": "您的付款正在核对中。如已扣款，系统将自动完成业务或原路退回，无需重复支付。",
        "en": "Your payment is being checked. If you were charged, your service will be "
              "completed or the money refunded automatically; do not pay again.",
    },
    "result.reference": {"zh": "查询编号：{reference}", "en": "Reference: {reference}"},
    "result.slip_printed": {"zh": "已打印核对凭条，请取走并妥善保管。",
                            "en": "A slip with this reference has been printed; please keep it."},
    "result.note_reference": {"zh": "请记下上述编号，咨询电话 {hotline}。",
                              "en": "Please note this reference; hotline {hotline}."},
    "result.attention_unpaid": {"zh": "业务未能完成，本次未扣费。工作人员将跟进，咨询电话 {hotline}。",
                                "en": "Your service could not be completed and you have not been "
                                      "charged. Staff will follow up; hotline {hotline}."},
    "result.partly_refunded": {"zh": "未完成部分的 {amount} 已原路退回。",
                               "en": "{amount} for the part not completed has been refunded."},
    "slip.title": {"zh": "付款核对凭条", "en": "Payment check slip"},
    "result.completed": {"zh": "您的业务已办理完成，查询编号：{reference}",
                         "en": "Your service has been completed; reference {reference}"},
    # -- issue 13: the service hall's items (kiosk.steps_services, steps_documents, evaluation).
    "identify.card_or_code": {
        "zh": "请放置身份证，或将回执上的二维码对准扫描口",
        "en": "Place your ID card, or show the QR code on your receipt to the scanner",
    },
    "progress.looking": {"zh": "正在查询办件进度…", "en": "Looking up your applications…"},
    "progress.found": {"zh": "共找到 {count} 件申请", "en": "{count} application(s) found"},
    "progress.done": {"zh": "已查询到 {count} 件申请的办理进度", "en": "Progress of {count} application(s) shown"},
    "progress.slip_printed": {"zh": "查询结果已打印，请取走", "en": "Please take the printed result"},
    "phone.invalid": {"zh": "请输入11位手机号码", "en": "Please type an 11-digit mobile number"},
    "queue.hint": {
        "zh": "有预约请刷身份证或扫描预约二维码；现场取号请选择业务类别",
        "en": "With an appointment: place your ID card or scan its QR code. Otherwise choose a service",
    },
    "queue.ticket": {
        "zh": "您的号码 {ticket_no}，请到 {window} 窗口等候叫号；前面还有 {waiting} 人，预计等候 {wait_min} 分钟",
        "en": "Your number is {ticket_no}: wait for counters {window}; {waiting} ahead, about {wait_min} min",
    },
    "queue.early": {
        "zh": "您预约的时段是 {slot}，请于 {checkin_from} 后再来签到取号",
        "en": "Your appointment is at {slot}; check in from {checkin_from}",
    },
    "queue.late": {
        "zh": "您预约的时段 {slot} 已过（签到截止 {checkin_until}），预约已失效，请现场取号或重新预约",
        "en": "Your appointment at {slot} has lapsed (check-in closed at {checkin_until}); take a number or book again",
    },
    "certificate.printing": {"zh": "正在打印证明，请稍候…", "en": "Printing your certificate…"},
    "collect.looking": {"zh": "正在查询待领取的证件…", "en": "Looking for your document…"},
    "collect.dispensing": {"zh": "正在出证，请稍候…", "en": "Fetching your document…"},
    "collect.take": {"zh": "请从出证口取走您的证件", "en": "Please take your document from the slot"},
    "collect.taken": {"zh": "您已领取：{title}", "en": "You have collected: {title}"},
    "rate.thanks": {"zh": "感谢您的评价！", "en": "Thank you for your rating!"},
    "unavailable.device.a4_printer": {"zh": "A4打印机故障，暂停办理", "en": "Paused: A4 printer fault"},
    "unavailable.device.dispenser": {"zh": "出证设备故障，暂停办理", "en": "Paused: dispenser fault"},
    "stage.idcard": {"zh": "身份证", "en": "ID card"},
    "stage.permit": {"zh": "通行证", "en": "Permit"},
    "stage.face": {"zh": "人像", "en": "Photo"},
    "stage.scan": {"zh": "扫描", "en": "Scan"},
    "stage.account": {"zh": "户号", "en": "Account"},
    "stage.choose": {"zh": "选择", "en": "Choose"},
    "stage.confirm": {"zh": "核对", "en": "Check"},
    "stage.pay": {"zh": "支付", "en": "Pay"},
    "stage.done": {"zh": "完成", "en": "Done"},
    "busy.lookup": {"zh": "正在查询…", "en": "Looking it up…"},
    "busy.order": {"zh": "正在创建订单…", "en": "Creating your order…"},
    "busy.submitting": {"zh": "正在提交申请…", "en": "Sending your application…"},
    "busy.printing": {"zh": "正在打印…", "en": "Printing…"},
    "busy.wait": {"zh": "请稍候，正在处理，无需重复点击", "en": "Please wait, no need to tap again"},
    "common.back": {"zh": "上一步", "en": "Back"},
    "common.help": {"zh": "呼叫工作人员", "en": "Call staff"},
    "common.elder_on": {"zh": "长辈模式", "en": "Elder mode"},
    "common.elder_off": {"zh": "标准模式", "en": "Standard"},
    "common.sound.normal": {"zh": "声音：开", "en": "Sound on"},
    "common.sound.low": {"zh": "声音：小", "en": "Sound low"},
    "common.sound.muted": {"zh": "声音：关", "en": "Sound off"},
    "common.next_page": {"zh": "下一页", "en": "More"},
    "common.prev_page": {"zh": "上一页", "en": "Previous"},
    "common.page": {"zh": "第 {page}/{pages} 页", "en": "Page {page} of {pages}"},
    "common.working_days": {"zh": "{days} 个工作日", "en": "{days} working days"},
    "exit.title": {"zh": "确定要退出吗？", "en": "Leave now?"},
    "exit.body": {"zh": "退出后，本次办理将取消。", "en": "What you have done so far will be cancelled."},
    "exit.body_paying": {
        "zh": "如您已付款，请勿退出，系统正在确认。退出后将显示款项去向和订单号。",
        "en": "If you have paid, please stay: we are checking. If you leave, we show what became of your money and the order number.",
    },
    "exit.stay": {"zh": "继续办理", "en": "Continue"},
    "exit.leave": {"zh": "确认退出", "en": "Leave"},
    "help.title": {"zh": "已呼叫工作人员", "en": "Staff have been called"},
    "help.body": {
        "zh": "工作人员将尽快前来协助。\n您也可以拨打服务电话 {hotline}",
        "en": "Someone will come to help you.\nYou can also call {hotline}",
    },
    "help.close": {"zh": "关闭", "en": "Close"},
    "help.video": {"zh": "视频连线", "en": "Video call"},
    "help.video_hint": {
        "zh": "也可以点击“视频连线”，与政务大厅工作人员视频通话。",
        "en": "Or tap Video call to talk to the hall's staff on video.",
    },
    "face.consent": {
        "zh": "接下来将拍摄您的人像，仅用于本次身份核验，本机不保存照片。",
        "en": "We will now take your photo. It is used only to check your identity and is not kept on this kiosk.",
    },
    "face.agree": {"zh": "同意，开始拍照", "en": "Agree, take my photo"},
    "face.decline": {"zh": "不同意", "en": "Decline"},
    "guide.idcard": {
        "zh": "读卡区在屏幕下方右侧，身份证人像面朝上平放",
        "en": "The reader is below the screen, on the right. Lay the card photo side up",
    },
    "guide.permit": {
        "zh": "读卡区在屏幕下方中间，通行证照片面朝上平放",
        "en": "The reader is below the screen, in the middle. Lay the permit photo side up",
    },
    "guide.passport": {
        "zh": "读卡区在屏幕下方中间，护照合上后平放",
        "en": "The reader is below the screen, in the middle. Lay the closed passport on it",
    },
    "guide.scan": {
        "zh": "扫描区在台面中央，材料文字面朝上",
        "en": "The scan area is in the middle of the desk. Lay the page printed side up",
    },
    "guide.side_up": {"zh": "照片面朝上", "en": "Photo side up"},
    "guide.page_up": {"zh": "文字面朝上", "en": "Text side up"},
    "result.take": {"zh": "请取回您的{documents}", "en": "Please take back your {documents}"},
    "result.countdown": {"zh": "{seconds} 秒后返回首页", "en": "Back to the start in {seconds} s"},
    "result.time": {"zh": "办理时间 {time}", "en": "Time {time}"},
    "doc.idcard": {"zh": "身份证", "en": "ID card"},
    "doc.permit": {"zh": "通行证", "en": "permit"},
    "doc.materials": {"zh": "材料原件", "en": "papers"},
    "doc.separator": {"zh": "、", "en": ", "},
    "common.colon": {"zh": "：", "en": ": "},
    "receipt.order": {"zh": "订单号", "en": "Order: {value}"},
    "receipt.transaction": {"zh": "流水号", "en": "Transaction: {value}"},
    "receipt.kiosk": {"zh": "终端", "en": "Kiosk: {value}"},
    "receipt.time": {"zh": "时间", "en": "Time: {value}"},
    "receipt.hotline": {"zh": "咨询电话", "en": "Hotline: {value}"},
    # Video help from the hall (kiosk.videocall, screens.call_overlay).
    "call.title": {"zh": "视频连线工作人员", "en": "Video call to the hall's staff"},
    "call.consent.body": {
        "zh": "将打开摄像头和麦克风，与政务大厅工作人员视频通话。工作人员能看到您和本机屏幕"
              "（姓名、证件号码等个人信息已遮挡），但不能替您输入或查看您的资料。",
        "en": "The camera and microphone will turn on for a video call with the hall's staff. "
              "They see you and this screen (your name, ID numbers and other personal details "
              "are hidden) but cannot see or type your data.",
    },
    "call.consent.recorded": {
        "zh": "本点位通话将录音录像。", "en": "Calls from this site are recorded.",
    },
    "call.consent.accept": {"zh": "同意并呼叫", "en": "Agree and call"},
    "call.consent.decline": {"zh": "不用了", "en": "No, thanks"},
    "call.ringing": {"zh": "正在呼叫工作人员，请稍候…", "en": "Calling the staff, please wait…"},
    "call.cancel": {"zh": "取消呼叫", "en": "Cancel the call"},
    # The strip over the header is one header high: its texts stay short (elder mode too).
    "call.connecting": {"zh": "正在接通 {agent}…", "en": "Connecting to {agent}…"},
    "call.in_call": {"zh": "工作人员 {agent}", "en": "Staff: {agent}"},
    "call.recording": {"zh": "● 录制中", "en": "● Recording"},
    "call.hang_up": {"zh": "挂断", "en": "Hang up"},
    "call.proposal": {"zh": "工作人员建议办理：{item}", "en": "The staff suggest: {item}"},
    "call.start_item": {"zh": "开始办理", "en": "Start"},
    "call.close": {"zh": "关闭", "en": "Close"},
    "call.hotline": {"zh": "服务电话 {hotline}", "en": "Hotline: {hotline}"},
    "call.note.link_waiting": {"zh": "网络不稳，重连中…", "en": "Weak link; reconnecting…"},
    "call.note.agent_away": {"zh": "对方掉线，请稍候…", "en": "Staff offline; please wait…"},
    "call.note.reduced": {"zh": "网络慢，画质已降低", "en": "Slow link: lower quality"},
    "call.note.audio_only": {"zh": "网络慢，仅语音通话", "en": "Slow link: voice only"},
    "call.end.citizen": {"zh": "通话已结束", "en": "The call has ended"},
    "call.end.agent": {"zh": "工作人员已结束通话", "en": "The staff ended the call"},
    "call.end.no_answer": {"zh": "暂时无人接听，请拨打服务热线或稍后再试",
                           "en": "Nobody answered; please call the hotline or try later"},
    "call.end.link_lost": {"zh": "网络中断，通话已结束，请稍后再试",
                           "en": "The link dropped and the call ended; please try again later"},
    "call.end.not_allowed": {"zh": "本点位暂不支持视频连线", "en": "Video calls are not offered here"},
    "call.end.refused": {"zh": "暂时无法呼叫，请拨打服务热线",
                         "en": "The call could not be placed; please call the hotline"},
    "call.end.failed": {"zh": "连接失败，请稍后再试", "en": "The call could not connect; try later"},
    **AGENT_TEXTS,
    **REASON_TEXTS,
}

TEXTS.update(MENU_TEXTS)
TEXTS.update(MRZ_TEXTS)


def translate(key: str, language: str, **params: object) -> str:
    entry = TEXTS.get(key)
    if entry is None:
        return key
    text = entry.get(language) or entry["zh"]
    return text.format(**params) if params else text


def format_fen(amount_fen: int, language: str) -> str:
    """Integer fen to a display amount: 1500 -> '15.00 元' / 'CNY 15.00'; 123456 -> '1,234.56'."""
    sign = "-" if amount_fen < 0 else ""
    fen = abs(amount_fen)
    yuan = f"{sign}{fen // 100:,}.{fen % 100:02d}"
    return translate("common.yuan", language, yuan=yuan)


_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_datetime(moment: datetime.datetime, language: str, with_time: bool = True) -> str:
    """A date (and time) as a citizen reads it: '2026年11月22日 23:05' / '22 Nov 2026, 23:05'."""
    if language == "zh":
        text = f"{moment.year}年{moment.month}月{moment.day}日"
        return f"{text} {moment:%H:%M}" if with_time else text
    text = f"{moment.day} {_MONTHS_EN[moment.month - 1]} {moment.year}"
    return f"{text}, {moment:%H:%M}" if with_time else text
