"""The service hall's screens for the gallery (issue 13): the menu by department and life event,
a category, search on the letter keyboard, a guide with its QR code and printed checklist, a
walk-in queue ticket, the progress list, the phone keypad, and the rating after a service.

No chip: the ID card reader and the scanner are on ptys, the printer on TCP. `hall_gallery`
walks only these (a scenario of its own, for tests that may not touch the shared card slot);
`scenarios.gallery.run_gallery` walks them too, so `make run`'s gallery has every screen.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from simulator.reference import DOCUMENT_COLLECTION, PROGRESS_LOOKUP, QUEUE_TICKET

GUIDE_ONLY = "442000-CRJ-0001"      # 普通护照签发: applied for at the counters
HALL_SCREENS = ("menu-departments", "menu-category", "menu-life-events", "search", "guide",
                "guide-materials", "queue-choose", "evaluate", "evaluate-reasons",
                "evaluate-thanks", "progress-list", "phone-keypad", "phone-confirm", "collect-take")


async def walk_hall(g) -> dict:  # noqa: ANN001 - scenarios.gallery.Gallery
    """Every hall screen in the gallery's current mode; what the citizen saw, for the tests."""
    c = g.c
    seen: dict = {}
    await g.start_visit()
    await c.tap("tab.departments")
    await g.snap("menu-departments")
    await _tap_paged(g, "category.exit_entry")
    await g.snap("menu-category")
    await g.tap_service(GUIDE_ONLY)
    await c.wait_screen("guide")
    await g.snap("guide")
    seen["guide_png"] = f"guide-{g.mode}.png"
    seen["guide_url"] = c.app.view.guide.url
    await c.tap("guide_section.materials")
    await c.tap("guide.print")
    await c.wait_until(lambda: c.app.view.guide_note_key == "guide.printed", "the checklist", 20)
    await g.snap("guide-materials")
    seen["checklist"] = (await c.sim.receipts())[-1]["text"]
    await c.tap("guide.back")
    await c.wait_screen("menu")
    await c.tap("menu.back")                  # the category closes
    await c.tap("tab.life_events")
    await g.snap("menu-life-events")
    await c.tap("menu.search")
    await c.wait_screen("search")
    for letter in "sfz":
        await c.tap(f"search_key.{letter}")
    # A tap reaches the kiosk through Kivy's input queue: on a busy machine the last letter may
    # not have been handled yet when the taps return.
    await c.wait_until(lambda: c.app.view.search_query == "sfz",
                       f"the three letters typed (query {c.app.view.search_query!r})", 10)
    await g.snap("search")
    seen["search_first"] = c.app.view.search_results[0].code
    await c.tap("search.back")
    await c.wait_screen("menu")
    await c.tap("tab.kiosk")
    await _queue_and_rating(g)
    await _progress(g)
    await _collect(g)
    return seen


async def _tap_paged(g, automation_id: str, pager: str = "menu") -> None:  # noqa: ANN001
    """A tile, turning the pager's pages until it is on the screen."""
    for _ in range(6):
        try:
            g.c.find(automation_id)
            break
        except Exception:
            await g.c.tap(f"{pager}.next_page")
    await g.c.tap(automation_id)


async def _queue_and_rating(g) -> None:  # noqa: ANN001
    c = g.c
    await g.tap_service(QUEUE_TICKET)
    await c.wait_screen("choose")
    await g.snap("queue-choose")
    await c.tap("option.B")
    await c.wait_screen("result", timeout=30)
    await c.tap("result.done")
    await c.wait_screen("evaluate")
    await g.snap("evaluate")
    await c.tap("rating.2")
    await g.until_shown("rating_tag.too_slow")
    await c.tap("rating_tag.too_slow")
    if g.mode == "en":   # on the English screen letters stay English
        for key in "slow":
            await c.tap(f"comment_key.{key}")
    else:   # a comment in Chinese by pinyin: "paidui", 排队 tapped, then "tai" and its words
        for key in "paidui":
            await c.tap(f"comment_key.{key}")
        await g.until_shown("comment_word.0")   # the dictionary is built off the loop at first
        await c.tap("comment_word.0")
        for key in "tai":
            await c.tap(f"comment_key.{key}")
        await g.until_shown("comment_word.0")
    await g.snap("evaluate-reasons")
    await c.tap("rating.send")
    await g.until_shown("rating.thanks")
    await g.snap("evaluate-thanks")
    await c.wait_screen("attract", timeout=30)


async def _progress(g) -> None:  # noqa: ANN001
    c = g.c
    await g.start_visit()
    await g.tap_service(PROGRESS_LOOKUP)
    await c.wait_screen("read_idcard")
    await c.sim.insert_idcard()
    await c.wait_screen("confirm", timeout=30)
    await g.snap("progress-list")
    await c.tap("option.done")
    await c.wait_screen("result", timeout=30)
    await c.sim.remove_idcard()
    await c.leave_result()


async def _collect(g) -> None:  # noqa: ANN001
    """自助取证: ID card, photo, the phone number on the keypad (shown back masked), then the
    document from the dispenser. The hall holds one finished document for the test citizen:
    the first mode takes it; later modes are told plainly there is nothing to collect."""
    c = g.c
    for attempt in range(3):
        await g.start_visit()
        await g.tap_service(DOCUMENT_COLLECTION)
        await c.wait_screen("read_idcard")
        await c.sim.insert_idcard()
        await c.wait_screen("face", timeout=30)
        await g.until_shown("face.agree")
        await c.tap("face.agree")
        await c.sim.show_face()
        await c.wait_until(lambda: c.screen in ("enter_account", "result"), "the keypad", 40)
        if c.screen == "enter_account":
            break
        # The face camera (MJPEG over HTTP) can miss its deadline on a loaded machine: the
        # kiosk says so and ends; the citizen tries again, as a person would.
        g.retried.append(f"collect, attempt {attempt + 1}: the photo failed")
        await c.sim.remove_idcard()
        await c.sim.hide_face()
        await c.leave_result()
    await c.wait_screen("enter_account", timeout=5)
    for digit in "13812345678":
        await c.tap(f"key.{digit}")
    await g.snap("phone-keypad")
    await c.tap("key.ok")
    await c.wait_screen("confirm")
    await g.snap("phone-confirm")
    await c.tap("option.confirm")
    await c.wait_until(lambda: c.screen == "result" or c.app.view.status_key == "collect.take",
                       "the document at the mouth, or an answer", 30)
    if c.screen != "result":
        await g.snap("collect-take")
        await c.sim.device("/dispenser/take")
    await c.wait_screen("result", timeout=30)
    await c.sim.remove_idcard()
    await c.sim.hide_face()
    await c.leave_result()


async def hall_gallery(c) -> dict:  # noqa: ANN001 - scenarios.citizen.Citizen
    """The `hall_gallery` scenario: the hall's screens in zh, en and elder mode
    (or those GALLERY_MODES names), and an index."""
    from kivy.core.window import Window

    from scenarios.gallery import Gallery, gallery_modes, write_index

    g = Gallery(c, Path(c.out_dir) / "gallery")
    seen = {}
    for mode in gallery_modes():
        g.mode = mode
        seen[mode] = await walk_hall(g)
        await asyncio.sleep(0)
    width, height = Window.size
    write_index(g.folder, g.shots, f"{width}x{height}")
    (g.folder / "gallery.json").write_text(json.dumps(
        {"panel": f"{width}x{height} (hall)", "shots": g.shots, "layout_problems": g.problems},
        ensure_ascii=False, indent=1))
    return {"gallery": str(g.folder.resolve()), "gallery_shots": g.shots,
            "layout_problems": g.problems, "hall": seen, "retried": g.retried}
