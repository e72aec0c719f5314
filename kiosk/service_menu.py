"""The menu of hundreds of items as the citizen walks it: what this kiosk does, every item by
department or by life event, search by pinyin initials or Chinese words on an on-screen
keyboard, and each item's guide (办事指南) with its checklist on the receipt printer.

Finding is kiosk.service_search's (one ranking, one search); the words of a guide are
kiosk.service_guide's; this module only keeps the session view in step with the citizen's taps.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from kiosk.catalog import Catalog, ServiceItem
from kiosk.flow import FlowContext
from kiosk.journal import Journal
from kiosk.service_guide import checklist_receipt, guide_for
from kiosk.service_search import Category, ServiceIndex, has_chinese, usage_counts
from kiosk.steps_services import print_document
from kiosk.viewmodel import (
    CategoryTile,
    GuideText,
    GuideView,
    MenuTab,
    ScreenId,
    ServiceTile,
    SessionView,
)

log = logging.getLogger(__name__)

SEARCH_LIMIT = 60          # results shown for a query (the best first; more is noise)
SEARCH_WORDS = 8           # Chinese words offered to tap, from the most used items
QUERY_MAX = 20
KEYBOARD_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")


class ServiceMenu:
    """Categories, search and guides for one kiosk; `tile_for` says how an item shows here."""

    def __init__(self, view: SessionView, tile_for: Callable[[ServiceItem], ServiceTile | None],
                 journal: Journal, ctx: FlowContext) -> None:
        self.view = view
        self.tile_for = tile_for
        self.journal = journal
        self.ctx = ctx
        self.catalog: Catalog | None = None
        self.index: ServiceIndex | None = None
        self._category: Category | None = None
        self._guide_from = ScreenId.MENU
        self._printing = False

    # -- the index -----------------------------------------------------------------------

    async def follow(self, catalog: Catalog | None) -> None:
        """A new catalog: its index is built off the loop (pinyin takes a while at 3,000)."""
        if catalog is None or catalog is self.catalog:
            return
        usage = usage_counts(self.journal)
        self.index = await asyncio.to_thread(ServiceIndex, catalog, usage)
        self.catalog = catalog

    def _ensure(self, catalog: Catalog | None) -> ServiceIndex | None:
        if catalog is not None and catalog is not self.catalog:
            # The cached catalog at start, before the first fetch: built here, once.
            self.index = ServiceIndex(catalog, usage_counts(self.journal))
            self.catalog = catalog
        return self.index

    def record_use(self, code: str) -> None:
        if self.index is not None:
            self.index.record_use(code)

    def kiosk_order(self, tiles: tuple[ServiceTile, ...]) -> tuple[ServiceTile, ...]:
        """The kiosk's own items, most used first (this kiosk's counts, then the hall's)."""
        if self.index is None:
            return tiles
        rank = {code: i for i, code in enumerate(
            self.index.most_used(len(tiles), only=[t.code for t in tiles]))}
        return tuple(sorted(tiles, key=lambda t: rank.get(t.code, len(rank))))

    def _tiles(self, codes: tuple[str, ...]) -> tuple[ServiceTile, ...]:
        assert self.catalog is not None
        tiles = (self.tile_for(self.catalog.item(code)) for code in codes)
        return tuple(t for t in tiles if t is not None)

    # -- the menu's tabs and categories ----------------------------------------------------

    def show_tab(self, catalog: Catalog | None, tab: MenuTab) -> None:
        index = self._ensure(catalog)
        self._category = None
        if index is None or tab is MenuTab.KIOSK:
            self.view.update(screen=ScreenId.MENU, menu_tab=MenuTab.KIOSK, categories=(),
                             category_title={}, category_items=())
            return
        groups = index.departments() if tab is MenuTab.DEPARTMENTS else index.life_events()
        self.view.update(screen=ScreenId.MENU, menu_tab=tab, category_title={},
                         category_items=(), categories=tuple(
                             CategoryTile(g.key, g.title, len(g.codes)) for g in groups))

    def open_category(self, key: str) -> None:
        if self.index is None:
            return
        tab = self.view.menu_tab
        groups = self.index.departments() if tab is MenuTab.DEPARTMENTS \
            else self.index.life_events()
        found = next((g for g in groups if g.key == key), None)
        if found is None:
            return
        self._category = found
        self.view.update(category_title=found.title, category_items=self._tiles(found.codes))

    # -- search ------------------------------------------------------------------------------

    def open_search(self, catalog: Catalog | None) -> None:
        index = self._ensure(catalog)
        if index is None:
            return
        self.view.update(screen=ScreenId.SEARCH, search_query="",
                         search_results=self._tiles(index.most_used(SEARCH_LIMIT)),
                         search_words=self._words(index))

    def search_key(self, key: str) -> None:
        """A letter, a Chinese word (`word:身份证`), "back", "clear": the results follow."""
        if self.index is None:
            return
        query = self.view.search_query
        if key == "back":
            query = query[:-1]
        elif key == "clear":
            query = ""
        elif key.startswith("word:"):
            query = key[5:]
        elif key in KEYBOARD_LETTERS:
            query = ("" if has_chinese(query) else query) + key
        else:
            return
        query = query[:QUERY_MAX]
        self.view.update(search_query=query,
                         search_results=self._tiles(self.index.search(query, SEARCH_LIMIT)))

    def _words(self, index: ServiceIndex) -> tuple[str, ...]:
        """What citizens search most, in Chinese: the first Chinese name each of the most used
        items is known by (its keywords, else its own name when short)."""
        assert self.catalog is not None
        words: list[str] = []
        for code in index.most_used(SEARCH_WORDS * 3):
            item = self.catalog.item(code)
            names = [k for k in item.keywords if has_chinese(k)] + [item.name["zh"]]
            word = min(names, key=len)
            if word not in words and len(word) <= 6:
                words.append(word)
            if len(words) == SEARCH_WORDS:
                break
        return tuple(words)

    # -- guides ------------------------------------------------------------------------------

    def open_guide(self, item: ServiceItem, offered: bool) -> None:
        if self.view.screen is not ScreenId.GUIDE:
            self._guide_from = self.view.screen
        self.view.update(screen=ScreenId.GUIDE, guide=guide_view(item, offered),
                         guide_section=0, guide_note_key="", busy_key="")

    def show_guide_section(self, index: int) -> None:
        guide = self.view.guide
        if guide is not None and 0 <= index < len(guide.sections["zh"]):
            self.view.update(guide_section=index, guide_note_key="")

    async def print_guide(self, hotline: str) -> None:
        """The materials checklist on the receipt printer, through the slips' own printing
        decision (kiosk.steps_services.print_document); the screen says whether it came out."""
        guide = self.view.guide
        if guide is None or self.catalog is None or self._printing:
            return
        self._printing = True
        self.view.update(busy_key="busy.printing", guide_note_key="")
        try:
            document = checklist_receipt(self.catalog.item(guide.code),
                                         self.ctx.config.kiosk_id, hotline)
            printed = await print_document(self.ctx, document, guide.code)
        finally:
            self._printing = False
            self.view.update(busy_key="")
        self.view.update(guide_note_key="guide.printed" if printed else "guide.print_failed")

    # -- the way back ------------------------------------------------------------------------

    def back(self) -> bool:
        """"上一步" inside the menu: guide -> where it was opened, search or a category -> the
        menu. False when the menu itself is left (the session goes home)."""
        view = self.view
        if view.screen is ScreenId.GUIDE:
            screen = self._guide_from
            view.update(screen=screen, guide=None, guide_note_key="")
            return True
        if view.screen is ScreenId.SEARCH:
            view.update(screen=ScreenId.MENU, search_query="", search_results=())
            return True
        if view.screen is ScreenId.MENU and view.category_title:
            self._category = None
            view.update(category_title={}, category_items=())
            return True
        return False

    def reset(self) -> None:
        """The end of a visit: the next citizen starts on the kiosk's own items."""
        self._category = None
        self.view.update(menu_tab=MenuTab.KIOSK, categories=(), category_title={},
                         category_items=(), search_query="", search_results=(), guide=None,
                         guide_section=0, guide_note_key="")


def guide_view(item: ServiceItem, offered: bool) -> GuideView:
    """The guide's words in every language, as the screen shows them."""
    sections: dict[str, tuple[GuideText, ...]] = {}
    for language in ("zh", "en"):
        guide = guide_for(item, language)
        sections[language] = tuple(GuideText(s.key, s.heading, s.lines) for s in guide.sections)
    return GuideView(item.code, item.name, item.department.name, sections, item.guide_url,
                     offered)
