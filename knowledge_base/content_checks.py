"""Checks that keep shipped knowledge-base content right (issue 16, items 3 and 5).

Pure functions over :class:`KbEntry` objects, used by the tests, ``shequ kb stale`` and the console:

- policy figures (元, %, 天, 个月, 年 …) and their year and source;
- ``review_by``: set on every entry with a figure, not past, within 12 months of the figure's year (premiums and
  contribution bases: before the next collection season);
- legal deadlines in the ``time`` aspect with their number;
- app and service names from the one table (``data/app_names.yaml``);
- jargon in short answers with a plain gloss nearby (``data/jargon.yaml``);
- which source links in ``policy`` may be shown as links (http/https only).

This module never reads the clock: callers pass today's China date (``assistant.clock.today_china``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from knowledge_base.models import KbEntry

DATA_DIR = Path(__file__).parent / "data"
APP_NAMES_FILE = DATA_DIR / "app_names.yaml"
JARGON_FILE = DATA_DIR / "jargon.yaml"

# ---------------------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------------------

YEAR = re.compile(r"(?:19|20)\d{2}年")
# A number (or range) followed by a unit that makes it a policy figure: money, a rate, a duration.
FIGURE = re.compile(
    r"(?<![\d.])\d+(?:\.\d+)?(?:\s*[–\-~至到]\s*\d+(?:\.\d+)?)?\s*(?:万元|元|%|个工作日|天|日|个月|年)"
)
# Not policy figures, removed before looking (the named allow-list):
NOT_POLICY_FIGURES = {
    # a year or a date says when, it is not an amount ("2025年1月1日起", "3月1日到6月30日")
    "calendar year": re.compile(r"(?<!\d)(?:19|20)\d{2}年(?:度)?"),
    "calendar date": re.compile(r"(?<!\d)\d{1,2}月\d{1,2}日"),
    # ages say who qualifies ("60岁", "3周岁"); the rule they belong to is checked with its entry
    "age": re.compile(r"(?<![\d.])\d+(?:\s*[至到–\-]\s*\d+)?\s*周?岁"),
}
# A procedure clock ("公示5个工作日", "30日内", "有效期3个月", "每12个月一次") comes from the law or rule the
# entry cites in `policy`; it needs that source, not a year next to it.
CLOCK_BEFORE = re.compile(r"(?:公示|公示期|有效期|时效|冷静期|每)\s*$")
CLOCK_AFTER = re.compile(r"^\s*(?:内|以内|之内|前|冷静期|等待期)")
DURATION_UNITS = ("个工作日", "天", "日", "个月", "年")
MONEY_OR_RATE_UNITS = ("万元", "元", "%")
URL = re.compile(r"https?://[\x21-\x7e]+")
DOCUMENT = re.compile(r"《[^》]+》|〔(?:19|20)\d{2}〕\d+号")
SOURCE_YEAR = re.compile(r"(?:19|20)\d{2}年|〔(?:19|20)\d{2}〕")


@dataclass(frozen=True)
class Figure:
    text: str
    clock: bool  # a procedure clock (allowed without a year when the entry is sourced)
    start: int = 0  # position in the field, for the figure's year

    def __eq__(self, other: object) -> bool:  # position is bookkeeping, not identity
        return isinstance(other, Figure) and (self.text, self.clock) == (other.text, other.clock)

    def __hash__(self) -> int:
        return hash((self.text, self.clock))

    @property
    def is_amount(self) -> bool:
        """Money or a rate: what a region re-sets year by year (a duration comes from a law)."""
        return self.text.endswith(MONEY_OR_RATE_UNITS)


def _blank(text: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(lambda m: " " * len(m.group()), text)  # keep positions for the context look-up


def figures_in(text: str) -> list[Figure]:
    for pattern in NOT_POLICY_FIGURES.values():
        text = _blank(text, pattern)
    found = []
    for match in FIGURE.finditer(text):
        value = match.group()
        is_duration = value.endswith(DURATION_UNITS) and not value.endswith("元")
        clock = is_duration and bool(
            CLOCK_BEFORE.search(text[max(0, match.start() - 4): match.start()])
            or CLOCK_AFTER.search(text[match.end(): match.end() + 4])
        )
        found.append(Figure(value.replace(" ", ""), clock, match.start()))
    return found


def has_source(policy: str | None) -> bool:
    return bool(policy and SOURCE_YEAR.search(policy) and (URL.search(policy) or DOCUMENT.search(policy)))


def resident_fields(entry: KbEntry) -> list[tuple[str, str]]:
    """What residents read, without `policy` (the source field itself)."""
    return [("answer", entry.answer), *((k, v) for k, v in entry.aspects.present().items() if k != "policy")]


def has_figure(entry: KbEntry) -> bool:
    return any(figures_in(text) for _, text in resident_fields(entry))


def figure_problems(entry: KbEntry) -> list[str]:
    problems = []
    sourced = has_source(entry.aspects.policy)
    for name, text in resident_fields(entry):
        dated = bool(YEAR.search(text))
        for figure in figures_in(text):
            if not sourced:
                problems.append(f"{entry.id}.{name}: {figure.text} without a source (document + year or link) in policy")
            elif not dated and not figure.clock:
                problems.append(f"{entry.id}.{name}: {figure.text} without its year in the same field")
    return problems


# ---------------------------------------------------------------------------------------------------------
# review_by
# ---------------------------------------------------------------------------------------------------------

MAX_REVIEW_INTERVAL = dt.timedelta(days=365)  # every figure is looked at again at least once a year
DUE_SOON_DAYS = 30  # `shequ kb stale` and the console also list what falls due within this many days
# A year that names a standing rule's document ("2014年国务院规定", "1999年《失业保险条例》", "2021年国家经办规程"):
# the rule holds until it is replaced, so it is re-checked yearly (MAX_REVIEW_INTERVAL), not 12 months after it.
_DOCUMENT_YEAR = re.compile(
    r"((?:19|20)\d{2})年(?:修订的|修订|公布|起施行的)?[（(]?(?:《|国务院|国家|国办|条例|办法|意见|规定|规程|文件)"
)
# Premiums and contribution bases: re-set for every collection season.
PREMIUM = re.compile(r"缴费基数|基数|个人缴费|缴费档次|档次|每人每年")
# National notices for next year's premium came out in late August (2024: 医保发〔2024〕19号, 2024-08-26, review
# S6) and collection follows in the autumn; Guangxi's own dates are not verified, so the bound is conservative:
# a premium figure is re-checked before September 1st.
COLLECTION_SEASON_START = (9, 1)


def _document_years(text: str) -> set[int]:
    years = {int(m.group(1)) for m in _DOCUMENT_YEAR.finditer(text)}
    return years | {int(y) for y in re.findall(r"〔((?:19|20)\d{2})〕", text)}


def figure_year(text: str, figure: Figure) -> int | None:
    """The year an amount is stated for: the nearest year in the same field that is not a standing rule's
    document year (None: the figure belongs to a standing rule)."""
    documents = _document_years(text)
    figure_end = figure.start + len(figure.text)
    candidates = [(max(0, figure.start - m.end(), m.start() - figure_end), int(m.group()[:4]))
                  for m in YEAR.finditer(text)]
    dated = [(distance, year) for distance, year in candidates if year not in documents]
    return min(dated)[1] if dated else None


def next_collection_season(today: dt.date) -> dt.date:
    start = dt.date(today.year, *COLLECTION_SEASON_START)
    return start if today < start else dt.date(today.year + 1, *COLLECTION_SEASON_START)


def latest_review_by(entry: KbEntry, today: dt.date) -> dt.date | None:
    """The latest review_by the entry's figures allow (None: no figure, no bound)."""
    if not has_figure(entry):
        return None
    bound = today + MAX_REVIEW_INTERVAL
    for _, text in resident_fields(entry):
        premium = bool(PREMIUM.search(text))
        for figure in figures_in(text):
            if not figure.is_amount:
                continue
            year = figure_year(text, figure)
            if year is not None:  # within 12 months after the figure's year
                bound = min(bound, dt.date(year + 1, 12, 31))
            if premium:
                bound = min(bound, next_collection_season(today) - dt.timedelta(days=1))
    return bound


def review_problems(entry: KbEntry, today: dt.date, *, overdue_is_a_problem: bool = True) -> list[str]:
    """What is wrong with an entry's review date. ``overdue_is_a_problem=False`` checks only what the content
    itself decides (a date is set, and no later than its figures allow): a date passing is work for staff
    (``shequ kb stale``, the console's 待复核), not a broken build."""
    if not has_figure(entry):
        return []
    if entry.review_by is None:
        return [f"{entry.id}: has a figure but no review_by"]
    problems = []
    if overdue_is_a_problem and entry.review_by < today:
        problems.append(f"{entry.id}: review_by {entry.review_by} has passed (today {today}): re-check the figures")
    bound = latest_review_by(entry, today)
    if bound is not None and entry.review_by > bound:
        problems.append(f"{entry.id}: review_by {entry.review_by} is later than {bound}, the latest its figures allow")
    return problems


@dataclass(frozen=True)
class DueEntry:
    id: str
    title: str
    review_by: dt.date
    days_left: int  # negative: overdue

    @property
    def overdue(self) -> bool:
        return self.days_left < 0


def due_for_review(entries: Iterable[KbEntry], today: dt.date, within_days: int = DUE_SOON_DAYS) -> list[DueEntry]:
    """Entries whose review_by is past or within ``within_days`` of today, soonest first."""
    due = [DueEntry(e.id, e.title, e.review_by, (e.review_by - today).days)
           for e in entries if e.review_by is not None and (e.review_by - today).days <= within_days]
    return sorted(due, key=lambda d: (d.review_by, d.id))


def is_due(review_by: object, today: dt.date, within_days: int = DUE_SOON_DAYS) -> bool:
    """For stored entry data (review_by as an ISO string or a date)."""
    if not review_by:
        return False
    try:
        day = review_by if isinstance(review_by, dt.date) else dt.date.fromisoformat(str(review_by))
    except ValueError:
        return False
    return (day - today).days <= within_days


# ---------------------------------------------------------------------------------------------------------
# Legal deadlines in `time`
# ---------------------------------------------------------------------------------------------------------

_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUMBER = re.compile(r"[一二两三四五六七八九十]+(?=个工作日|天|日|个月|年|周)")


def _cn_to_int(text: str) -> int:
    if "十" not in text:
        return _CN_DIGITS[text[-1]]
    tens, _, ones = text.partition("十")
    return _CN_DIGITS.get(tens, 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


def arabic_numbers(text: str) -> str:
    """'一年' → '1年', '三十日' → '30日': a deadline written in Chinese numerals still counts."""
    return _CN_NUMBER.sub(lambda m: str(_cn_to_int(m.group())), text)


_SAME_UNITS = {"日": "天", "天": "天"}


def _unit_normal(text: str) -> str:
    return re.sub(r"(\d)(日|天)", lambda m: m.group(1) + _SAME_UNITS[m.group(2)], text)


def has_deadline(time_text: str | None, deadline: str) -> bool:
    """Whether the `time` aspect states the deadline ("30日" and "30天" are the same)."""
    if not time_text:
        return False
    return _unit_normal(deadline) in _unit_normal(arabic_numbers(time_text))


# ---------------------------------------------------------------------------------------------------------
# App and service names
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AppName:
    name: str
    aliases: tuple[str, ...]
    kind: str
    source: str
    url: str | None
    year: int | None


@dataclass(frozen=True)
class AppTable:
    names: tuple[AppName, ...]
    generic: tuple[str, ...]  # words before "App/公众号…" that name no particular app ("银行", "手机")

    def spellings(self) -> list[str]:
        found = [s for n in self.names for s in (n.name, *n.aliases)]
        return sorted(found, key=len, reverse=True)


def load_app_table(path: Path = APP_NAMES_FILE) -> AppTable:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    names = tuple(AppName(name=str(row["name"]), aliases=tuple(str(a) for a in row.get("aliases") or ()),
                          kind=str(row["kind"]), source=str(row.get("source") or ""), url=row.get("url"),
                          year=row.get("year")) for row in data["names"])
    return AppTable(names, tuple(str(g) for g in data.get("generic") or ()))


# The named pattern: "…App", "…小程序", "…公众号", "…服务平台", "掌上…".
APP_SUFFIX = re.compile(r"(?<![A-Za-z])(?:[Aa][Pp][Pp]|APP)(?![A-Za-z])|小程序|公众号|服务平台")
APP_PREFIX = re.compile(r"掌上[0-9A-Za-z\u4e00-\u9fff]{1,8}")
_LINKERS = re.compile(r"(?:[\s“”\"'「」]|微信)+$")  # "“移民局”App", "交管12123 App", "广西人社服务微信公众号"
_NAME_RUN = re.compile(r"[0-9A-Za-z\u4e00-\u9fff]{1,10}$")


def unknown_app_names(text: str, table: AppTable) -> list[str]:
    """App-like names in the text that the table does not list."""
    spellings = table.spellings()
    unknown = []
    for match in APP_SUFFIX.finditer(text):
        before = _LINKERS.sub("", text[: match.start()])
        with_suffix = before + match.group()
        if any(before.endswith(s) or with_suffix.endswith(s) for s in spellings):
            continue
        if not before or not before[-1].isalnum() or any(with_suffix.endswith(g) or before.endswith(g)
                                                          for g in table.generic):
            continue  # "（网站、App）", "银行App", "打开app": no particular app is named
        run = _NAME_RUN.search(before)
        unknown.append((run.group() if run else before[-6:]) + match.group())
    for match in APP_PREFIX.finditer(text):
        if not any(match.group().startswith(s) for s in spellings):
            unknown.append(match.group())
    return unknown


# ---------------------------------------------------------------------------------------------------------
# Jargon
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Term:
    term: str
    gloss: str


def load_jargon(path: Path = JARGON_FILE) -> list[Term]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Term(str(row["term"]), str(row["gloss"])) for row in data["terms"]]


# "Nearby", simply: the gloss in the same sentence as the term's first use, or a parenthesis right after it.
# Once explained, later uses in the same answer need no second gloss.
_SENTENCE_END = re.compile(r"[。！？；!?;]")


def _sentence_around(text: str, position: int) -> str:
    starts = [m.end() for m in _SENTENCE_END.finditer(text, 0, position)]
    end = _SENTENCE_END.search(text, position)
    return text[(starts[-1] if starts else 0): (end.end() if end else len(text))]


def unglossed_terms(text: str, terms: Iterable[Term]) -> list[str]:
    """Listed terms whose first use in the text has no plain gloss nearby."""
    missing = []
    for term in terms:
        position = text.find(term.term)
        if position < 0:
            continue
        if text[position + len(term.term):].startswith(("（", "(")):
            continue
        if term.gloss in _sentence_around(text, position):
            continue
        missing.append(term.term)
    return missing


# ---------------------------------------------------------------------------------------------------------
# Source links (console)
# ---------------------------------------------------------------------------------------------------------

# Only http/https, and only characters a URL is made of (a Chinese bracket or full stop ends it).
SAFE_LINK = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&*+,;=%]+", re.IGNORECASE)


def split_links(text: str | None) -> list[tuple[str, bool]]:
    """The text cut into (piece, is_link): links are http/https URLs only, never ``javascript:`` and the like."""
    if not text:
        return []
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in SAFE_LINK.finditer(text):
        url = match.group().rstrip(".,;:!?)")
        if match.start() > position:
            pieces.append((text[position:match.start()], False))
        pieces.append((url, True))
        position = match.start() + len(url)
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces
