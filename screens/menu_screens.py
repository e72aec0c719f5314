"""Finding a service: the menu (this kiosk's items, or every item by department or life event),
search on an on-screen keyboard, and an item's guide (办事指南) with its QR code and checklist.
Each renders the session view and sends intents; the finding itself is the kiosk's."""

from __future__ import annotations

import re
import unicodedata

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.image import Image
from kivy.uix.widget import Widget

from kiosk.viewmodel import MenuTab, ServiceTile
from screens.base import KioskScreen
from screens.keyboard import LetterKeyboard, word_keys
from screens.pager import TilePager
from screens.theme import Space, TypeSize, current
from screens.widgets import BigButton, Panel, TextLabel, qr_texture

_TABS = {MenuTab.KIOSK: "menu.tab.kiosk", MenuTab.DEPARTMENTS: "menu.tab.departments",
         MenuTab.LIFE_EVENTS: "menu.tab.life_events"}


# Elder mode's type is 1.4x or more: a summary keeps to one line there, so the tile's name keeps
# its size (a markup size does not shrink with the label's fitting). Widths in half-em units: a
# wide (CJK) character counts 2, a Latin one 1; 40 is one line of a portrait tile.
ELDER_SUMMARY_WIDTH = 40
CLAUSE_END = r"[\uff0c,\uff1b;\u3002]"  # ，, ；; 。 (escaped: no visible text outside i18n)
KEPT_TILES = 48  # search result tiles kept built between keystrokes


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def brief(summary: str) -> str:
    """The summary if it fits one elder-mode line, else its first clause (cut if need be) and an
    ellipsis."""
    if _width(summary) <= ELDER_SUMMARY_WIDTH:
        return summary
    kept = ""
    for char in re.split(CLAUSE_END, summary, maxsplit=1)[0].strip():
        if _width(kept + char) > ELDER_SUMMARY_WIDTH - 2:
            break
        kept += char
    return kept.rstrip() + "…"


def service_button(screen: KioskScreen, tile: ServiceTile) -> Widget:
    """A service's tile: its name, summary and a note (why not now, no receipt, guide only).
    A guide-only item's tile opens its guide; the kiosk decides (choose_service)."""
    v = screen.view
    theme = current()
    small = int(theme.font(TypeSize.SMALL))
    text = v.pick(tile.title)
    # Elder type, or a landscape panel's short tiles: the summary keeps to one line; both at
    # once leave room for the name alone (the guide says the rest).
    if v.elder and theme.landscape:
        summary = ""
    elif v.elder or theme.landscape:
        summary = brief(v.pick(tile.summary))
    else:
        summary = v.pick(tile.summary)
    if summary:
        text += f"\n[size={small}]{summary}[/size]"
    note = tile.reason_key if not tile.available else tile.warning_key
    if note:
        # The note's colour pair: button_note, secondary_note or disabled_reason (theme).
        colour = theme.palette.disabled_reason if not tile.available else \
            theme.palette.primary_note
        text += f"\n[size={small}][color={colour.lstrip('#')}]{v.t(note)}[/color][/size]"
    button = BigButton(f"service.{tile.code}", "secondary" if tile.guide_only else "primary",
                       text=text, markup=True, size_hint_y=1, disabled=not tile.available)
    button.min_fit = 0.6
    button.bind(on_release=lambda _b, code=tile.code: screen.intents.choose_service(code))
    return button


class MenuScreen(KioskScreen):
    title_key = "menu.title"

    def build(self) -> None:
        theme = current()
        row = theme.space(Space.BUTTON) * 0.72
        self.banner = TextLabel("alert", TypeSize.BODY, size_hint_y=None, height=0)
        self.search = BigButton("menu.search", "secondary", TypeSize.BODY, height=row)
        self.search.bind(on_release=lambda *_: self.intents.open_search())
        self.tabs = BoxLayout(spacing=theme.space(Space.GAP), size_hint_y=None, height=row)
        self.tab_buttons: dict[MenuTab, BigButton] = {}
        for tab in MenuTab:
            button = BigButton(f"tab.{tab.value}", "secondary", TypeSize.SMALL,
                               size_hint_y=1)
            button.bind(on_release=lambda _b, t=tab: self.intents.show_tab(t.value))
            self.tab_buttons[tab] = button
            self.tabs.add_widget(button)
        self.tiles = TilePager("menu", theme.mode.tiles_per_page)
        self.empty = TextLabel("body", TypeSize.BODY, size_hint_y=None, height=0)
        self.agent_out = BigButton("agent.sign_out", "secondary", TypeSize.SMALL,
                                   size_hint_y=None, height=0, opacity=0, disabled=True)
        self.agent_out.bind(on_release=lambda *_: self.intents.agent_sign_out())
        if theme.landscape:  # a short panel: search and the tabs share a row, the tiles get it
            self.search.size_hint_x = 1.6
            self.tabs.add_widget(self.search, index=len(self.tabs.children))
            rows: tuple[Widget, ...] = (self.banner, self.agent_out, self.tabs, self.empty,
                                        self.tiles)
        else:
            rows = (self.banner, self.agent_out, self.search, self.tabs, self.empty, self.tiles)
        for widget in rows:
            self.body.add_widget(widget)
        self._rendered: tuple = ()

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        theme = current()
        self.banner.text = "" if v.network_ok else v.t("network.down")
        self.banner.height = 0 if v.network_ok else theme.font(TypeSize.BODY) * 2.4
        agent = bool(v.agent_id)  # batch mode: the agent's way out, between citizens
        self.agent_out.text = v.t("agent.sign_out")
        self.agent_out.height = theme.font(TypeSize.SMALL) * 2.4 if agent else 0
        self.agent_out.opacity, self.agent_out.disabled = (1, False) if agent else (0, True)
        self.search.text = v.t("menu.search")
        for tab, button in self.tab_buttons.items():
            button.text = v.t(_TABS[tab])
            button.set_kind("primary" if tab is v.menu_tab else "secondary")
        if v.category_title:
            self.heading.text = v.pick(v.category_title)
        if v.menu_tab is MenuTab.KIOSK:
            tiles = v.menu_tiles()
            content: tuple = tiles
            make = lambda i: service_button(self, tiles[i])  # noqa: E731
        elif v.category_title:
            content = v.category_items
            make = lambda i: service_button(self, v.category_items[i])  # noqa: E731
        else:
            content = v.categories
            make = self._category
        self.empty.text = "" if content else v.t("menu.empty")
        self.empty.height = 0 if content else theme.font(TypeSize.BODY) * 3
        key = (v.menu_tab, v.category_title.get("zh", ""), content, v.language)
        if key == self._rendered:
            return
        keep = bool(self._rendered) and self._rendered[:3] == key[:3]
        self._rendered = key
        self.tiles.show(len(content), make, v.t, keep_page=keep)

    def on_pre_enter(self, *args) -> None:
        # Each visit's menu opens on its first page (a previous citizen may have left it on
        # another): the usual choices are there, and the pager only ever has to go forward.
        self._rendered = ()
        self.render({"services"})

    def _category(self, index: int) -> Widget:
        v = self.view
        category = v.categories[index]
        small = int(current().font(TypeSize.SMALL))
        button = BigButton(f"category.{category.key}", text=f"{v.pick(category.title)}\n"
                           f"[size={small}]{v.t('menu.count', count=category.count)}[/size]",
                           markup=True, size_hint_y=1)
        button.bind(on_release=lambda _b, key=category.key: self.intents.open_category(key))
        return button


class SearchScreen(KioskScreen):
    """What was typed, the results as it is typed (most used first), Chinese words to tap,
    and a keyboard of letters for pinyin initials ("sfz" finds 身份证)."""

    title_key = "search.title"

    def build(self) -> None:
        theme = current()
        self.query = TextLabel("headline", TypeSize.HEADING, bold=True, size_hint_y=None,
                               height=theme.font(TypeSize.HEADING) * 1.8)
        self.query.automation_id = "search_box.query"
        self.found = TextLabel("muted", TypeSize.SMALL, size_hint_y=None,
                               height=theme.font(TypeSize.SMALL) * 1.6)
        per_page = 2 if theme.elder else 3    # the keyboard needs the rest
        self.results = TilePager("search", per_page)
        self.words = GridLayout(cols=4, spacing=theme.space(Space.GAP) / 2, size_hint_y=None,
                                height=theme.space(Space.BUTTON) * (0.8 if theme.elder else 1.0))
        self.keyboard = LetterKeyboard("search_key", self.intents.search_key, size_hint_y=None,
                                       height=theme.space(Space.BUTTON) * (2.1 if theme.elder
                                                                            else 2.6))
        self.split([self.query, self.found, self.results], [self.words, self.keyboard])
        self._rendered: tuple = ()
        self._words: tuple = ()
        self._built: dict[tuple, Widget] = {}

    def _tile(self, tile: ServiceTile) -> Widget:
        """A result's tile; the one built for an earlier keystroke when it shows the same (the
        next letter mostly keeps the best results, and drawing their text is a keystroke's
        biggest cost on software GL: bench.menu's search_screen_ms)."""
        v = self.view
        key = (tile.code, v.pick(tile.title), v.pick(tile.summary), tile.available,
               tile.reason_key, tile.warning_key, tile.guide_only, v.language)
        button = self._built.get(key)
        if button is None:
            button = service_button(self, tile)
            if len(self._built) >= KEPT_TILES:
                self._built.pop(next(iter(self._built)))
            self._built[key] = button
        return button

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        self.query.text = v.search_query or v.t("search.hint")
        self.query.set_pair("headline" if v.search_query else "muted")
        count = len(v.search_results)
        self.found.text = v.t("search.found", count=count) if v.search_query and count \
            else v.t("search.none") if v.search_query else v.t("search.popular")
        self.keyboard.render(v.t)
        if v.search_words != self._words:
            self._words = v.search_words
            word_keys(self.words, "search_word", v.search_words, self.intents.search_key,
                      lambda _index, word: f"word:{word}")
        key = (v.search_results, v.language)
        if key != self._rendered:
            self._rendered = key
            results = v.search_results
            self.results.show(len(results), lambda i: self._tile(results[i]), v.t)


class GuideScreen(KioskScreen):
    """The standard form readably, one section at a time (big tabs), the QR code of its web
    page, "print the checklist", and "do it here" when the kiosk can."""

    title_key = "guide.title"

    def build(self) -> None:
        theme = current()
        self.department = TextLabel("muted", TypeSize.SMALL, size_hint_y=None,
                                    height=theme.font(TypeSize.SMALL) * 1.6)
        self.sections = GridLayout(cols=3 if theme.elder else 4,
                                   spacing=theme.space(Space.GAP) / 2, size_hint_y=None,
                                   height=theme.space(Space.BUTTON) * (1.5 if theme.elder
                                                                        else 1.1))
        self.text = TextLabel("body", TypeSize.BODY, halign="left", valign="top")
        self.text.automation_id = "guide.text"
        self.panel = Panel(size_hint=(None, None), padding=theme.space(Space.GAP) / 2)
        self.qr = Image(fit_mode="contain")
        self.qr.automation_id = "guide.qr"
        self.panel.add_widget(self.qr)
        self.qr_box = BoxLayout(orientation="vertical", size_hint_x=0.42)
        self.qr_box.add_widget(self.panel)
        self.qr_caption = TextLabel("muted", TypeSize.SMALL, size_hint_y=None,
                                    height=theme.font(TypeSize.SMALL) * 2.8)
        self.qr_box.add_widget(self.qr_caption)
        self.qr_box.bind(size=self._size_qr)
        actions = BoxLayout(orientation="vertical", spacing=theme.space(Space.GAP))
        self.print = BigButton("guide.print", "secondary", size_hint_y=1)
        self.print.bind(on_release=lambda *_: self.intents.print_guide())
        self.start = BigButton("guide.start", "success", size_hint_y=1)
        self.start.bind(on_release=lambda *_: self._start())
        self.note = TextLabel("body", TypeSize.SMALL, size_hint_y=0.8)
        self.note.automation_id = "guide_page.note"
        for widget in (self.print, self.start, self.note):
            actions.add_widget(widget)
        lower = BoxLayout(spacing=theme.space(Space.GAP), size_hint_y=None,
                          height=theme.space(Space.TILE) * (1.9 if theme.landscape else 2.2))
        lower.add_widget(self.qr_box)
        lower.add_widget(actions)
        self.split([self.department, self.sections, self.text], [lower])
        self._rendered: tuple = ()
        self._qr_url = ""
        self._tabs: list[BigButton] = []

    def _size_qr(self, *_) -> None:
        side = max(1.0, min(self.qr_box.width, self.qr_box.height - self.qr_caption.height))
        self.panel.size = (side, side)
        self.panel.pos_hint = {"center_x": 0.5}

    def _start(self) -> None:
        guide = self.view.guide
        if guide is not None and guide.offered:
            self.intents.choose_service(guide.code)

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        guide = v.guide
        if guide is None:
            return
        sections = guide.sections.get(v.language) or guide.sections["zh"]
        self.heading.text = v.pick(guide.title)
        self.department.text = v.pick(guide.department)
        key = (guide.code, v.language, v.guide_section)
        if key != self._rendered:
            self._rendered = key
            self._section_tabs(sections, v.guide_section)
            shown = sections[min(v.guide_section, len(sections) - 1)]
            self.text.text = "\n".join(shown.lines)
        if guide.url != self._qr_url:
            self.qr.texture = qr_texture(guide.url, box=8, mask_pattern=2)
            self._qr_url = guide.url
        self.qr_caption.text = v.t("guide.qr")
        self.print.text = v.t("guide.print")
        self.start.text = v.t("guide.start")
        self.start.opacity = 1 if guide.offered else 0
        self.start.disabled = not guide.offered
        note = v.guide_note_key or ("" if guide.offered else
                                    "guide.not_now" if self._runs_here(guide.code)
                                    else "guide.not_here")
        self.note.text = v.t(note) if note else ""
        self.note.set_pair("alert" if note == "guide.print_failed" else "body")

    def _section_tabs(self, sections, chosen: int) -> None:  # noqa: ANN001 - GuideText
        """One tab per section; built once and relabelled (every guide has the same sections,
        and building buttons is most of a tap's time)."""
        keys = [s.key for s in sections]
        if keys != [b.automation_id.split(".")[-1] for b in self._tabs]:
            self.sections.clear_widgets()
            self._tabs = []
            for index, key in enumerate(keys):
                button = BigButton(f"guide_section.{key}", "secondary", TypeSize.SMALL,
                                   size_hint_y=1)
                button.min_fit = 0.55
                button.bind(on_release=lambda _b, i=index: self.intents.show_guide_section(i))
                self._tabs.append(button)
                self.sections.add_widget(button)
        for index, (button, section) in enumerate(zip(self._tabs, sections, strict=True)):
            button.text = section.heading
            button.set_kind("primary" if index == chosen else "secondary")

    def _runs_here(self, code: str) -> bool:
        return any(tile.code == code for tile in self.view.services)
