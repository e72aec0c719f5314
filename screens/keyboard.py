"""An on-screen keyboard of big keys: letters for pinyin initials (search) and a short comment
(the rating), with delete and clear or space. Kiosks have no physical keyboard."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kivy.uix.gridlayout import GridLayout
from kivy.uix.layout import Layout

from screens.theme import Space, TypeSize, current
from screens.widgets import BigButton

LETTERS = "abcdefghijklmnopqrstuvwxyz"
_KEY_TEXTS = {"back": "keyboard.back", "clear": "keyboard.clear", "space": "keyboard.space"}


class LetterKeyboard(GridLayout):
    """26 letters in alphabetical order (citizens who do not type find them faster than on
    QWERTY), then `extra` keys; each key sends its name to `on_key`."""

    def __init__(self, name: str, on_key: Callable[[str], None],
                 extra: tuple[str, ...] = ("back", "clear"), **kwargs):
        theme = current()
        cols = 7
        super().__init__(cols=cols, spacing=theme.space(Space.GAP) / 2, **kwargs)
        self.keys: dict[str, BigButton] = {}
        for key in (*LETTERS, *extra):
            kind = "danger" if key == "back" else "secondary" if key in extra else "primary"
            button = BigButton(f"{name}.{key}", kind, TypeSize.BODY if key in extra
                               else TypeSize.KEY, text=key, size_hint_y=1)
            button.min_fit = 0.5
            button.bind(on_release=lambda _b, k=key: on_key(k))
            self.keys[key] = button
            self.add_widget(button)

    def render(self, t: Callable[..., str]) -> None:
        for key, text_key in _KEY_TEXTS.items():
            if key in self.keys:
                self.keys[key].text = t(text_key)


def word_keys(grid: Layout, name: str, words: Sequence[str], on_key: Callable[[str], None],
              key_for: Callable[[int, str], str]) -> None:
    """Chinese words to tap above a keyboard (the search's, the comment's): `grid` holds one
    button a word, `name.N`, each sending `key_for(N, word)` to `on_key`."""
    grid.clear_widgets()
    for index, word in enumerate(words):
        button = BigButton(f"{name}.{index}", "secondary", TypeSize.SMALL, text=word,
                           size_hint_y=1)
        key = key_for(index, word)
        button.bind(on_release=lambda _b, k=key: on_key(k))
        grid.add_widget(button)
