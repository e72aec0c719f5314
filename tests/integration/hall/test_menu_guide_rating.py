"""The menu of the whole catalog, search, guides with their printed checklist, and the rating
after a service, through the kiosk core's intents (the screens send exactly these) against
the real simulator: the receipt printer over TCP, the evaluation backend over HTTP."""

from __future__ import annotations

import asyncio

from kiosk.catalog_reach import Reach, reach_of
from kiosk.evaluation import desk_for
from kiosk.viewmodel import PERSONAL_FIELDS, MenuTab, ScreenId
from simulator.reference import ENDORSEMENT, QUEUE_TICKET, SERVICE_RATING

PASSPORT = "442000-CRJ-0001"        # guide-only: applied for at the exit-entry counters
SPOUSE_SETTLEMENT = "442000-HZ-0006"


def _open_menu(rig) -> None:
    rig.session.touch_start()
    assert rig.view.screen is ScreenId.MENU and rig.view.menu_tab is MenuTab.KIOSK


async def test_departments_and_life_events_hold_every_item_most_used_first(rig):
    _open_menu(rig)
    catalog = rig.session.catalog
    rig.session.show_tab("departments")
    departments = rig.view.categories
    assert len(departments) == 18
    assert sum(c.count for c in departments) == len(catalog.items)
    rig.session.open_category(departments[0].key)
    items = rig.view.category_items
    assert len(items) == departments[0].count and rig.view.category_title
    popularity = [catalog.item(t.code).popularity for t in items]
    assert popularity == sorted(popularity, reverse=True)
    rig.session.show_tab("life_events")
    assert not rig.view.category_title
    assert [c.title["zh"] for c in rig.view.categories][:2] == ["出生", "入学"]
    rig.session.open_category("birth")
    assert rig.view.category_items and all(
        "birth" in catalog.item(t.code).life_events for t in rig.view.category_items)
    rig.session.go_back()                       # the category closes, the tab stays
    assert rig.view.screen is ScreenId.MENU and not rig.view.category_title
    assert rig.view.menu_tab is MenuTab.LIFE_EVENTS


async def test_a_guide_only_item_opens_its_guide_and_back_returns_to_the_category(rig):
    _open_menu(rig)
    rig.session.show_tab("departments")
    department = rig.session.catalog.item(PASSPORT).department.code
    rig.session.open_category(department)
    tile = next(t for t in rig.view.category_items if t.code == PASSPORT)
    assert tile.guide_only and tile.available
    rig.session.choose_service(PASSPORT)
    assert not rig.session.busy and rig.view.screen is ScreenId.GUIDE
    guide = rig.view.guide
    assert guide.code == PASSPORT and not guide.offered
    assert [s.key for s in guide.sections["zh"]] == [s.key for s in guide.sections["en"]]
    assert guide.url.endswith(PASSPORT)
    rig.session.show_guide_section(2)
    assert guide.sections["zh"][2].key == "materials" and rig.view.guide_section == 2
    rig.session.go_back()
    assert rig.view.screen is ScreenId.MENU and rig.view.category_items
    assert rig.ctx.journal.recent(5) == []      # reading a guide journals nothing


async def test_search_by_pinyin_initials_and_by_a_chinese_word(rig):
    _open_menu(rig)
    rig.session.open_search()
    assert rig.view.screen is ScreenId.SEARCH
    assert rig.view.search_results and rig.view.search_words
    for letter in "gasq":
        rig.session.search_key(letter)
    assert rig.view.search_query == "gasq"
    assert rig.view.search_results[0].code == ENDORSEMENT
    assert not rig.view.search_results[0].guide_only      # it runs here: the tile starts it
    rig.session.search_key("back")
    assert rig.view.search_query == "gas"
    rig.session.search_key("word:身份证")
    assert rig.view.search_query == "身份证"
    assert all("身份证" in (t.title["zh"] + rig.session.catalog.item(t.code).summary["zh"]
                            + "".join(rig.session.catalog.item(t.code).keywords)
                            + "".join(m.name["zh"] for m in
                                      rig.session.catalog.item(t.code).materials))
               for t in rig.view.search_results)
    rig.session.search_key("x")                 # a letter after Chinese starts a new query
    assert rig.view.search_query == "x"
    rig.session.go_back()
    assert rig.view.screen is ScreenId.MENU


async def test_print_the_checklist_on_the_receipt_printer_and_say_when_it_cannot(rig):
    _open_menu(rig)
    rig.session.open_guide(SPOUSE_SETTLEMENT)
    rig.session.print_guide()
    text = await rig.receipt(1)
    assert "办事材料清单" in text and "夫妻投靠落户" in text and "[ ] 结婚证" in text
    assert rig.sim.printer.receipts[0].qr_payloads == (rig.view.guide.url,)
    while rig.view.guide_note_key != "guide.printed":
        await asyncio.sleep(0.02)
    rig.sim.printer.set_fault("paper_out", True)          # the roll ends now
    rig.session.print_guide()
    async with asyncio.timeout(15):
        while rig.view.guide_note_key != "guide.print_failed":
            await asyncio.sleep(0.02)
    assert rig.view.screen is ScreenId.GUIDE and len(rig.sim.printer.receipts) == 1


async def test_after_a_service_a_bad_rating_with_reasons_and_a_comment_is_stored_and_sent(rig):
    await rig.start(QUEUE_TICKET)
    await rig.until(ScreenId.CHOOSE)
    rig.session.choose_option("B")
    await rig.result()
    tx = rig.last_tx().tx_id
    rig.session.finish()                        # "done" on the result screen
    assert rig.view.screen is ScreenId.EVALUATE
    assert [o.code for o in rig.view.rating_levels] == ["5", "4", "3", "2", "1"]
    rig.session.rate(2)
    assert rig.view.screen is ScreenId.EVALUATE and len(rig.view.rating_tags) == 6
    rig.session.toggle_rating_tag("too_slow")
    rig.session.toggle_rating_tag("device_fault")
    rig.session.toggle_rating_tag("device_fault")
    for key in "slow 13812345678":
        rig.session.comment_key("space" if key == " " else key)
    rig.session.send_rating()
    assert rig.view.rating_note_key == "rate.thanks"
    await rig.until(ScreenId.ATTRACT, timeout=10)   # home by itself after the thanks
    assert ("bad_rating", f"{QUEUE_TICKET}:2:too_slow") in rig.problems
    async with asyncio.timeout(30):   # the kiosk's delivery loop is not running here
        desk = desk_for(rig.ctx)
        while not rig.sim.backends.hall.ratings:
            await desk.deliver()
            await asyncio.sleep(0.1)
        desk.outbox.close()
    (rating,) = rig.sim.backends.hall.ratings.values()
    assert rating["transaction"] == tx and rating["item_code"] == QUEUE_TICKET
    assert rating["level"] == 2 and rating["tags"] == ["too_slow"]
    assert rating["comment"] == "slow ***********"        # a phone number never leaves


async def test_rating_is_skippable_and_a_good_level_takes_one_tap(rig):
    for choice, then in (("A", "skip"), ("C", "good")):
        await rig.start(QUEUE_TICKET)
        await rig.until(ScreenId.CHOOSE)
        rig.session.choose_option(choice)
        await rig.result()
        rig.session.finish()
        assert rig.view.screen is ScreenId.EVALUATE
        if then == "skip":
            rig.session.finish()
            assert rig.view.screen is ScreenId.ATTRACT
        else:
            rig.session.rate(5)
            assert rig.view.rating_note_key == "rate.thanks"
            await rig.until(ScreenId.ATTRACT, timeout=10)
    outbox = rig.session.rating._desk_().outbox.counts()
    assert outbox["pending"] + len(rig.sim.backends.hall.ratings) == 1
    assert not rig.problems                      # no 差评, nothing for the operators


async def test_the_rating_item_itself_is_not_rated_again(rig):
    await rig.start(SERVICE_RATING)
    await rig.until(ScreenId.ENTER_ACCOUNT)
    await rig.scan("NO-SUCH-TRANSACTION")
    await rig.result()
    rig.session.finish()
    assert rig.view.screen is ScreenId.ATTRACT


async def test_every_item_of_the_reference_catalog_runs_as_far_as_the_report_says(rig):
    rows = reach_of(rig.session.catalog)
    assert len(rows) == len(rig.session.catalog.items) == 303   # with the credit report (442000-BM-0010)
    full = [r.code for r in rows if r.reach is Reach.FULL]
    _open_menu(rig)
    assert sorted(full) == sorted(t.code for t in rig.view.services)   # on the kiosk's tab
    for row in rows:
        if row.reach is Reach.GUIDE_ONLY:
            rig.session.choose_service(row.code)       # a guide-only tile, wherever found
            assert rig.view.screen is ScreenId.GUIDE and rig.view.guide.code == row.code
            assert not rig.session.busy
            rig.session.go_back()
    assert rig.ctx.journal.recent(5) == []


async def test_an_untouched_rating_screen_goes_home_like_the_result_screen(rig):
    await rig.start(QUEUE_TICKET)
    await rig.until(ScreenId.CHOOSE)
    rig.session.choose_option("A")
    await rig.result()
    rig.session.finish()
    assert rig.view.screen is ScreenId.EVALUATE
    clock = rig.session.clock
    assert clock.tick() == "" and rig.view.countdown_s > 0     # counting down, shown
    clock.last_activity -= 3600                                  # the citizen walked away
    assert clock.tick() == "result_over"                         # the session goes home


async def words_offered(view, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not view.rating_words:
            await asyncio.sleep(0.05)


async def test_a_comment_typed_then_abandoned_leaves_the_view_with_the_citizen(rig):
    # What a citizen types in the comment is theirs (kiosk.viewmodel.PERSONAL_FIELDS): walking
    # away from it (skip) ends the visit with it wiped, like an account number they typed.
    await rig.start(QUEUE_TICKET)
    await rig.until(ScreenId.CHOOSE)
    rig.session.choose_option("A")
    await rig.result()
    rig.session.finish()
    rig.session.rate(1)
    for key in "wang":
        rig.session.comment_key(key)
    await words_offered(rig.view)              # the pinyin dictionary, built off the loop
    rig.session.comment_key("space")           # the first word: 王
    for key in "xiao":                         # pinyin not yet a word
        rig.session.comment_key(key)
    assert rig.view.rating_comment == "王" and rig.view.rating_composing == "xiao"
    assert "小" in rig.view.rating_words
    rig.session.finish()                                   # skip: nothing sent
    assert rig.view.screen is ScreenId.ATTRACT
    typed = {"rating_comment", "rating_composing", "rating_words"}
    assert typed <= PERSONAL_FIELDS
    assert (rig.view.rating_comment, rig.view.rating_composing, rig.view.rating_words) == (
        "", "", ())
    assert not rig.sim.backends.hall.ratings and not rig.problems
