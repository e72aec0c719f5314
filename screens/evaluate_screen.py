"""The rating after a service (好差评): the five national levels as big buttons, then on the two
lowest the reasons and an optional comment; "skip" everywhere, and it goes home by itself."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from screens.base import KioskScreen
from screens.keyboard import LetterKeyboard, word_keys
from screens.screen_share import mark_personal
from screens.theme import Space, TypeSize, current
from screens.widgets import BigButton, TextLabel


class EvaluateScreen(KioskScreen):
    title_key = "rate.title"

    def build(self) -> None:
        theme = current()
        self.service = TextLabel("headline", TypeSize.HEADING, bold=True, size_hint_y=None,
                                 height=theme.font(TypeSize.HEADING) * 2.2)
        self.optional = TextLabel("muted", TypeSize.SMALL, size_hint_y=None,
                                  height=theme.font(TypeSize.SMALL) * 1.8)
        self.optional.automation_id = "rating.optional"
        self.thanks = TextLabel("done", TypeSize.DISPLAY, bold=True)
        self.thanks.automation_id = "rating.thanks"
        self.levels = BoxLayout(orientation="vertical", spacing=theme.space(Space.GAP))
        self.why = TextLabel("body", TypeSize.BODY, bold=True, size_hint_y=None,
                             height=theme.font(TypeSize.BODY) * 1.8)
        elder = theme.elder   # bigger type: the reasons, words and keys take less room each
        self.tags = GridLayout(cols=2, spacing=theme.space(Space.GAP) / 2, size_hint_y=None,
                               height=theme.space(Space.BUTTON) * (1.7 if elder else 2.1))
        # What the citizen types is theirs: masked in the agent's copy of a video call.
        self.comment = mark_personal(TextLabel("body", TypeSize.SMALL, halign="left",
                                               size_hint_y=None,
                                               height=theme.font(TypeSize.SMALL) * 2.6))
        self.comment.automation_id = "rating.comment"
        # Chinese words for the pinyin typed (kiosk.pinyin_input): the citizen's too.
        self.words = mark_personal(GridLayout(cols=4, spacing=theme.space(Space.GAP) / 2,
                                              size_hint_y=None,
                                              height=theme.space(Space.BUTTON)
                                              * (0.8 if elder else 1.1)))
        self._words: tuple = ()
        self.keyboard = LetterKeyboard("comment_key", self.intents.comment_key,
                                       extra=("back", "space"), size_hint_y=None,
                                       height=theme.space(Space.BUTTON) * (1.8 if elder else 2.2))
        self.send = BigButton("rating.send", "success", size_hint_y=1)
        self.send.bind(on_release=lambda *_: self.intents.send_rating())
        # "Skip" under the levels and beside "send": one at a time is on the screen.
        self.skips = [BigButton("rating.skip", "secondary", size_hint_y=1) for _ in range(2)]
        for skip in self.skips:
            skip.bind(on_release=lambda *_: self.intents.finish())
        self.skip_row = self._row(self.skips[0])
        self.send_row = self._row(self.send, self.skips[1])
        # It goes home by itself, like the result screen: the citizen sees when.
        self.countdown = TextLabel("muted", TypeSize.SMALL, size_hint_y=None,
                                   height=theme.font(TypeSize.SMALL) * 1.6)
        self.countdown.automation_id = "rating.countdown"
        self._phase = ""
        self._levels: tuple = ()
        self._tags: tuple = ()

    def _show(self, phase: str) -> None:
        """Levels, reasons (after a low level) or thanks: only what the citizen acts on now."""
        if phase == self._phase:
            return
        self._phase = phase
        self.body.clear_widgets()
        widgets: list[Widget]
        if phase == "levels":
            widgets = [self.service, self.optional, self.levels, self.skip_row, self.countdown]
        elif phase == "reasons":
            widgets = [self.why, self.tags, self.comment, self.words, self.keyboard,
                       self.send_row, self.countdown]
        else:
            widgets = [self.thanks]
        for widget in widgets:
            self.body.add_widget(widget)

    @staticmethod
    def _row(*buttons: BigButton) -> BoxLayout:
        theme = current()
        row = BoxLayout(spacing=theme.space(Space.GAP), size_hint_y=None,
                        height=theme.space(Space.BUTTON) * 0.8)
        for button in buttons:
            row.add_widget(button)
        return row

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        if v.rating_note_key:
            self._show("thanks")
        elif v.rating_tags:
            self._show("reasons")
        else:
            self._show("levels")
        self.service.text = v.pick(v.service_title) if v.service_title else ""
        self.optional.text = v.t("rate.optional")
        self.thanks.text = v.t(v.rating_note_key) if v.rating_note_key else ""
        self.why.text = v.t("rate.why")
        self.countdown.text = v.t("result.countdown", seconds=v.countdown_s) \
            if v.countdown_s else ""
        typed = v.rating_comment + v.rating_composing
        self.comment.text = v.t("rate.comment", comment=typed or "_")
        words = (v.rating_words, v.rating_more_words, v.language)
        if words != self._words:
            self._words = words
            word_keys(self.words, "comment_word", v.rating_words, self.intents.comment_key,
                      lambda index, _word: f"word:{index}")
            if v.rating_more_words:
                more = BigButton("comment_word.more", "secondary", TypeSize.SMALL,
                                 text=v.t("rate.more_words"), size_hint_y=1)
                more.bind(on_release=lambda *_: self.intents.comment_key("more"))
                self.words.add_widget(more)
        self.send.text = v.t("rate.send")
        for skip in self.skips:
            skip.text = v.t("rate.skip")
        self.keyboard.render(v.t)
        key = (v.rating_levels, v.language)
        if key != self._levels:
            self._levels = key
            self.levels.clear_widgets()
            for option in v.rating_levels:
                button = BigButton(f"rating.{option.code}", text=v.pick(option.title),
                                   size_hint_y=1)
                button.bind(on_release=lambda _b, c=option.code: self.intents.rate(int(c)))
                self.levels.add_widget(button)
        tags = (v.rating_tags, v.rating_chosen, v.language)
        if tags != self._tags:
            self._tags = tags
            self.tags.clear_widgets()
            for option in v.rating_tags:
                button = BigButton(f"rating_tag.{option.code}",
                                   "success" if option.code in v.rating_chosen else "secondary",
                                   TypeSize.SMALL, text=v.pick(option.title), size_hint_y=1)
                button.bind(on_release=lambda _b, c=option.code:
                            self.intents.toggle_rating_tag(c))
                self.tags.add_widget(button)
