"""ID, mobile, landline and long card numbers in free text, in any spacing, width or in Chinese numerals.

The text is first folded into a *probe* of the same length (full-width → ASCII, 一/幺/〇… → digits), so a match
in the probe is a span in the original. Digit groups joined by separators (space, dot, hyphen, slash, 、, ，,
brackets) form a *run*; within a run the longest stretch of whole groups that reads as personal data wins, so
「80岁，13812345678」 still yields the mobile number and 「2025.1.1-2025.12.31」 yields nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Chinese numerals as residents read numbers digit by digit (幺三八…). 十/百/两 are place values, not digits.
_CN_DIGITS = {"零": "0", "〇": "0", "一": "1", "幺": "1", "二": "2", "三": "3", "四": "4", "五": "5",
              "六": "6", "七": "7", "八": "8", "九": "9"}


def _fold_table() -> dict[int, str]:
    table = {ord(k): v for k, v in _CN_DIGITS.items()}
    for code in range(0xFF01, 0xFF5F):
        # The full-width comma stays: it is a group separator, the ASCII comma is a thousands mark (1,500元).
        if code != 0xFF0C:
            table[code] = chr(code - 0xFEE0)
    table[0x3000] = " "
    return table


_FOLD = _fold_table()

# Separators between digit groups; a run may have up to three in a row (「138 - 1234」).
_SEP = r"[ \t.\-—–/、，·()（）_]"
_RUN = re.compile(rf"(?:\+\s?)?[(（]?\d(?:{_SEP}{{0,3}}\d)*(?:{_SEP}{{0,2}}[Xx](?![A-Za-z]))?")
_GROUP = re.compile(r"\d+|[Xx]")
# Digits inside a web address (…/201506/1671251.html) are a path, not a person's number.
_URL = re.compile(r"(?:https?://|www\.)[!-~]+|[A-Za-z0-9.-]+\.(?:com|cn|net|org|gov)(?:/[!-~]*)?",
                  re.IGNORECASE)
_EXTENSION = re.compile(r"\s*(?:转|分机|ext\.?)\s*(\d{1,5})(?!\d)", re.IGNORECASE)

# Words shortly before a 7-8 digit number that make it a local landline (「电话5551234」, 「打 5551234」).
_PHONE_CONTEXT = re.compile(r"电话|座机|固话|号码|联系|拨打|打|致电|手机|热线|tel", re.IGNORECASE)
PHONE_CONTEXT_CHARS = 12

# Region codes' first two digits (provinces, HK/MO/TW): an 18- or 15-digit number starting otherwise is no ID.
_PROVINCES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43",
    "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82", "83",
})
CARD_MIN_DIGITS = 12  # bank cards, social security and account numbers: 12-19 digits
LOCAL_LANDLINE_DIGITS = (7, 8)


@dataclass(frozen=True)
class NumberHit:
    kind: str  # id_number | phone | landline | card
    start: int
    end: int
    canonical: str


def fold(text: str) -> str:
    """Same length as ``text``: full-width characters and Chinese digit numerals as ASCII."""
    return text.translate(_FOLD)


def digits_of(value: str) -> str:
    """ASCII digits (and a final X) of one typed value, with +86/0086 dropped from mobile numbers."""
    probe = fold(value)
    digits = "".join(ch for ch in probe if ch.isdigit() and ch.isascii())
    if probe.rstrip().endswith(("X", "x")) and len(digits) in (14, 17):
        digits += "X"
    for prefix in ("0086", "86"):
        rest = digits[len(prefix):]
        if digits.startswith(prefix) and len(rest) == 11 and _is_mobile(rest):
            return rest
    return digits


def _is_mobile(digits: str) -> bool:
    return len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789"


def _valid_date(year: int, month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= 31 and 1880 <= year <= 2100


def _is_id(digits: str) -> bool:
    """Shape of a resident ID (region, birth date); the checksum is not required, typos are still personal."""
    if digits[:2] not in _PROVINCES:
        return False
    if len(digits) == 18:
        year, month, day = int(digits[6:10]), int(digits[10:12]), int(digits[12:14])
        return digits[:17].isdigit() and _valid_date(year, month, day)
    if len(digits) == 15:
        year, month, day = 1900 + int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
        return digits.isdigit() and _valid_date(year, month, day)
    return False


def area_code_length(digits: str) -> int:
    """010 and 020-029 have three digits, every other area code four (0771)."""
    return 3 if digits[1:2] in ("1", "2") else 4


def _landline(digits: str) -> bool:
    if not digits.startswith("0") or len(digits) < 10:
        return False
    local = digits[area_code_length(digits):]
    return len(local) in LOCAL_LANDLINE_DIGITS and local[0] not in "01"


def _looks_like_dates(groups: list[str]) -> bool:
    """A year followed by a 1-2 digit month: dates and date ranges, never cards."""
    for index, group in enumerate(groups[:-1]):
        following = groups[index + 1]
        if len(group) == 4 and group[:2] in ("19", "20") and len(following) <= 2:
            return True
    return False


def _thousands(groups: list[str], seps: list[str]) -> bool:
    return len(groups) > 1 and all(len(g) == 3 for g in groups[1:]) and all("，" in s for s in seps)


def _classify(groups: list[str], seps: list[str], context: str, after: str, after_letter: bool) -> str | None:
    digits = "".join(groups)
    if after_letter:
        # 「GX20260101001」 is a work-order number; only a mobile number glued to letters is still one.
        return "phone" if _is_mobile(digits) else None
    if digits.endswith(("X", "x")):
        return "id_number" if len(digits) == 18 else None
    if _is_mobile(digits):
        return "phone"
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and _is_mobile(digits[len(prefix):]):
            return "phone"
    if len(digits) in (15, 18) and _is_id(digits):
        return "id_number"
    if _landline(digits):
        return "landline"
    local = len(digits) in LOCAL_LANDLINE_DIGITS and digits[0] not in "01" and not _thousands(groups, seps)
    if local and (_PHONE_CONTEXT.search(context) or _EXTENSION.match(after)):
        return "landline"
    card_groups = len(groups) == 1 or all(len(g) >= 3 for g in groups[:-1])
    if len(digits) >= CARD_MIN_DIGITS and card_groups and not _looks_like_dates(groups):
        return "card"
    return None


def _canonical(kind: str, digits: str) -> str:
    digits = digits.upper()
    if kind == "phone":
        return digits[-11:]
    return digits


def find_numbers(text: str) -> list[NumberHit]:
    """Every personal number in ``text``, non-overlapping and in order."""
    probe = _URL.sub(lambda m: "u" * len(m.group()), fold(text))
    hits: list[NumberHit] = []
    for run in _RUN.finditer(probe):
        pieces = list(_GROUP.finditer(probe, run.start(), run.end()))
        # An X is only the check digit of an ID: elsewhere (「3X」) it ends the run.
        groups = [p.group() for p in pieces]
        before = probe[max(0, run.start() - 2):run.start()]
        letter_before = bool(re.search(r"[A-Za-z][\s\-_]?$", before))
        index = 0
        while index < len(pieces):
            for end in range(len(pieces), index, -1):
                if groups[end - 1] in ("X", "x") and end - 1 == index:
                    continue
                start_at = pieces[index].start()
                stop_at = pieces[end - 1].end()
                seps = [probe[pieces[k].end():pieces[k + 1].start()] for k in range(index, end - 1)]
                context = probe[max(0, start_at - PHONE_CONTEXT_CHARS):start_at]
                kind = _classify(groups[index:end], seps, context, probe[stop_at:stop_at + 8],
                                 letter_before and index == 0)
                if kind is None:
                    continue
                digits = "".join(groups[index:end])
                start_at = _widen_left(probe, start_at, run.start(), stop_at)
                stop_at = _widen_right(probe, stop_at, kind)
                hits.append(NumberHit(kind, start_at, stop_at, _canonical(kind, digits)))
                index = end
                break
            else:
                index += 1
    return hits


def _widen_left(probe: str, start: int, run_start: int, stop: int) -> int:
    """Takes in a "+" of +86 and an opening bracket of (0771) or (+86) that belong to the number."""
    while start > run_start and probe[start - 1] in "+(（ ":
        start -= 1
    if start > 0 and probe[start - 1] in "(（" and re.search(r"[)）]", probe[start:stop]):
        start -= 1
    while start < len(probe) and probe[start] == " ":
        start += 1
    return start


def _widen_right(probe: str, stop: int, kind: str) -> int:
    """Takes in an extension (「转8」) after a landline."""
    if kind == "landline":
        ext = _EXTENSION.match(probe, stop)
        if ext:
            return ext.end()
    return stop


def extension_of(text: str) -> str:
    match = re.search(r"(?:转|分机|ext\.?)\s*(\d{1,5})\s*$", fold(text), re.IGNORECASE)
    return match.group(1) if match else ""
