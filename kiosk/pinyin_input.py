"""Chinese typed on the kiosk's letter keyboard: pinyin in, words to tap out (拼音输入).

A citizen's comment on a rating (kiosk.citizen_rating) is typed as pinyin without tones,
"paiduishijianchang", and the screen offers Chinese words for the letters: 排队, 派对, then for
what is left, 时间... Tapping a word takes the letters it spells; "space" takes the first word.

The words and how common they are come from jieba's dictionary (349,046 words with their counts
in a large corpus); their readings from pypinyin, which reads a word as a whole (银行 yinhang,
not yinxing). The 60,000 most common words are indexed, every single character by each of its
readings, ranked by how often the words read it so. Building the index takes about three
seconds: it is built once per run (`load`, from a worker thread) in a process of its own, when
a low rating first shows the comment's keyboard, from jieba's dict.txt found without importing
jieba (whose import loads its segmenter's models). What the kiosk keeps is strings and numbers
(about 16 MB), which the collector never walks.
"""

from __future__ import annotations

import heapq
import importlib.util
import math
import pickle
import re
import subprocess
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

WORDS = 60_000           # the most common words of jieba's dictionary that are indexed
LONGEST_SYLLABLE = 6     # "zhuang", "shuang"
CANDIDATES = 8           # words offered at once
RARE_READING = 200       # a character's other readings count this many times less
SEP = "\x1f"              # between the words of one reading
LONGEST_WORD = 5         # syllables in the longest word a whole run is written with


# What a built dictionary is made of: words by reading, counts, completions, syllables, log N.
DictionaryState = tuple[dict[str, str], dict[str, int], dict[str, str], frozenset[str], float]


@dataclass(frozen=True)
class Candidate:
    word: str
    letters: int   # how many of the typed letters it spells, from the start


_HANZI = re.compile("[\u4e00-\u9fff]+")


def _is_hanzi(text: str) -> bool:
    return _HANZI.fullmatch(text) is not None


def jieba_dictionary() -> Path:
    """jieba's dict.txt, found without importing jieba (its import loads its segmenter's
    models and pkg_resources, which would hold up the loop for half a second)."""
    spec = importlib.util.find_spec("jieba")
    folders = spec.submodule_search_locations if spec is not None else None
    if not folders:
        raise FileNotFoundError("jieba is not installed")
    return Path(next(iter(folders))) / "dict.txt"


def jieba_words() -> Iterable[tuple[str, int]]:
    """(word, count) for every Chinese word of jieba's dictionary, in its file's order."""
    with jieba_dictionary().open(encoding="utf-8") as f:
        for line in f:
            word, count, *_ = line.split()
            if _is_hanzi(word):
                yield word, int(count)


class PinyinDictionary:
    """Words by their toneless syllables, commonest first, with their counts for whole runs of
    pinyin (`sentence`)."""

    def __init__(self, words: Iterable[tuple[str, int]], limit: int = WORDS) -> None:
        from pypinyin import Style, lazy_pinyin, pinyin

        common: list[tuple[int, str]] = []   # a heap of the `limit` commonest longer words
        alone: dict[str, int] = {}   # a character's count as a word of its own
        usage: dict[str, int] = {}   # its count in every word it is part of
        total = 0
        for word, count in words:    # streamed: the whole file is never held at once
            total += count
            for char in word:
                usage[char] = usage.get(char, 0) + count
            if len(word) == 1:
                alone[word] = count
            elif len(common) < limit:
                heapq.heappush(common, (count, word))
            elif count > common[0][0]:
                heapq.heapreplace(common, (count, word))
        by_syllables: dict[str, list[tuple[int, str]]] = {}
        read_as: dict[tuple[str, str], int] = {}   # (character, reading): its count in words
        for count, word in common:
            readings = lazy_pinyin(word, style=Style.NORMAL, errors="ignore")
            if len(readings) == len(word):
                by_syllables.setdefault(" ".join(readings), []).append((count, word))
                for char, reading in zip(word, readings, strict=True):
                    read_as[char, reading] = read_as.get((char, reading), 0) + count
        for char, count in usage.items():
            # Each reading as often as the words read it so (长 chang in 很长, zhang in 校长);
            # a character in none of them by its usual reading, others far behind.
            readings = pinyin(char, style=Style.NORMAL, heteronym=True)[0]
            for n, reading in enumerate(dict.fromkeys(readings)):
                counted = read_as.get((char, reading), 0) + (alone.get(char, 0) if n == 0 else 0)
                fallback = count if n == 0 else count // RARE_READING
                by_syllables.setdefault(reading, []).append((counted or fallback, char))
        # Strings only, keys ("pai dui") and values (the words, SEP between): the collector
        # never looks at them, so a dictionary this size costs no pauses later.
        self._words = {key: SEP.join(w for _, w in sorted(found, key=lambda cw: -cw[0]))
                       for key, found in by_syllables.items()}
        # The commonest word of each reading, and its count (how `sentence` weighs it).
        self._counts = {key: max(c for c, _ in found) for key, found in by_syllables.items()}
        self._log_total = math.log(max(total, 1))
        self.syllables = frozenset(s for key in self._words for s in key.split() if s.isalpha())
        prefixes: dict[str, list[str]] = {}
        for syllable in sorted(self.syllables):
            for end in range(1, len(syllable) + 1):
                prefixes.setdefault(syllable[:end], []).append(syllable)
        self._completions = {p: " ".join(s) for p, s in prefixes.items()}

    def state(self) -> DictionaryState:
        return (self._words, self._counts, self._completions, self.syllables, self._log_total)

    @classmethod
    def from_state(cls, state: DictionaryState) -> PinyinDictionary:
        made = cls.__new__(cls)
        made._words, made._counts, made._completions, made.syllables, made._log_total = state
        return made

    def split(self, letters: str) -> tuple[str, ...]:
        """The typed letters as syllables, in as few as can be; the last may be unfinished
        ("xian" is one syllable, "xia" and "xiang" both start "xia"). Empty if they are not
        pinyin at all."""
        n = len(letters)
        best: list[tuple[str, ...] | None] = [None] * (n + 1)
        best[n] = ()
        for start in range(n - 1, -1, -1):
            for end in range(min(n, start + LONGEST_SYLLABLE), start, -1):
                piece, rest = letters[start:end], best[end]
                whole = piece in self.syllables
                if rest is None or not (whole or (end == n and piece in self._completions)):
                    continue
                found = (piece, *rest)
                current = best[start]
                if current is None or len(found) < len(current):
                    best[start] = found
        return best[0] or ()

    def candidates(self, letters: str, limit: int = CANDIDATES) -> tuple[Candidate, ...]:
        """Words for the typed letters: the likeliest writing of all of them (`sentence`), those
        spelling all of them, then those spelling the longest start of them; commonest first
        within each."""
        pieces = self.split(letters.lower())
        found: list[Candidate] = []
        seen: set[str] = set()
        whole = self.sentence(pieces) if len(pieces) > 1 else ""
        if whole:
            seen.add(whole)
            found.append(Candidate(whole, len(letters)))
        for k in range(len(pieces), 0, -1):
            used = len("".join(pieces[:k]))
            for word in self._words_for(pieces[:k], unfinished=k == len(pieces)):
                if word not in seen:
                    seen.add(word)
                    found.append(Candidate(word, used))
                    if len(found) == limit:
                        return tuple(found)
        return tuple(found)

    def sentence(self, pieces: tuple[str, ...]) -> str:
        """The likeliest words for all the syllables, as jieba segments a sentence: the
        product of each word's share of the corpus, highest; "" if some syllable has none."""
        n = len(pieces)
        best: list[tuple[float, str] | None] = [(0.0, "")] + [None] * n
        for end in range(1, n + 1):
            for start in range(max(0, end - LONGEST_WORD), end):
                before = best[start]
                key = self._likeliest(pieces[start:end], unfinished=end == n)
                if before is None or key is None:
                    continue
                score = before[0] + math.log(self._counts[key]) - self._log_total
                current = best[end]
                if current is None or score > current[0]:
                    best[end] = (score, before[1] + self._words[key].split(SEP, 1)[0])
        written = best[n]
        return written[1] if written is not None else ""

    def _likeliest(self, pieces: tuple[str, ...], unfinished: bool) -> str | None:
        """The reading of these syllables with the commonest word (the last syllable may be
        completed when `unfinished`); None if no word reads so."""
        whole = " ".join(pieces)
        keys = [whole] if whole in self._words else []
        if unfinished:
            head = " ".join((*pieces[:-1], ""))
            keys += [k for s in self._completions.get(pieces[-1], "").split()
                     if (k := head + s) in self._words]
        return max(keys, key=self._counts.__getitem__, default=None)

    def _words_for(self, pieces: tuple[str, ...], unfinished: bool) -> Iterable[str]:
        head, last = " ".join((*pieces[:-1], "")), pieces[-1]
        found = self._words.get(" ".join(pieces))
        if found:
            yield from found.split(SEP)
        if not unfinished:
            return
        longer = [head + s for s in self._completions.get(last, "").split() if s != last]
        for key in sorted((k for k in longer if k in self._words),
                          key=lambda k: -self._counts[k]):
            yield from self._words[key].split(SEP)[:2]


_loaded: PinyinDictionary | None = None
_loading = threading.Lock()


def load() -> PinyinDictionary:
    """The kiosk's dictionary, built on first use (about 3 s: call it off the loop)."""
    global _loaded
    with _loading:
        if _loaded is None:
            # Built in a process of its own (`python -m kiosk.pinyin_input`): built on a thread
            # of ours, it held the loop up by 0.3-0.7 s at a time (the file's and pypinyin's
            # work keeps the interpreter lock); what comes back is strings and numbers only.
            built = subprocess.run([sys.executable, "-m", __name__], capture_output=True,
                                   timeout=120, check=True)
            _loaded = PinyinDictionary.from_state(pickle.loads(built.stdout))
        return _loaded


if __name__ == "__main__":   # the builder process: the dictionary, as the values it is made of
    sys.stdout.buffer.write(pickle.dumps(PinyinDictionary(jieba_words()).state()))


def loaded() -> PinyinDictionary | None:
    """The dictionary if it is built already (never builds it: safe on the loop)."""
    return _loaded
