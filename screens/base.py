"""The frame every citizen screen shares: header, progress bar, heading, body, footer.

A screen fills `build()` with its widgets and `render()` from the view. Portrait panels stack a
screen's picture over its text; landscape panels put them side by side (`self.split`).
"""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from kiosk.viewmodel import Intents, SessionView
from screens.guides import StageBar
from screens.theme import Space, TypeSize, current
from screens.widgets import Background, Footer, Header, TextLabel


class KioskScreen(Screen):
    """A screen with the standard header, progress bar and footer around a body column."""

    title_key = ""
    has_header = True

    def __init__(self, view: SessionView, intents: Intents, **kwargs):
        super().__init__(**kwargs)
        theme = current()
        self.view, self.intents = view, intents
        self.add_widget(Background())
        root = BoxLayout(orientation="vertical")
        pad = theme.space(Space.PAD)
        if self.has_header:
            self.header = Header(self.name, intents, view)
            self.progress = StageBar()
            self.heading = TextLabel("headline", TypeSize.TITLE, bold=True, size_hint_y=None,
                                     height=theme.font(TypeSize.TITLE)
                                     * (1.7 if theme.landscape else 2.4))
            self.heading.automation_id = f"{self.name}.heading"
            root.add_widget(self.header)
            root.add_widget(self.progress)
            root.add_widget(self.heading)
        self.body = BoxLayout(orientation="vertical", padding=(pad, pad / 2),
                              spacing=theme.space(Space.GAP))
        root.add_widget(self.body)
        if self.has_header:
            self.footer = Footer(self.name, intents)
            root.add_widget(self.footer)
        self.add_widget(root)
        self.build()

    def split(self, picture: list[Widget], text: list[Widget]) -> None:
        """The picture part and the text part: stacked, or side by side on a landscape panel."""
        if not current().landscape:
            for widget in (*picture, *text):
                self.body.add_widget(widget)
            return
        gap = current().space(Space.GAP)
        row = BoxLayout(orientation="horizontal", spacing=gap * 2)
        for part in (picture, text):
            column = BoxLayout(orientation="vertical", spacing=gap)
            for widget in part:
                column.add_widget(widget)
            row.add_widget(column)
        self.body.add_widget(row)

    def build(self) -> None:
        """Creates the body's widgets once."""

    def render(self, changed: set[str]) -> None:
        """Re-renders from the view; `changed` names the fields that changed."""
        if self.has_header:
            self.header.render(self.view)
            self.progress.render(self.view)
            self.footer.render(self.view)
            self.heading.text = self.view.t(self.title_key) if self.title_key else ""

    def on_leave(self, *args) -> None:
        """Animations stop when the screen is not shown."""
