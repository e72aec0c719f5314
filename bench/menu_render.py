"""The guide screen's half of bench.menu, in a process of its own with a window (bench.menu
starts it under Xvfb): from a tap on an item (the kiosk's ServiceMenu.open_guide: the guide's
words in both languages, the view's change) to the frame that shows the rendered guide, in the
real KioskApp with its real screens, for items across a province-size catalog.

Prints {"guide_ms_p95": ..., "guide_ms_median": ..., "taps": ...} as its last line, with
`guide_build_ms_*`: the tap to the guide's widgets laid out, before GL draws any frame, and
`search_screen_ms_*`: a keystroke on the search screen to the frame showing its results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--taps", type=int, default=60)
    args = parser.parse_args()

    from kiosk.config import load_config
    from screens.bootstrap import configure_kivy

    config = load_config(None, {})
    configure_kivy(1080, 1920, False, config.ui.font_path)
    print(json.dumps(asyncio.run(_measure(args.items, args.taps))))


class _NoIntents:
    """Nobody touches the screen here: the bench taps through the kiosk's own menu."""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


class _NoHistory:
    """A new kiosk's journal: nothing started here yet (the hall's volume orders the items)."""

    def between(self, start: float, end: float) -> list:
        return []


async def _measure(items: int, taps: int) -> dict:
    from kivy.clock import Clock

    from kiosk.catalog import parse_catalog
    from kiosk.service_menu import ServiceMenu
    from kiosk.step_library import STEP_LIBRARY
    from kiosk.viewmodel import ScreenId, ServiceTile, SessionView
    from screens.app import KioskApp
    from simulator.catalog_build import build_catalog, dumps, scale_catalog

    catalog = parse_catalog(dumps(scale_catalog(build_catalog(), items)).encode(), STEP_LIBRARY)
    view = SessionView(screen=ScreenId.MENU)
    # Every item as the menu shows one this kiosk has no device for: a tile to its guide.
    menu = ServiceMenu(view, lambda item: ServiceTile(
        item.code, item.name, item.summary, True, warning_key="menu.guide_only",
        elder_first=item.elder_first, guide_only=True), journal=_NoHistory(), ctx=None)
    app = KioskApp(view, _NoIntents())
    runner = asyncio.ensure_future(app.async_run(async_lib="asyncio"))
    while not app.ready:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)                       # the first frames, fonts loaded
    step = max(1, len(catalog.items) // taps)
    times, built = [], []
    for item in catalog.items[::step][:taps]:
        view.update(screen=ScreenId.MENU, guide=None)
        await asyncio.sleep(0.3)                   # the menu drawn, as a citizen sees it
        drawn = asyncio.get_running_loop().create_future()
        start = time.perf_counter()
        menu.open_guide(item, offered=item.runs_on_kiosk)
        built.append((time.perf_counter() - start) * 1000)   # the widgets, before any frame
        # The frame after the one that draws the guide (as KioskApp.transitions measures).
        Clock.schedule_once(lambda _dt, f=drawn: Clock.schedule_once(
            lambda _dt2: f.done() or f.set_result(time.perf_counter()), 0), 0)
        times.append((await drawn - start) * 1000)
    typed = await _keystrokes(menu, catalog)
    app.stop()
    await runner
    ordered = sorted(times)
    return {"guide_ms_p95": round(ordered[min(len(ordered) - 1,
                                              int(round(0.95 * (len(ordered) - 1))))], 1),
            "guide_ms_median": round(statistics.median(times), 1),
            "guide_ms_max": round(max(times), 1), "taps": len(times),
            "guide_build_ms_p95": round(sorted(built)[int(round(0.95 * (len(built) - 1)))], 1),
            "guide_build_ms_median": round(statistics.median(built), 1),
            "search_screen_ms_p95": _p95(typed),
            "search_screen_ms_median": round(statistics.median(typed), 1),
            "keystrokes": len(typed), "items": len(catalog.items)}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))], 1)


async def _frame_after() -> float:
    """The time of the frame after the one that draws what the view holds now."""
    from kivy.clock import Clock

    drawn = asyncio.get_running_loop().create_future()
    Clock.schedule_once(lambda _dt: Clock.schedule_once(
        lambda _dt2: drawn.done() or drawn.set_result(time.perf_counter()), 0), 0)
    return await drawn


async def _keystrokes(menu, catalog) -> list[float]:  # noqa: ANN001 - ServiceMenu, Catalog
    """A keystroke on the search screen's keyboard (the kiosk's ServiceMenu.search_key, as the
    screen sends it) to the frame that shows the updated results: bench.menu's typed queries,
    letters one at a time, Chinese as the tapped words."""
    from bench.menu import QUERIES
    from kiosk.service_search import has_chinese

    menu.open_search(catalog)
    await asyncio.sleep(0.5)
    times = []
    for query in QUERIES:
        keys = [f"word:{query}"] if has_chinese(query) else list(query)
        menu.search_key("clear")
        await asyncio.sleep(0.2)
        for key in keys:
            start = time.perf_counter()
            menu.search_key(key)
            times.append((await _frame_after() - start) * 1000)
            await asyncio.sleep(0.05)       # a citizen's next key
    return times


if __name__ == "__main__":
    main()
