"""Chinese typed by pinyin on the rating's comment keyboard (kiosk.pinyin_input,
kiosk.comment_typing): how long the dictionary takes to build (`dictionary_build_s`, in this
process) and to load as the kiosk loads it (`load_s`: in a process of its own, once per run,
while the citizen reads the reasons), how late the loop's 16 ms timer runs meanwhile
(`loop_late_ms_max`), the memory it holds, and a keystroke to the words offered (on the loop:
`keystroke_ms_p95`).

Prints {"dictionary_build_s": ..., "keystroke_ms_p95": ..., ...} as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time

from bench.menu import percentile
from kiosk.comment_typing import PAGE, CommentTyping
from kiosk.evaluation import COMMENT_MAX
from kiosk.pinyin_input import PinyinDictionary, jieba_words, load

# Comments citizens write on a low rating: the pinyin they type and what they mean.
COMMENTS = [("paiduishijiantaichang", "排队时间太长"), ("gongzuorenyuantaiduhenhao", "工作人员态度很好"),
            ("jiqihuaile", "机器坏了"), ("dayinjimeiyouzhi", "打印机没有纸"),
            ("shenfenzhengdubuchulai", "身份证读不出来"), ("dengdaitaijiu", "等待太久"),
            ("pingmutaian", "屏幕太暗"), ("buzhidaozenmeban", "不知道怎么办"),
            ("shoufeibuqingchu", "收费不清楚"), ("xitongtaiman", "系统太慢")]


def write(dictionary: PinyinDictionary, letters: str, meant: str,
          keystrokes: list[float]) -> tuple[str, list[int]]:
    """A citizen types the letters, then taps the words that write what they mean: the longest
    one on the screen that does, else "more" for the next page of words. What is written, and
    each tapped word's place among all offered (0: the first; PAGE and on: after "more")."""
    typing = CommentTyping(COMMENT_MAX)
    for letter in letters:
        start = time.perf_counter()
        typing.key(letter, dictionary)
        keystrokes.append((time.perf_counter() - start) * 1000)
    places = []
    while typing.letters:
        rest = meant[len(typing.comment):]
        for _ in range(-(-len(typing.words) // PAGE)):
            fitting = [(len(c.word), -n, n) for n, c in enumerate(typing.shown)
                       if rest.startswith(c.word)]
            if fitting:
                break
            typing.key("more", dictionary)
        else:
            break
        place = max(fitting)[2]
        places.append(typing.page * PAGE + place)
        start = time.perf_counter()
        typing.key(f"word:{place}", dictionary)
        keystrokes.append((time.perf_counter() - start) * 1000)
    return typing.text, places


async def loaded_as_the_kiosk_does() -> tuple[float, float]:
    """(seconds, the loop's 16 ms timer's worst lateness in ms) of kiosk.pinyin_input.load."""
    late: list[float] = []
    done = False

    async def tick() -> None:
        while not done:
            start = time.perf_counter()
            await asyncio.sleep(0.016)
            late.append((time.perf_counter() - start - 0.016) * 1000)

    ticking = asyncio.create_task(tick())
    start = time.perf_counter()
    await asyncio.to_thread(load)
    seconds = time.perf_counter() - start
    done = True
    await ticking
    return seconds, max(late)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    dictionary = PinyinDictionary(jieba_words())
    build_s = time.perf_counter() - start
    rss_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024

    keystrokes: list[float] = []
    places: list[int] = []
    written = 0
    for _ in range(args.rounds):
        places.clear()
        written = 0
        for letters, meant in COMMENTS:
            text, tapped = write(dictionary, letters, meant, keystrokes)
            written += text == meant
            places += tapped
    first = PinyinDictionary.candidates(dictionary, COMMENTS[0][0])[0].word
    load_s, late_ms = asyncio.run(loaded_as_the_kiosk_does())
    print(f"first offered for {COMMENTS[0][0]!r}: {first}; taps at places {places}")
    print(json.dumps({
        "dictionary_build_s": round(build_s, 3),
        "dictionary_rss_mb": round(rss_mb, 1),
        "load_s": round(load_s, 3),
        "loop_late_ms_max": round(late_ms, 1),
        "syllables": len(dictionary.syllables),
        "keystroke_ms_p95": round(percentile(keystrokes, 0.95), 3),
        "keystroke_ms_max": round(max(keystrokes), 3),
        "keystrokes": len(keystrokes),
        # The comments written as meant by tapping words offered, and how many taps that took
        # (a tap on the first word is what "space" does; "more" shows the next page of words).
        "comments_written": written,
        "comments": len(COMMENTS),
        "word_taps": len(places),
        "taps_on_first_word": sum(p == 0 for p in places),
        "taps_after_more": sum(p >= PAGE for p in places),
        "tap_place_max": max(places, default=0),
    }))


if __name__ == "__main__":
    main()
