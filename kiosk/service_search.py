"""Finding a service among hundreds: search by Chinese text, pinyin initials ("gasq" finds
港澳签注) or full pinyin, categories by department and by life event, most used first, pages.

The index is built once per catalog (off the event loop: pinyin for 3,000 names takes a while
the first time) and answers a keystroke in well under a millisecond per hundred items; the
figures are in `bench.menu`. Ranking is one decision, here: how well the query matches, then
how often this kiosk ran the item (the journal's counts), then how busy the hall says it is.
"""

from __future__ import annotations

import functools
import re
import time
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol

from pypinyin import Style, lazy_pinyin

from kiosk.catalog import Catalog, Department, ServiceItem

# Life events (主题) as the catalog names them, with the menu's labels, in the menu's order.
LIFE_EVENTS: dict[str, dict[str, str]] = {
    "birth": {"zh": "出生", "en": "Birth"},
    "school": {"zh": "入学", "en": "Going to school"},
    "employment": {"zh": "就业", "en": "Work"},
    "marriage": {"zh": "婚育", "en": "Marriage and children"},
    "travel": {"zh": "出行", "en": "Travel"},
    "housing": {"zh": "住房", "en": "Housing"},
    "vehicles": {"zh": "车辆", "en": "Vehicles"},
    "medical": {"zh": "就医", "en": "Medical care"},
    "business": {"zh": "创业", "en": "Starting a business"},
    "tax": {"zh": "纳税", "en": "Taxes"},
    "assistance": {"zh": "救助", "en": "Assistance"},
    "retirement": {"zh": "退休", "en": "Retirement"},
    "bereavement": {"zh": "身后", "en": "After a death"},
}

_CJK = re.compile(r"[\u3400-\u9fff]")


def has_chinese(text: str) -> bool:
    """Whether a query is Chinese text (matched on names) rather than pinyin or English."""
    return bool(_CJK.search(text))


_REMARK = re.compile(r"（[^）]*）|\([^)]*\)")  # a parenthesised remark in a name


class Match(IntEnum):
    """How well an item matches a query; higher is better. The order is the ranking."""

    NONE = 0
    OTHER_FIELD = 1  # department, summary or a material mentions it
    TWO_PARTS = 2  # its two halves are both in the name, in any order ("公积金提取")
    SUBSTRING = 3  # somewhere in the name (text or pinyin)
    PREFIX = 4  # the name (or its pinyin, or its initials) starts with it
    EXACT = 5


@functools.lru_cache(maxsize=16384)
def _pinyin_part(text: str) -> tuple[str, str]:
    """(full pinyin, initials) of a run of text; non-Chinese characters are kept, lower-case."""
    syllables = lazy_pinyin(text, errors=lambda chars: chars.lower())
    initials = lazy_pinyin(text, style=Style.FIRST_LETTER, errors=lambda chars: chars.lower())
    keep = str.isalnum
    return ("".join(c for c in "".join(syllables) if keep(c)),
            "".join(c for c in "".join(initials) if keep(c)))


def pinyin_keys(name: str) -> tuple[str, str]:
    """Full pinyin and initials of a name. Parenthesised remarks are converted on their own, so
    the many names that share a stem ("（委托）", "（3区）") share the cached stem."""
    full, initials = [], []
    position = 0
    for remark in _REMARK.finditer(name):
        for part in (name[position:remark.start()], remark.group()):
            f, i = _pinyin_part(part)
            full.append(f)
            initials.append(i)
        position = remark.end()
    f, i = _pinyin_part(name[position:])
    return "".join(full + [f]), "".join(initials + [i])


def normalize(query: str) -> str:
    """What the citizen typed, comparable: full-width to half-width, lower-case, no spaces."""
    return "".join(unicodedata.normalize("NFKC", query).lower().split())


@dataclass(frozen=True)
class _Entry:
    item: ServiceItem
    name_zh: str
    name_en: str
    pinyin: str
    initials: str
    aliases: tuple[tuple[str, str, str], ...]  # each keyword: text, full pinyin, initials
    other: str  # department, summary and materials: matched last
    chinese_names: tuple[str, ...] = ()
    latin_names: tuple[str, ...] = ()  # initials, pinyin, English, and the keywords' pinyin
    # The names joined between NULs (which no query holds), so that one `in` tells whether any
    # name holds the query, "\0q" whether one starts with it, "\0q\0" whether one is it: a
    # keystroke grades 3,000 items without a Python loop over their names.
    chinese_hay: str = ""
    latin_hay: str = ""

    def __post_init__(self) -> None:
        chinese = (self.name_zh, *(a[0] for a in self.aliases))
        latin = (self.initials, self.pinyin, self.name_en,
                 *(key for a in self.aliases for key in a[1:]))
        object.__setattr__(self, "chinese_names", chinese)
        object.__setattr__(self, "latin_names", latin)
        object.__setattr__(self, "chinese_hay", "\0" + "\0".join(chinese) + "\0")
        object.__setattr__(self, "latin_hay", "\0" + "\0".join(latin) + "\0")


@dataclass(frozen=True)
class Category:
    """One tile of the category menu: a department or a life event, with its items' codes."""

    key: str
    title: dict[str, str]
    codes: tuple[str, ...]


@dataclass(frozen=True)
class Page:
    codes: tuple[str, ...]
    number: int  # from 0
    count: int  # pages in all (at least 1)
    total: int  # items in all

    @property
    def has_previous(self) -> bool:
        return self.number > 0

    @property
    def has_next(self) -> bool:
        return self.number + 1 < self.count


def paginate(codes: tuple[str, ...], number: int, size: int) -> Page:
    """Page `number` (clamped to the pages there are) of `size` codes."""
    count = max(1, -(-len(codes) // size))
    number = min(max(number, 0), count - 1)
    return Page(codes[number * size:(number + 1) * size], number, count, len(codes))


class UsageSource(Protocol):
    def between(self, start: float, end: float) -> list: ...


def usage_counts(journal: UsageSource, days: float = 90.0,
                 now: float | None = None) -> dict[str, int]:
    """How often each item was started on this kiosk in the last `days` (the journal keeps one
    transaction per start, whatever its outcome). Call it on the journal's own thread."""
    end = time.time() if now is None else now
    counts: dict[str, int] = {}
    for tx in journal.between(end - days * 86400, end + 1):
        counts[tx.service] = counts.get(tx.service, 0) + 1
    return counts


@dataclass
class ServiceIndex:
    """The catalog, indexed for the menu. `usage` is the kiosk's own counts by item code."""

    catalog: Catalog
    usage: dict[str, int] = field(default_factory=dict)
    _entries: tuple[_Entry, ...] = field(init=False, repr=False)
    _by_use: tuple[tuple[tuple[str, int], ...], tuple[_Entry, ...]] | None = field(
        default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        entries = []
        for item in self.catalog.items:
            full, initials = pinyin_keys(item.name["zh"])
            other = " ".join([item.department.name["zh"], item.summary.get("zh", ""),
                              *(m.name["zh"] for m in item.materials)])
            aliases = tuple((normalize(k), *pinyin_keys(k)) for k in item.keywords)
            entries.append(_Entry(item, normalize(item.name["zh"]),
                                  normalize(item.name.get("en", "")), full, initials, aliases,
                                  normalize(other)))
        self._entries = tuple(entries)

    # -- ordering --------------------------------------------------------------------------

    def _popularity(self, item: ServiceItem) -> tuple[int, int]:
        return self.usage.get(item.code, 0), item.popularity

    def record_use(self, code: str) -> None:
        """A citizen started `code`: it moves up at once, not at the next restart."""
        self.usage[code] = self.usage.get(code, 0) + 1

    def _most_used_first(self) -> tuple[_Entry, ...]:
        """The entries most used first (then the hall's volume, then code): kept between
        keystrokes, sorted again only when the usage counts changed (a citizen started one)."""
        counts = tuple(self.usage.items())
        if self._by_use is None or self._by_use[0] != counts:
            self._by_use = (counts, tuple(sorted(self._entries, key=lambda e: (
                -self.usage.get(e.item.code, 0), -e.item.popularity, e.item.code))))
        return self._by_use[1]

    def most_used(self, limit: int = 8, only: Iterable[str] | None = None) -> tuple[str, ...]:
        """The items citizens start most here (the hall's published volume breaks ties and
        stands in while this kiosk has no history)."""
        wanted = None if only is None else set(only)
        items = [e.item for e in self._entries if wanted is None or e.item.code in wanted]
        items.sort(key=lambda i: (self._popularity(i), i.code), reverse=True)
        return tuple(i.code for i in items[:limit])

    # -- search ----------------------------------------------------------------------------

    def search(self, query: str, limit: int | None = None) -> tuple[str, ...]:
        """Codes of the items matching `query`, best first; an empty query gives most used."""
        q = normalize(query)
        if not q:
            return self.most_used(limit if limit is not None else len(self._entries))
        chinese = bool(_CJK.search(q))
        # Graded in most-used order into one list per grade: the lists joined, best grade
        # first, are the ranking without a sort per keystroke.
        by_grade: list[list[str]] = [[] for _ in Match]
        for entry in self._most_used_first():
            grade = self._grade(entry, q, chinese)
            if grade:
                by_grade[grade].append(entry.item.code)
        codes = tuple(code for grade in reversed(by_grade) for code in grade)
        return codes if limit is None else codes[:limit]

    @staticmethod
    def _grade(entry: _Entry, q: str, chinese: bool) -> Match:
        hay = entry.chinese_hay if chinese else entry.latin_hay
        if q in hay:                 # most entries match nothing: one `in` tells (see _Entry)
            if f"\0{q}\0" in hay:
                return Match.EXACT
            if f"\0{q}" in hay:
                return Match.PREFIX
            return Match.SUBSTRING
        # People say "公积金提取" for "提取住房公积金": the words of a name in another order.
        if len(q) >= 4 and any(q[:i] in hay and q[i:] in hay for i in range(2, len(q) - 1)):
            return Match.TWO_PARTS
        if chinese and q in entry.other:
            return Match.OTHER_FIELD
        return Match.NONE

    # -- categories ------------------------------------------------------------------------

    def departments(self) -> tuple[Category, ...]:
        """One category per department, busiest first; items most used first inside."""
        groups: dict[str, list[ServiceItem]] = {}
        names: dict[str, Department] = {}
        for entry in self._entries:
            groups.setdefault(entry.item.department.code, []).append(entry.item)
            names.setdefault(entry.item.department.code, entry.item.department)
        return self._categories({k: (names[k].name, v) for k, v in groups.items()})

    def life_events(self) -> tuple[Category, ...]:
        """One category per life event that has items, in the menu's fixed order."""
        groups: dict[str, list[ServiceItem]] = {}
        for entry in self._entries:
            for event in entry.item.life_events:
                groups.setdefault(event, []).append(entry.item)
        return tuple(
            Category(key, LIFE_EVENTS[key], self._ordered(groups[key]))
            for key in LIFE_EVENTS if key in groups
        )

    def _categories(self, groups: Mapping[str, tuple[dict[str, str], list[ServiceItem]]]
                    ) -> tuple[Category, ...]:
        def weight(key: str) -> tuple[int, int]:
            items = groups[key][1]
            return (sum(self._popularity(i)[0] for i in items),
                    sum(self._popularity(i)[1] for i in items))

        return tuple(Category(key, groups[key][0], self._ordered(groups[key][1]))
                     for key in sorted(groups, key=lambda k: (weight(k), k), reverse=True))

    def _ordered(self, items: list[ServiceItem]) -> tuple[str, ...]:
        ranked = sorted(items, key=lambda i: (self._popularity(i), i.code), reverse=True)
        return tuple(i.code for i in ranked)
