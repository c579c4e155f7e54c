"""The four warning levels of China's early-warning signals (蓝色 < 黄色 < 橙色 < 红色).

A CAP alert's level comes from a colour word the issuer wrote (``<parameter>`` 预警颜色, the event or the
headline: 暴雨橙色预警) and, when there is none, from its CAP severity. The word wins because the national
system's severity and signal colour can disagree (a Severe 黄色 signal); residents know the colour.

Banner colours are chosen for the kiosk's text rule (contrast ≥ 7:1, WCAG AAA), checked by
tests/assistant/test_bulletins_levels.py with ``accessibility.contrast``; the signal colours themselves are
darkened (red, blue) or given black text (orange, yellow) to get there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

LEVELS = ("blue", "yellow", "orange", "red")  # lowest first
DEFAULT_LEVEL = "blue"


@dataclass(frozen=True)
class Level:
    code: str
    label: str  # 蓝色 …
    rank: int  # 0 (blue) … 3 (red)
    background: str
    text: str


LEVEL_INFO: dict[str, Level] = {
    "blue": Level("blue", "蓝色", 0, "#0A3D91", "#FFFFFF"),
    "yellow": Level("yellow", "黄色", 1, "#FFD400", "#000000"),
    "orange": Level("orange", "橙色", 2, "#F08000", "#000000"),
    "red": Level("red", "红色", 3, "#A50000", "#FFFFFF"),
}
LEVEL_LABELS = {code: info.label for code, info in LEVEL_INFO.items()}

SEVERITY_LEVEL = {"Minor": "blue", "Moderate": "yellow", "Severe": "orange", "Extreme": "red"}
# The other way, for a manual warning's CAP alert (staff choose a colour, CAP carries a severity).
LEVEL_SEVERITY = {level: severity for severity, level in SEVERITY_LEVEL.items()}
# Words that name a colour, most severe first so 红色 in "红色、橙色" counts as red.
COLOUR_WORDS = (("红色", "red"), ("橙色", "orange"), ("黄色", "yellow"), ("蓝色", "blue"))
COLOUR_PARAMETERS = ("预警颜色", "预警级别", "signal_level", "color", "colour")
_ENGLISH = {"red": "red", "orange": "orange", "yellow": "yellow", "blue": "blue"}


def info(level: str) -> Level:
    """The level's record; an unknown code is treated as the lowest level (shown, never dropped)."""
    return LEVEL_INFO.get(level, LEVEL_INFO[DEFAULT_LEVEL])


def rank(level: str) -> int:
    return info(level).rank


def label(level: str) -> str:
    return info(level).label


def colors(level: str) -> dict[str, str]:
    found = info(level)
    return {"background": found.background, "text": found.text}


def at_or_above(level: str, minimum: str) -> bool:
    """Whether ``level`` reaches the configured minimum (``Settings.warning_min_level``)."""
    return rank(level) >= rank(minimum if minimum in LEVEL_INFO else DEFAULT_LEVEL)


def colour_in(texts: Iterable[str]) -> str | None:
    """The level a colour word in ``texts`` names (the first text that names one wins), else None."""
    for text in texts:
        if not text:
            continue
        lowered = text.strip().lower()
        if lowered in _ENGLISH:
            return _ENGLISH[lowered]
        for word, code in COLOUR_WORDS:
            if word in text:
                return code
    return None


def level_of(severity: str, event: str = "", headline: str = "", parameters: dict[str, str] | None = None) -> str:
    """A CAP alert's level: a colour parameter, then a colour word in the event or headline, then severity."""
    parameters = parameters or {}
    named = colour_in(parameters.get(name, "") for name in COLOUR_PARAMETERS)
    if named is None:
        named = colour_in((event, headline))
    return named or SEVERITY_LEVEL.get(severity, DEFAULT_LEVEL)


def title(event: str, level: str) -> str:
    """暴雨橙色预警 — the words the banner and the speech start with (an event naming its colour is kept)."""
    event = event.strip()
    if not event:
        return f"{label(level)}预警"
    if "预警" in event:
        return event
    if label(level) in event:
        return f"{event}预警"
    return f"{event}{label(level)}预警"
