"""The screens of a service flow: place a card, photo, choose, type, check, scan, pay, wait,
result. Each renders the session view and sends intents; none touches a device."""

from __future__ import annotations

import datetime

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.image import Image
from kivy.uix.widget import Widget

from kiosk.i18n import format_datetime, format_fen
from kiosk.voice import documents_text
from screens.base import KioskScreen
from screens.guides import BusySpinner, PlacementGuide
from screens.keyboard import LetterKeyboard
from screens.pager import TilePager
from screens.screen_share import mark_personal  # widgets of kiosk.viewmodel.PERSONAL_FIELDS
from screens.theme import Space, TypeSize, current
from screens.widgets import BigButton, CameraPreview, Panel, TextLabel, qr_texture


class PlaceCardScreen(KioskScreen):
    """Where the reader is, which side up, and one instruction: the ID card and permit screens."""

    instruction_key = ""
    guide_key = ""
    reader_at = 0.5

    def build(self) -> None:
        self.guide = PlacementGuide(reader_at=self.reader_at, page=False, size_hint_y=1.3)
        self.where = TextLabel("muted", TypeSize.BODY, size_hint_y=0.35)
        self.instruction = TextLabel("body", TypeSize.HEADING, bold=True, size_hint_y=0.45)
        self.split([self.guide], [self.instruction, self.where])

    def on_enter(self, *args) -> None:
        self.guide.start()

    def on_leave(self, *args) -> None:
        self.guide.stop()

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        self.instruction.text = v.t(v.status_key or self.instruction_key)
        self.instruction.set_pair("headline" if v.busy else "body")
        self.where.text = v.t(self.guide_key)
        self.guide.side.text = v.t("guide.side_up")


class ReadIdCardScreen(PlaceCardScreen):
    title_key = "idcard.title"
    instruction_key = "idcard.instruction"
    guide_key = "guide.idcard"
    reader_at = 0.72


class PlacePermitScreen(PlaceCardScreen):
    title_key = "permit.title"
    instruction_key = "permit.instruction"
    guide_key = "guide.permit"
    reader_at = 0.5

    def render(self, changed: set[str]) -> None:
        # The step's words (kiosk.steps.read_permit): a passport's own title when it asks for one.
        self.title_key, self.guide_key = ("passport.title", "guide.passport") \
            if self.view.status_key.startswith("passport.") else ("permit.title", "guide.permit")
        super().render(changed)


class FaceScreen(KioskScreen):
    """First the notice (what the photo is for, agree or decline), then a small preview."""

    title_key = "face.title"

    def build(self) -> None:
        theme = current()
        self.preview = mark_personal(CameraPreview(size_hint=(None, None),
                                                   pos_hint={"center_x": 0.5}))
        self.preview_box = BoxLayout(orientation="vertical")
        self.preview_box.add_widget(self.preview)
        # Only as large as positioning a face needs (3:4), and never larger than its room.
        self.preview_box.bind(size=self._size_preview)
        self.instruction = TextLabel("body", TypeSize.HEADING, bold=True, size_hint_y=0.4)
        self.consent = TextLabel("body", TypeSize.BODY, size_hint_y=0.5)
        self.answers = BoxLayout(spacing=theme.space(Space.GAP), size_hint_y=None,
                                 height=theme.space(Space.BUTTON))
        self.agree = BigButton("face.agree", "success", size_hint_y=1)
        self.agree.bind(on_release=lambda *_: self.intents.choose_option("agree"))
        self.decline = BigButton("face.decline", "secondary", size_hint_y=1)
        self.decline.bind(on_release=lambda *_: self.intents.choose_option("decline"))
        self.answers.add_widget(self.agree)
        self.answers.add_widget(self.decline)
        self.split([self.preview_box], [self.instruction, self.consent, self.answers])

    def _size_preview(self, _box, size) -> None:
        height = min(current().space(Space.TILE) * 3.2, size[1], size[0] / 0.75)
        self.preview.size = (height * 0.75, height)

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        consent = v.consent_pending
        if "preview" in changed or "faces" in changed:
            self.preview.show_frame(v.preview, v.faces == 1)
        self.preview.opacity = 0 if consent else 1
        self.instruction.text = v.t(v.status_key or "face.instruction") if not consent \
            else v.t("face.title")
        self.instruction.set_pair("done" if v.faces == 1 else "body")
        self.consent.text = v.t("face.consent") if consent else ""
        self.answers.opacity = 1 if consent else 0
        self.agree.disabled = self.decline.disabled = not consent
        self.agree.text, self.decline.text = v.t("face.agree"), v.t("face.decline")


class ChooseScreen(KioskScreen):
    title_key = "choose.default_title"

    def build(self) -> None:
        # What else the citizen may do here (the queue: "or place your ID card").
        self.hint = TextLabel("muted", TypeSize.BODY, size_hint_y=None, height=0)
        self.hint.automation_id = "choose_hint"
        self.options = TilePager("choose", current().mode.options_per_page)
        self.body.add_widget(self.hint)
        self.body.add_widget(self.options)
        self._rendered: tuple = ()

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        if v.choose_title:
            self.heading.text = v.pick(v.choose_title)
        hint = v.status_key == "queue.hint"
        self.hint.text = v.t(v.status_key) if hint else ""
        self.hint.height = current().font(TypeSize.BODY) * 3.6 if hint else 0
        key = (v.options, v.language)
        if key == self._rendered:
            return
        self._rendered = key
        self.options.show(len(v.options), self._tile, v.t)

    def _tile(self, index: int) -> Widget:
        v = self.view
        option = v.options[index]
        text = v.pick(option.title)
        if option.fee_fen is not None:
            text += "\n" + v.t("choose.fee", fee=format_fen(option.fee_fen, v.language))
        button = BigButton(f"option.{option.code}", text=text, size_hint_y=1)
        button.bind(on_release=lambda _b, code=option.code: self.intents.choose_option(code))
        return button


class EnterAccountScreen(KioskScreen):
    """A large keypad; a bill's barcode held to the scanner fills the number too."""

    title_key = "account.title"

    def build(self) -> None:
        theme = current()
        self.prompt = TextLabel("body", TypeSize.BODY, size_hint_y=0.16)
        # The account number, or a mobile number for a text message (kiosk.steps_services).
        self.entry = mark_personal(TextLabel("headline", TypeSize.AMOUNT, bold=True,
                                             size_hint_y=0.14))
        self.error = TextLabel("alert", TypeSize.BODY, size_hint_y=0.1)
        self.hint = TextLabel("muted", TypeSize.SMALL, size_hint_y=0.14)
        # Letters too where the entry takes them (a document number, kiosk.steps_mrz).
        self.letters = LetterKeyboard("key", self.intents.key_press, extra=(), size_hint_y=None,
                                      height=0, opacity=0, disabled=True)
        for letter, button in self.letters.keys.items():
            button.text = letter.upper()           # as the document prints it
        grid = GridLayout(cols=3, spacing=theme.space(Space.GAP), size_hint_y=0.86)
        self.keys = {}
        for key in ["1", "2", "3", "4", "5", "6", "7", "8", "9", "back", "0", "ok"]:
            kind = "danger" if key == "back" else "success" if key == "ok" else "primary"
            button = BigButton(f"key.{key}", kind, TypeSize.KEY, text=key, size_hint_y=1)
            button.min_fit = 0.55           # a landscape panel's keypad is short
            button.bind(on_release=lambda _b, k=key: self.intents.key_press(k))
            self.keys[key] = button
            grid.add_widget(button)
        self.split([self.prompt, self.entry, self.error], [self.letters, grid, self.hint])

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        self.prompt.text = v.pick(v.entry_title) if v.entry_title else v.t("account.title")
        self.entry.text = v.entry or "_"
        self.error.text = v.t(v.entry_error_key) if v.entry_error_key else ""
        # A phone number is not an account: its own heading, and no barcode to hold up.
        phone = v.status_key == "phone.keypad"
        if phone or v.status_key == "mrz.keypad.hint":   # not an account: a heading of its own
            self.heading.text = v.t("phone.keypad" if phone else "mrz.keypad.title")
        self.hint.text = v.t(v.status_key if v.status_key.startswith("mrz.") else
                             "phone.hint" if phone else "account.scan_hint")
        self.letters.size_hint_y = 0.7 if v.entry_letters else None
        self.letters.height, self.letters.opacity = 0, 1 if v.entry_letters else 0
        self.letters.disabled = not v.entry_letters
        self.keys["back"].text = v.t("keypad.back")
        self.keys["ok"].text = v.t("keypad.ok")


class ConfirmScreen(KioskScreen):
    """What the citizen checks: an amount to pay, or (a step's own choices, e.g. "print" and
    "done" under a progress list, "confirm" and "type again" under a phone number) buttons."""

    title_key = "confirm.title"

    def build(self) -> None:
        theme = current()
        # A bill's holder and address, a masked mobile number, one's applications' progress.
        self.lines = mark_personal(TextLabel("body", TypeSize.BODY, size_hint_y=0.45,
                                             halign="left"))
        self.lines.automation_id = "confirm_lines"
        self.amount = TextLabel("alert", TypeSize.AMOUNT, bold=True, size_hint_y=0.2)
        self.pay = BigButton("confirm.pay", "success")
        self.pay.bind(on_release=lambda *_: self.intents.choose_option("confirm"))
        self.choices = BoxLayout(spacing=theme.space(Space.GAP), size_hint_y=None, height=0)
        self.split([self.lines], [self.amount, self.pay, self.choices, Widget(size_hint_y=0.1)])
        self._choices: tuple = ()

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        theme = current()
        if v.status_key.startswith("progress."):
            self.heading.text = v.t(v.status_key, **v.status_params)
        elif v.options:
            self.heading.text = v.t("confirm.check")     # a number or a list, not a payment
        self.lines.text = "\n".join(f"{v.pick(label)}{v.t('common.colon')}{value}"
                                    for label, value in v.confirm_lines)
        paying = not v.options
        self.amount.text = v.t("confirm.amount", fee=format_fen(v.fee_fen, v.language)) \
            if paying else ""
        self.amount.size_hint_y = 0.2 if paying else 0.01
        self.pay.text = v.t("confirm.pay")
        self.pay.opacity, self.pay.disabled = (1, False) if paying else (0, True)
        self.pay.height = theme.space(Space.BUTTON) if paying else 0
        self.choices.height = 0 if paying else theme.space(Space.BUTTON)
        key = (v.options, v.language)
        if key != self._choices:
            self._choices = key
            self.choices.clear_widgets()
            for index, option in enumerate(v.options):
                button = BigButton(f"option.{option.code}", "success" if index == 0
                                   else "secondary", text=v.pick(option.title), size_hint_y=1)
                button.bind(on_release=lambda _b, c=option.code: self.intents.choose_option(c))
                self.choices.add_widget(button)


class ScanDocumentScreen(KioskScreen):
    title_key = "scan.title"

    def build(self) -> None:
        self.which = TextLabel("headline", TypeSize.HEADING, bold=True, size_hint_y=0.3)
        self.guide = PlacementGuide(reader_at=0.5, page=True, size_hint_y=1.2)
        self.where = TextLabel("muted", TypeSize.BODY, size_hint_y=0.3)
        self.instruction = TextLabel("body", TypeSize.HEADING, size_hint_y=0.4)
        self.split([self.guide], [self.which, self.instruction, self.where])

    def on_enter(self, *args) -> None:
        self.guide.start()

    def on_leave(self, *args) -> None:
        self.guide.stop()

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        material = v.pick(v.scan_material) if v.scan_material else ""
        self.which.text = v.t("scan.which", index=v.scan_index, total=v.scan_total,
                              material=material)
        self.instruction.text = v.t(v.status_key or "scan.place")
        self.instruction.set_pair("alert" if v.status_key.startswith("scan.problem.") else "body")
        self.where.text = v.t("guide.scan")
        self.guide.side.text = v.t("guide.page_up")


class PayScreen(KioskScreen):
    title_key = "pay.title"

    def build(self) -> None:
        theme = current()
        self.amount = TextLabel("alert", TypeSize.AMOUNT, bold=True, size_hint_y=0.3)
        side = theme.space(Space.TILE) * 3
        self.panel = Panel(size_hint=(None, None), size=(side, side), padding=theme.space(Space.GAP),
                           pos_hint={"center_x": 0.5})
        self.qr = Image(fit_mode="contain")
        self.qr.automation_id = "pay.qr"
        self.panel.add_widget(self.qr)
        box = BoxLayout(orientation="vertical")
        box.add_widget(self.panel)
        self._qr_box = box
        self.instruction = TextLabel("body", TypeSize.BODY, size_hint_y=0.22)
        self.scan_hint = TextLabel("muted", TypeSize.SMALL, size_hint_y=0.14)
        self.order = TextLabel("muted", TypeSize.SMALL, size_hint_y=0.12)
        self.countdown = TextLabel("headline", TypeSize.BODY, bold=True, size_hint_y=0.18)
        self.countdown.automation_id = "pay.countdown"
        self.split([box], [self.amount, self.instruction, self.scan_hint, self.countdown,
                           self.order])
        self._qr_payload = ""
        box.bind(size=self._size_qr)

    def _size_qr(self, *_) -> None:
        # As large as a phone camera likes, never larger than the room the screen has for it.
        limit = current().space(Space.TILE) * 3.6
        side = min(limit, self._qr_box.width, self._qr_box.height)
        self.panel.size = (side, side)

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        if v.qr_payload and v.qr_payload != self._qr_payload:
            self.qr.texture = qr_texture(v.qr_payload)
            self._qr_payload = v.qr_payload
        self.amount.text = format_fen(v.fee_fen, v.language) if v.fee_fen else ""
        self.instruction.text = v.t("pay.instruction", fee=format_fen(v.fee_fen, v.language))
        self.order.text = v.t("pay.order", order=v.order_no) if v.order_no else ""
        self.scan_hint.text = v.t("pay.or_scan")
        self.countdown.text = v.t("pay.waiting", seconds=v.countdown_s) if v.countdown_s else ""


class ProcessingScreen(KioskScreen):
    title_key = "processing.title"

    def build(self) -> None:
        self.spinner = BusySpinner(size_hint_y=0.4)
        self.instruction = TextLabel("body", TypeSize.HEADING, size_hint_y=0.3)
        self.doing = TextLabel("headline", TypeSize.BODY, bold=True, size_hint_y=0.2)
        self.doing.automation_id = "processing.busy"
        self.split([self.spinner], [self.instruction, self.doing])

    def on_enter(self, *args) -> None:
        self.spinner.start()

    def on_leave(self, *args) -> None:
        self.spinner.stop()

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        # The step says what is happening ("printing your certificate", "take your document").
        self.instruction.text = v.t(v.status_key or "processing.instruction")
        self.instruction.set_pair("headline" if v.status_key == "collect.take" else "body")
        self.doing.text = v.t(v.busy_key) if v.busy_key else ""


class ResultScreen(KioskScreen):
    """What happened (and to the money), what to take back, and when the kiosk goes home."""

    title_key = "result.ok.title"

    def build(self) -> None:
        self.headline = TextLabel("done", TypeSize.DISPLAY, bold=True, size_hint_y=0.22)
        self.lines = mark_personal(TextLabel("body", TypeSize.BODY, size_hint_y=0.5))
        self.take = TextLabel("headline", TypeSize.HEADING, bold=True, size_hint_y=0.2)
        self.take.automation_id = "result.take"
        self.when = TextLabel("muted", TypeSize.SMALL, size_hint_y=0.1)
        self.countdown = TextLabel("muted", TypeSize.SMALL, size_hint_y=0.1)
        self.countdown.automation_id = "result.countdown"
        self.done = BigButton("result.done")
        self.done.bind(on_release=lambda *_: self.intents.finish())
        self.split([self.headline, self.lines], [self.take, self.when, self.done, self.countdown])

    def render(self, changed: set[str]) -> None:
        v = self.view
        self.title_key = v.result_title_key or "result.ok.title"
        super().render(changed)
        self.heading.text = ""
        self.headline.text = v.t(self.title_key)
        self.headline.set_pair("done" if v.result_ok else "alert")
        self.lines.text = "\n".join(v.pick(line) for line in v.result_lines)
        self.take.text = v.t("result.take", documents=documents_text(v)) if v.documents else ""
        if "screen" in changed or "language" in changed:
            self.when.text = v.t("result.time", time=format_datetime(
                datetime.datetime.now(), v.language))
        self.countdown.text = v.t("result.countdown", seconds=v.countdown_s) \
            if v.countdown_s else ""
        self.done.text = v.t("common.back_home")
