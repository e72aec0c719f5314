"""Chinese typed by pinyin on the comment's keyboard (kiosk.pinyin_input, kiosk.comment_typing),
on the real dictionary (jieba's word counts, pypinyin's readings) and the real session: the
words a citizen means come first, a tapped word takes the letters it spells, and no sequence of
keys breaks the comment or its limits."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypinyin import Style, lazy_pinyin, pinyin

from kiosk.comment_typing import MAX_LETTERS, PAGE, CommentTyping
from kiosk.evaluation import COMMENT_MAX, desk_for
from kiosk.pinyin_input import CANDIDATES, PinyinDictionary, load
from kiosk.viewmodel import ScreenId
from simulator.reference import QUEUE_TICKET
from tests.kiosk.test_flow_engine import kiosk  # noqa: F401 - the fixture

__all__ = ["kiosk"]


@pytest.fixture(scope="module")
def dictionary() -> PinyinDictionary:
    return load()


@pytest.mark.parametrize(("letters", "meant"), [
    ("banli", "办理"), ("manyi", "满意"), ("gongzuorenyuan", "工作人员"),
    ("shenfenzheng", "身份证"), ("dengdai", "等待"), ("yinhang", "银行"), ("shi", "是"),
])
def test_the_word_a_citizen_means_comes_first(dictionary, letters, meant):
    first = dictionary.candidates(letters)[0]
    assert (first.word, first.letters) == (meant, len(letters))


def test_a_long_run_of_pinyin_offers_all_of_it_written_then_its_first_word(dictionary):
    letters = "paiduishijiantaichang"   # 排队时间太长
    words = dictionary.candidates(letters)
    assert words[0].letters == len(letters) and words[0].word.startswith("排队时间")
    first = next(c for c in words if c.word == "排队")
    assert first.letters == len("paidui")
    assert dictionary.candidates(letters[first.letters:])[1].word == "时间"


def test_a_rarer_word_is_found_on_a_later_page(dictionary):
    typing = CommentTyping(COMMENT_MAX)
    for key in "zhi":
        typing.key(key, dictionary)
    assert typing.more and len(typing.shown) == PAGE and "纸" not in typing.shown_words()
    pages = 0
    while "纸" not in typing.shown_words():
        typing.key("more", dictionary)
        pages += 1
        assert pages < 5, "纸 is not among the words offered for zhi"
    typing.key(f"word:{typing.shown_words().index('纸')}", dictionary)
    assert (typing.comment, typing.letters, typing.page) == ("纸", "", 0)


def test_an_unfinished_syllable_is_completed_and_nonsense_offers_nothing(dictionary):
    assert dictionary.split("xian") == ("xian",)          # one syllable, not xi'an
    assert "心想" in [c.word for c in dictionary.candidates("xinxi")]   # xi... -> xiang
    assert dictionary.candidates("qwrt") == () and dictionary.candidates("") == ()


def _spells(word: str) -> set[str]:
    """Every way `word` (or the run of words written for all the letters) may be read,
    toneless, its syllables joined: each character by any of its readings."""
    readings = [pinyin(char, style=Style.NORMAL, heteronym=True)[0] for char in word]
    return {"".join(lazy_pinyin(word, style=Style.NORMAL)),
            *("".join(p) for p in itertools.product(*readings))}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", max_size=24))
def test_every_word_offered_spells_the_start_of_what_was_typed(dictionary, letters):
    words = dictionary.candidates(letters)
    assert len(words) <= CANDIDATES and len({c.word for c in words}) == len(words)
    for c in words:
        assert 0 < c.letters <= len(letters)
        typed = letters[:c.letters]
        # The whole of the letters may end in an unfinished syllable the word completes.
        assert any(s == typed or (c.letters == len(letters) and s.startswith(typed))
                   for s in _spells(c.word)), (letters, c)


KEYS = st.sampled_from([*"abcdefghijklmnopqrstuvwxyz", *"0123456789", "back", "space",
                        *(f"word:{n}" for n in range(10)), "word:x", "word:-1", "more", "ok",
                        ""])


@settings(max_examples=300, deadline=None)
@given(st.lists(KEYS, max_size=80))
def test_no_keys_break_the_comment_or_its_limits(dictionary, keys):
    typing = CommentTyping(COMMENT_MAX)
    for key in keys:
        before = typing.comment + typing.letters
        typing.key(key, dictionary)
        assert len(typing.comment) <= COMMENT_MAX and len(typing.letters) <= MAX_LETTERS
        assert len(typing.text) <= COMMENT_MAX
        if key == "back" and before:
            assert (typing.comment + typing.letters) == before[:-1]


async def test_the_rating_screen_types_chinese_through_the_session(kiosk):  # noqa: F811
    _, ctx, session = kiosk
    session.rating.offer(QUEUE_TICKET, "tx-1")
    assert session.rating.show() and ctx.view.screen is ScreenId.EVALUATE
    session.rate(1)                                    # the reasons and the comment's keyboard
    for key in "banli":
        session.comment_key(key)
    assert ctx.view.rating_composing == "banli"
    async with asyncio.timeout(20):                    # the dictionary, built off the loop
        while not ctx.view.rating_words:
            await asyncio.sleep(0.05)
    assert ctx.view.rating_words[0] == "办理"
    session.comment_key("word:0")
    for key in "tai":
        session.comment_key(key)
    session.comment_key("space")                      # the first word for "tai"
    assert ctx.view.rating_comment == "办理太" and ctx.view.rating_composing == ""
    for key in "man":                                 # never tapped: sent as typed
        session.comment_key(key)
    session.send_rating()
    # Stored in the kiosk's outbox for the evaluation backend (delivered by the kiosk's loop,
    # which does not run here): what the citizen wrote, the letters never tapped as typed.
    desk = desk_for(ctx)
    try:
        (queued,) = desk.outbox.heads()
    finally:
        desk.outbox.close()
    body = queued.submission.body
    assert body["comment"] == "办理太man" and body["level"] == 1


async def test_on_the_english_screen_letters_stay_english(kiosk, dictionary):  # noqa: F811
    _, ctx, session = kiosk
    session.rating.offer(QUEUE_TICKET, "tx-2")
    session.rating.show()
    ctx.view.update(language="en")
    session.rate(2)
    for key in [*"ok", "space", *"bad"]:     # pinyin for 哦可 and 把大, in Chinese
        session.comment_key(key)
    assert ctx.view.rating_words == () and ctx.view.rating_comment == "ok "
    assert ctx.view.rating_composing == "bad"
