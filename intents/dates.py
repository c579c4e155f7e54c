"""Dates in residents' speech: 今天 / 明天 / 下周一 / 11月20日 / 2026-11-20 → ``datetime.date``.

Relative words are resolved against ``today`` (passed in, so tests and the dialogue layer decide
what "today" is). A month and day without a year take the current year: residents mostly talk
about this year's appointments and reports, and guessing a roll-over would surprise them more.
Cantonese forms common in Guangxi (听日, 琴日, 后日) are understood.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from intents.base import Entity
from intents.numbers import NUMERAL, to_int

_RELATIVE_DAYS: dict[str, int] = {
    "大后天": 3, "大前天": -3, "今天": 0, "今日": 0, "今儿": 0, "今早": 0, "今晚": 0, "今晚上": 0,
    "明天": 1, "明日": 1, "明儿": 1, "听日": 1, "聽日": 1, "后天": 2, "后日": 2,
    "昨天": -1, "昨日": -1, "昨儿": -1, "琴日": -1, "寻日": -1, "前天": -2, "前日": -2,
}
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5,
             "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
_WEEK_OFFSETS = {"上上": -2, "上": -1, "这": 0, "本": 0, "今": 0, "下下": 2, "下": 1, "": 0}

_FULL_DATE = re.compile(
    rf"(?<![0-9])({NUMERAL}{{4}})\s*(?:年|[-/.])\s*({NUMERAL}{{1,3}})\s*(?:月|[-/.])\s*({NUMERAL}{{1,3}})\s*[日号]?"
)
_MONTH_DAY = re.compile(
    rf"(?<![0-9年/.\-])(?:(这个月|本月|下个月|下月|上个月|上月)|({NUMERAL}{{1,3}})月份?)\s*({NUMERAL}{{1,3}})\s*[日号]"
)
_WEEKDAY = re.compile(r"(上上|下下|上|下|这|本|今)?(?:个)?(?:周|星期|礼拜)([一二三四五六日天末1-7])")
_RELATIVE = re.compile("|".join(sorted(_RELATIVE_DAYS, key=len, reverse=True)))
_MONTH_WORDS = {"这个月": 0, "本月": 0, "下个月": 1, "下月": 1, "上个月": -1, "上月": -1}


def _safe_date(year: int | None, month: int | None, day: int | None) -> date | None:
    if year is None or month is None or day is None:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _shift_month(today: date, months: int) -> tuple[int, int]:
    index = today.year * 12 + (today.month - 1) + months
    return index // 12, index % 12 + 1


def extract_dates(text: str, today: date) -> list[Entity]:
    """Every date mentioned in ``text`` (already normalised), in order, without overlaps."""
    found: list[Entity] = []
    taken: list[tuple[int, int]] = []

    def add(match: re.Match[str], value: date | None, **extra: object) -> None:
        if value is None:
            return
        start, end = match.span()
        if any(start < e and s < end for s, e in taken):
            return
        taken.append((start, end))
        found.append(Entity("date", value, match.group(0), start, end, extra=dict(extra)))

    for m in _FULL_DATE.finditer(text):
        add(m, _safe_date(to_int(m.group(1)), to_int(m.group(2)), to_int(m.group(3))))
    for m in _MONTH_DAY.finditer(text):
        if m.group(1):
            year, month = _shift_month(today, _MONTH_WORDS[m.group(1)])
            add(m, _safe_date(year, month, to_int(m.group(3))))
        else:
            add(m, _safe_date(today.year, to_int(m.group(2)), to_int(m.group(3))), year_inferred=True)
    for m in _WEEKDAY.finditer(text):
        weeks = _WEEK_OFFSETS[m.group(1) or ""]
        monday = today - timedelta(days=today.weekday())
        add(m, monday + timedelta(weeks=weeks, days=_WEEKDAYS[m.group(2)]))
    for m in _RELATIVE.finditer(text):
        add(m, today + timedelta(days=_RELATIVE_DAYS[m.group(0)]))
    found.sort(key=lambda e: e.start)
    return found
