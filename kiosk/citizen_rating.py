"""The rating screen after every service, finished or failed (好差评): the five national levels,
reason tags on the two lowest, an optional comment, or skip. The rating itself is
kiosk.evaluation's (validated, stored in its outbox, a 差评 reported, forwarded by the kiosk's
delivery loop); nothing here waits for the backend, and the screen goes home by itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from kiosk import pinyin_input
from kiosk.comment_typing import CommentTyping
from kiosk.evaluation import (
    COMMENT_MAX,
    LEVEL_TEXT,
    REASON_TAGS,
    EvaluationDesk,
    Level,
    RatingRefused,
    desk_for,
)
from kiosk.flow import FlowContext
from kiosk.viewmodel import OptionTile, ScreenId, SessionView

log = logging.getLogger(__name__)

THANKS_S = 2.0      # "thank you" stays this long before the attract screen


class CitizenRating:
    """One citizen's optional rating of the service they just had."""

    def __init__(self, ctx: FlowContext, go_home: Callable[[], None]) -> None:
        self.ctx = ctx
        self.view: SessionView = ctx.view
        self.go_home = go_home
        self._desk: EvaluationDesk | None = None
        self._subject: tuple[str, str] | None = None   # (item code, transaction) to rate
        self._agent_id = ""   # the village agent who ran it for the citizen, if any
        self._thanks: asyncio.TimerHandle | None = None
        self._typing = CommentTyping(COMMENT_MAX)
        self._dictionary: asyncio.Task[None] | None = None

    def offer(self, item_code: str, transaction: str, agent_id: str = "") -> None:
        """The service has ended (finished or failed): it may be rated once."""
        self._subject = (item_code, transaction)
        self._agent_id = agent_id

    def forget(self) -> None:
        self._subject = None
        self._typing = CommentTyping(COMMENT_MAX)   # what was typed goes with the citizen
        if self._thanks is not None:
            self._thanks.cancel()
            self._thanks = None

    def show(self) -> bool:
        """The rating screen, if there is something to rate (else False: go home)."""
        if self._subject is None:
            return False
        self._typing = CommentTyping(COMMENT_MAX)
        self.view.update(
            screen=ScreenId.EVALUATE, rating_level=0, rating_chosen=(), rating_comment="",
            rating_composing="", rating_words=(), rating_more_words=False, rating_note_key="",
            rating_tags=(),
            rating_levels=tuple(OptionTile(str(int(level)), LEVEL_TEXT[level])
                                for level in sorted(Level, reverse=True)))
        return True

    def rate(self, level: int) -> None:
        """A level: a good one is sent at once (one tap); a low one asks why first."""
        if self._subject is None or self.view.screen is not ScreenId.EVALUATE:
            return
        chosen = Level(level)
        if chosen.low:
            self.view.update(rating_level=int(chosen), rating_tags=tuple(
                OptionTile(key, text) for key, text in REASON_TAGS.items()))
            self._get_dictionary()   # for a comment in Chinese, while the reasons are read
        else:
            self.view.update(rating_level=int(chosen))
            self.send()

    def toggle_tag(self, tag: str) -> None:
        if tag not in REASON_TAGS or not Level(self.view.rating_level or 5).low:
            return
        chosen = self.view.rating_chosen
        self.view.update(rating_chosen=tuple(t for t in chosen if t != tag)
                         if tag in chosen else (*chosen, tag))

    def comment_key(self, key: str) -> None:
        """A key of the comment's keyboard, "word:N" for the N-th word shown, or "more"."""
        self._typing.key(key, self._words_from())
        self._show_typing()

    def _words_from(self) -> pinyin_input.PinyinDictionary | None:
        """Pinyin becomes Chinese words only on the Chinese screen: in English, "bad" and
        "ok" are words of their own."""
        return pinyin_input.loaded() if self.view.language == "zh" else None

    def _show_typing(self) -> None:
        typing = self._typing
        self.view.update(rating_comment=typing.comment, rating_composing=typing.letters,
                         rating_words=tuple(typing.shown_words()),
                         rating_more_words=typing.more)

    def _get_dictionary(self) -> None:
        """Builds the pinyin dictionary off the loop, once per kiosk run; letters typed
        meanwhile get their words when it is ready."""
        if pinyin_input.loaded() is not None or self._dictionary is not None:
            return

        async def build() -> None:
            try:
                await asyncio.to_thread(pinyin_input.load)
            except BaseException:
                self._dictionary = None   # asked for again at the next low rating
                raise
            if self.view.screen is ScreenId.EVALUATE:
                self._typing.suggest(self._words_from())
                self._show_typing()

        self._dictionary = self.ctx.tasks.spawn("pinyin-dictionary", build())

    def send(self) -> None:
        """Stored in the outbox (kiosk.evaluation); delivered by the kiosk's loop later."""
        if self._subject is None or not self.view.rating_level:
            return
        item_code, transaction = self._subject
        self._subject = None
        try:
            self._desk_().rate(item_code, transaction, self.view.rating_level,
                               self.view.rating_chosen, self._typing.text, self._agent_id)
        except RatingRefused as exc:      # a fixed list of tags: not expected, never shown
            log.error("rating not stored: %s", exc, extra={"transaction": transaction})
        self.view.update(rating_note_key="rate.thanks", rating_tags=())
        self._thanks = asyncio.get_running_loop().call_later(THANKS_S, self._after_thanks)

    def _after_thanks(self) -> None:
        self._thanks = None
        if self.view.screen is ScreenId.EVALUATE:
            self.go_home()

    def _desk_(self) -> EvaluationDesk:
        if self._desk is None:
            self._desk = desk_for(self.ctx)
        return self._desk

    def close(self) -> None:
        self.forget()
        if self._desk is not None:
            self._desk.outbox.close()
            self._desk = None
