"""Finding a service in the reference catalog: Chinese, pinyin initials, full pinyin, English,
categories by department and life event, most used first, pages."""

from __future__ import annotations

import random

import pytest

from kiosk.catalog import parse_catalog
from kiosk.service_search import ServiceIndex, normalize, paginate, pinyin_keys, usage_counts
from kiosk.step_library import STEP_LIBRARY
from simulator.backends import reference_catalog


@pytest.fixture(scope="module")
def catalog():
    return parse_catalog(reference_catalog(), STEP_LIBRARY)


@pytest.fixture
def index(catalog):
    return ServiceIndex(catalog)


def names(index, codes):
    return [index.catalog.item(code).name["zh"] for code in codes]


def test_pinyin_initials_find_the_endorsement_first(index):
    assert names(index, index.search("gasq"))[0] == "港澳签注"
    assert names(index, index.search("GASQ"))[0] == "港澳签注"  # the keypad's capitals too
    # "gasq" are the initials of its common name 港澳商签; its own initials work as well.
    assert names(index, index.search("gaqz"))[0] == "港澳签注"
    assert names(index, index.search("良民证"))[0] == "无犯罪记录证明打印"


def test_chinese_text_finds_names_then_other_fields(index):
    found = names(index, index.search("身份证"))
    assert "居民身份证换领" in found and "临时居民身份证申领" in found
    # Items that only ask for the ID card as a material come after every name match.
    by_name = [n for n in found if "身份证" in n]
    assert found[:len(by_name)] == by_name and len(found) > len(by_name)


def test_words_in_another_order_are_found(index):
    assert "租房提取住房公积金" in names(index, index.search("公积金提取"))
    assert "租房提取住房公积金" in names(index, index.search("gjjtq"))


def test_full_pinyin_and_english_find_items(index):
    assert "无犯罪记录证明打印" in names(index, index.search("wufanzui"))
    assert "普通护照签发" in names(index, index.search("passport"))
    assert index.search("zzzzqqqq") == ()


def test_pinyin_keys_keep_remarks_apart():
    full, initials = pinyin_keys("公证（出生、亲属关系）")
    assert initials.startswith("gz") and "csqsgx" in initials and full.startswith("gongzheng")
    assert normalize(" Ｇａｓｑ ") == "gasq"


def test_the_most_used_here_come_first_and_move_at_once(index, catalog):
    busiest = index.most_used(3)
    assert catalog.item(busiest[0]).popularity >= catalog.item(busiest[2]).popularity
    rare = "442000-SC-0017"
    index.usage[rare] = 10_000
    assert index.most_used(1) == (rare,)
    ties = index.search("广告")
    assert ties[0] == rare
    index.record_use("442000-SC-0015")
    assert index.usage["442000-SC-0015"] == 1


def test_categories_by_department_and_life_event(index):
    departments = index.departments()
    assert len(departments) >= 12
    assert sum(len(c.codes) for c in departments) == len(index.catalog.items)
    events = {c.key: c for c in index.life_events()}
    assert {"birth", "school", "employment", "marriage", "travel", "retirement"} <= set(events)
    assert "出生登记" in names(index, events["birth"].codes)
    assert events["birth"].title["zh"] == "出生"


def test_pages_are_clamped_and_say_where_they_are():
    codes = tuple(str(i) for i in range(23))
    first = paginate(codes, 0, 8)
    assert first.codes == codes[:8] and first.count == 3 and not first.has_previous
    last = paginate(codes, 99, 8)
    assert last.number == 2 and last.codes == codes[16:] and not last.has_next
    assert paginate((), 0, 8).count == 1


def test_usage_counts_come_from_the_journal(tmp_path):
    from kiosk.transaction import JournalWriter

    journal = JournalWriter(tmp_path / "j.sqlite3", "K")
    for code in ("A", "A", "B"):
        journal.create(code)
    assert usage_counts(journal) == {"A": 2, "B": 1}
    journal.close()


def _by_definition(index, query):
    """The ranking as the module's docstring defines it, name by name, sorted once: how well
    the query matches, then use here, then the hall's volume, then code."""
    from kiosk.service_search import Match, has_chinese

    q = normalize(query)
    chinese = has_chinese(q)
    ranked = []
    for item in index.catalog.items:
        keys = [(normalize(k), *pinyin_keys(k)) for k in item.keywords]
        if chinese:
            names_ = [normalize(item.name["zh"]), *(k[0] for k in keys)]
        else:
            names_ = [*pinyin_keys(item.name["zh"])[::-1], normalize(item.name.get("en", "")),
                      *(p for k in keys for p in k[1:])]
        other = normalize(" ".join([item.department.name["zh"], item.summary.get("zh", ""),
                                    *(m.name["zh"] for m in item.materials)]))
        if q in names_:
            grade = Match.EXACT
        elif any(n.startswith(q) for n in names_):
            grade = Match.PREFIX
        elif any(q in n for n in names_):
            grade = Match.SUBSTRING
        elif len(q) >= 4 and any(any(q[:i] in n for n in names_) and any(q[i:] in n for n in names_)
                                 for i in range(2, len(q) - 1)):
            grade = Match.TWO_PARTS
        elif chinese and q in other:
            grade = Match.OTHER_FIELD
        else:
            continue
        ranked.append((-grade, -index.usage.get(item.code, 0), -item.popularity, item.code))
    return tuple(r[3] for r in sorted(ranked))


@pytest.fixture(scope="module")
def province():
    """A province-size catalog (bench.menu's), where names hold others whole: 普通护照签发
    and 普通护照签发（2区）, so an exact name and a longer one starting with it both match."""
    from simulator.catalog_build import build_catalog, dumps, scale_catalog

    return parse_catalog(dumps(scale_catalog(build_catalog(), 1000)).encode(), STEP_LIBRARY)


@pytest.mark.parametrize("query", ["g", "ga", "gasq", "gaqz", "港", "港澳签注", "身份证",
                                   "公积金提取", "gjjtq", "passport", "pthzqf", "普通护照签发",
                                   "hz", "证明", "zz", "wufanzui"])
def test_a_keystroke_ranks_as_defined_before_and_after_use(province, query):
    # The per-keystroke shortcuts (joined names, most-used order kept between keystrokes) give
    # the ranking the definition gives, also right after a citizen starts an item.
    # Use counts that disagree with the hall's volume, so no grade hides behind popularity.
    catalog = province
    shuffled = random.Random(13).sample([item.code for item in catalog.items], len(catalog.items))
    index = ServiceIndex(catalog, usage={code: n for n, code in enumerate(shuffled)})
    assert index.search(query) == _by_definition(index, query)
    index.record_use(index.search(query)[-1] if index.search(query) else catalog.items[0].code)
    assert index.search(query) == _by_definition(index, query)
