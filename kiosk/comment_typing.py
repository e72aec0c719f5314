"""A rating's comment as the citizen types it on the letter keyboard (kiosk.citizen_rating):
letters are pinyin until a word is tapped (kiosk.pinyin_input), "space" takes the first word,
"more" shows the next page of words, "back" takes back a letter, then a character. Letters that
never became a word stay as typed."""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.pinyin_input import Candidate, PinyinDictionary

LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")
DIGITS = frozenset("0123456789")
MAX_LETTERS = 30   # pinyin waiting for its words: about six syllables more than a long word
PAGE = 7           # words on the screen at once (beside "more", when there are more)
OFFERED = 35       # words offered in all, over five pages


@dataclass
class CommentTyping:
    limit: int                                  # characters the comment may hold
    comment: str = ""                           # what is written, words and all
    letters: str = ""                           # pinyin typed, not a word yet
    words: tuple[Candidate, ...] = field(default=())   # words offered for the letters
    page: int = 0                               # the page of them on the screen

    @property
    def shown(self) -> tuple[Candidate, ...]:
        return self.words[self.page * PAGE:(self.page + 1) * PAGE]

    def shown_words(self) -> list[str]:
        return [c.word for c in self.shown]

    @property
    def more(self) -> bool:
        """More words than the screen shows at once: "more" pages through them."""
        return len(self.words) > PAGE

    @property
    def text(self) -> str:
        """What is sent: the comment, and letters that never became a word as typed."""
        return (self.comment + self.letters)[:self.limit]

    def key(self, key: str, dictionary: PinyinDictionary | None) -> None:
        """One key of the keyboard, or "word:N" for the N-th word offered; anything else is
        ignored. `dictionary` None: not built yet, the letters wait for it."""
        if key == "more":
            pages = -(-len(self.words) // PAGE)
            self.page = (self.page + 1) % pages if pages else 0
            return
        if key.startswith("word:"):
            index = key.removeprefix("word:")
            if index.isdigit() and int(index) < len(self.shown):
                chosen = self.shown[int(index)]
                self._write(chosen.word)
                self.letters = self.letters[chosen.letters:]
        elif key == "back":
            if self.letters:
                self.letters = self.letters[:-1]
            else:
                self.comment = self.comment[:-1]
        elif key == "space":
            if self.letters and self.words:    # the first word shown, as input methods do
                self.key("word:0", dictionary)
                return
            self._flush()                       # Latin letters: a word of their own
            if self.comment and not self.comment.endswith(" "):
                self._write(" ")
        elif key in LETTERS and len(self.letters) < MAX_LETTERS:
            self.letters += key
        elif key in DIGITS:
            self._flush()
            self._write(key)
        self.suggest(dictionary)

    def suggest(self, dictionary: PinyinDictionary | None) -> None:
        self.words = (dictionary.candidates(self.letters, OFFERED)
                      if dictionary is not None and self.letters else ())
        self.page = 0

    def _flush(self) -> None:
        self._write(self.letters)
        self.letters = ""

    def _write(self, text: str) -> None:
        self.comment = (self.comment + text)[:self.limit]
