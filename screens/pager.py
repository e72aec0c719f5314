"""A page of big tiles with "上一页 / 下一页": the menu's services and a step's options.

Elder mode shows fewer tiles per page (screens.theme.Mode); a landscape panel lays them in two
columns. The first page holds the first items, so the usual choice costs no extra tap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from screens.theme import Space, TypeSize, current
from screens.widgets import BigButton, TextLabel


class TilePager(BoxLayout):
    def __init__(self, name: str, per_page: int, **kwargs):
        theme = current()
        super().__init__(orientation="vertical", spacing=theme.space(Space.GAP), **kwargs)
        self.name = name
        self.per_page = per_page
        columns = 2 if theme.landscape else 1
        self.grid = GridLayout(cols=columns, spacing=theme.space(Space.GAP))
        self.nav = BoxLayout(spacing=theme.space(Space.GAP), size_hint_y=None, height=0)
        self.prev = BigButton(f"{name}.prev_page", "secondary", TypeSize.SMALL, size_hint_y=1)
        self.page_label = TextLabel("muted", TypeSize.SMALL)
        self.next = BigButton(f"{name}.next_page", "secondary", TypeSize.SMALL, size_hint_y=1)
        self.prev.bind(on_release=lambda *_: self._turn(-1))
        self.next.bind(on_release=lambda *_: self._turn(1))
        for widget in (self.prev, self.page_label, self.next):
            self.nav.add_widget(widget)
        self.add_widget(self.grid)
        self.add_widget(self.nav)
        self.page = 0
        self._make: Callable[[int], Widget] | None = None
        self._count = 0
        self._t: Callable[..., str] = lambda key, **_: key

    def show(self, count: int, make: Callable[[int], Widget], t: Callable[..., str],
             keep_page: bool = False) -> None:
        """`make(i)` builds tile i; `t` translates the navigation."""
        self._make, self._count, self._t = make, count, t
        if not keep_page:
            self.page = 0
        self._render()

    @property
    def pages(self) -> int:
        return max(1, -(-self._count // self.per_page))

    def _turn(self, step: int) -> None:
        self.page = min(max(self.page + step, 0), self.pages - 1)
        self._render()

    def _render(self) -> None:
        theme = current()
        self.grid.clear_widgets()
        first = self.page * self.per_page
        indices: Sequence[int] = range(first, min(first + self.per_page, self._count))
        for i in indices:
            assert self._make is not None
            self.grid.add_widget(self._make(i))
        rows = -(-self.per_page // self.grid.cols)
        for _ in range(rows * self.grid.cols - len(indices)):
            self.grid.add_widget(Widget())    # keep tiles the same height on the last page
        paged = self.pages > 1
        self.nav.height = theme.space(Space.BUTTON) * 0.75 if paged else 0
        self.nav.opacity = 1 if paged else 0
        self.prev.disabled = not paged or self.page == 0
        self.next.disabled = not paged or self.page >= self.pages - 1
        self.prev.text = self._t("common.prev_page")
        self.next.text = self._t("common.next_page")
        self.page_label.text = self._t("common.page", page=self.page + 1, pages=self.pages) \
            if paged else ""
