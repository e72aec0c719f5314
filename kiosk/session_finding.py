"""The session's intents for finding a service and rating it (kiosk.viewmodel.Intents): the
menu's tabs and categories, search, guides and the checklist, and the rating after a service.
The work is kiosk.service_menu's and kiosk.citizen_rating's; here each tap counts as activity
and reaches them only while no flow runs.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from kiosk.availability import NOT_FITTED, ServiceAvailability
from kiosk.catalog import Catalog, ServiceItem
from kiosk.citizen_rating import CitizenRating
from kiosk.flow import FlowContext
from kiosk.service_menu import ServiceMenu
from kiosk.viewmodel import MenuTab, ScreenId, ServiceTile, SessionView


class FindingIntents:
    """Mixed into KioskSession: the intents of the menu, the guide and the rating screens."""

    # What the session holds (kiosk.session.KioskSession sets each in its constructor).
    ctx: FlowContext
    view: SessionView
    catalog: Catalog | None
    availability: ServiceAvailability
    network_ok: bool
    menu: ServiceMenu
    rating: CitizenRating
    _flow_task: asyncio.Task[None] | None
    _tasks: list[asyncio.Task[None]]

    def activity(self) -> None:
        raise NotImplementedError   # the session's: a touch counts as activity

    if TYPE_CHECKING:
        @property
        def agent_acting(self) -> bool: ...   # kiosk.agent_intents': an agent is signed in

    def tile_for(self, item: ServiceItem) -> ServiceTile:
        """How `item` shows on the menu: a service to start here, or (guide-only, or not
        fitted on this kiosk) a tile that opens its guide."""
        verdict = self.availability.check(item, self.network_ok, self.agent_acting) \
            if item.runs_on_kiosk else None
        if verdict is None or verdict.reason_key == NOT_FITTED:
            return ServiceTile(item.code, item.name, item.summary, True,
                               warning_key="menu.guide_only", elder_first=item.elder_first,
                               guide_only=True)
        return ServiceTile(item.code, item.name, item.summary, verdict.offered,
                           verdict.reason_key, verdict.warning_key, item.elder_first)

    def show_tab(self, tab: str) -> None:
        self.activity()
        if self._flow_task is None and tab in set(MenuTab):
            self.menu.show_tab(self.catalog, MenuTab(tab))

    def open_category(self, key: str) -> None:
        self.activity()
        if self._flow_task is None:
            self.menu.open_category(key)

    def open_search(self) -> None:
        self.activity()
        if self._flow_task is None:
            self.menu.open_search(self.catalog)

    def search_key(self, key: str) -> None:
        self.activity()
        if self.view.screen is ScreenId.SEARCH:
            self.menu.search_key(key)

    def open_guide(self, code: str) -> None:
        self.activity()
        if self._flow_task is not None or self.catalog is None:
            return
        try:
            item = self.catalog.item(code)
        except KeyError:
            return
        offered = item.runs_on_kiosk and self.availability.check(item, self.network_ok).offered
        self.menu.open_guide(item, offered)

    def show_guide_section(self, index: int) -> None:
        self.activity()
        self.menu.show_guide_section(index)

    def print_guide(self) -> None:
        self.activity()
        if self.view.screen is ScreenId.GUIDE and self._flow_task is None:
            task = self.ctx.tasks.spawn(
                "guide-print", self.menu.print_guide(self.ctx.config.flow.office_hotline))
            self._tasks.append(task)
            task.add_done_callback(self._tasks.remove)

    def rate(self, level: int) -> None:
        self.activity()
        self.rating.rate(level)

    def toggle_rating_tag(self, tag: str) -> None:
        self.activity()
        self.rating.toggle_tag(tag)

    def comment_key(self, key: str) -> None:
        self.activity()
        self.rating.comment_key(key)

    def send_rating(self) -> None:
        self.activity()
        self.rating.send()
