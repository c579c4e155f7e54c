"""Personal data in residents' text: find it and mask it, one module for the whole project.

Finds ID numbers (any spacing, width, Chinese numerals, final X, old 15-digit IDs), mobile and landline
numbers (any separator, +86/0086, (0771), extensions), long card numbers, people's names in the contexts residents
give them (我叫…, 我妈…, 联系人…, X先生, 老X) and street addresses (…路…号, 栋/单元/室). Used for stored turns,
unanswered questions, work orders, exports, logs and agent replies.

This package is a leaf: it imports no other project package, so every package may import it.
Masks keep enough for a person to recognise their own data (ID: first and last four; mobile 3+4; landline area
code + last four; name: surname; address: up to the road or estate name) and never 7 consecutive digits.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from pii.addresses import find_addresses
from pii.addresses import mask_address as _mask_address
from pii.names import find_names, surname_of
from pii.numbers import area_code_length, digits_of, extension_of, find_numbers, fold

__all__ = [
    "KINDS", "Found", "find_personal_data", "mask_address", "mask_id_number", "mask_name", "mask_phone",
    "mask_text", "split_phone",
]

KINDS = ("id_number", "phone", "landline", "card", "name", "address")
# Numbers are the most certain finding, names and addresses the least: on overlap the earlier kind wins.
_PRIORITY = {"id_number": 0, "phone": 0, "landline": 0, "card": 0, "name": 1, "address": 2}
_MIN_DIGITS_KEPT_SHORT = 2
_ID_SEPARATORS = re.compile(r"[\s\-._/、，·]")


@dataclass(frozen=True)
class Found:
    kind: str  # "id_number" | "phone" | "landline" | "card" | "name" | "address"
    start: int  # span in the original text
    end: int
    text: str  # as typed
    canonical: str  # numbers: ASCII digits (+ final X), landlines with area code; names/addresses: stripped


def find_personal_data(text: str) -> list[Found]:
    """Every piece of personal data in ``text``, non-overlapping and in order. Never raises for a ``str``."""
    if not text:
        return []
    candidates: list[Found] = [Found(h.kind, h.start, h.end, text[h.start:h.end], h.canonical)
                               for h in find_numbers(text)]
    candidates += [Found("name", h.start, h.end, h.text, h.text.strip()) for h in find_names(text)]
    candidates += [Found("address", h.start, h.end, h.text, h.text.strip()) for h in find_addresses(text)]
    kept: list[Found] = []
    for found in sorted(candidates, key=lambda f: (_PRIORITY[f.kind], f.start)):
        if all(found.end <= k.start or k.end <= found.start for k in kept):
            kept.append(found)
    return sorted(kept, key=lambda f: f.start)


def mask_text(text: str, *, keep: Collection[str] = (), found: Sequence[Found] | None = None) -> str:
    """``text`` with all personal data masked and the rest left as typed.

    ``keep`` names kinds to leave in clear, e.g. ``keep=("address",)`` for the place of a work order, which
    staff need to send someone there (exports mask it again). ``found``: what ``find_personal_data(text)``
    already returned, so a caller that needs both (a stored turn) scans the text once.
    """
    if not text:
        return text
    pieces: list[str] = []
    last = 0
    for item in (find_personal_data(text) if found is None else found):
        if item.kind in keep:
            continue
        pieces.append(text[last:item.start])
        pieces.append(_mask_found(item))
        last = item.end
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def _mask_found(found: Found) -> str:
    if found.kind in ("id_number", "card"):
        return mask_id_number(found.canonical)
    if found.kind in ("phone", "landline"):
        ext = extension_of(found.text)
        return mask_phone(found.canonical) + (f"转{ext}" if ext else "")
    if found.kind == "name":
        return mask_name(found.text)
    return mask_address(found.text)


def mask_id_number(value: str | None) -> str:
    """``450103199001011234`` → ``4501**********1234`` (any spacing or width); short ones keep their ends."""
    if not value:
        return ""
    # Letters stay: foreign residents' permits (USA450078010156) and HK/Macau passes (H60123456).
    number = _ID_SEPARATORS.sub("", fold(value)).upper()
    if len(number) >= 9:
        return number[:4] + "*" * (len(number) - 8) + number[-4:]
    if len(number) <= _MIN_DIGITS_KEPT_SHORT:
        return "*" * len(number)
    return number[0] + "*" * (len(number) - 2) + number[-1]


def mask_phone(value: str | None) -> str:
    """``13812345678`` → ``138****5678``; ``0771-5551234`` → ``0771-***1234``; ``5551234`` → ``***1234``."""
    if not value:
        return ""
    digits = digits_of(value.split("转")[0])
    if len(digits) == 11 and digits.startswith("1"):
        return digits[:3] + "****" + digits[-4:]
    if digits.startswith("0") and len(digits) >= 10:
        area = area_code_length(digits)
        return digits[:area] + "-" + "*" * (len(digits) - area - 4) + digits[-4:]
    if len(digits) >= 7:
        return "*" * (len(digits) - 4) + digits[-4:]
    if len(digits) <= _MIN_DIGITS_KEPT_SHORT:
        return "*" * len(digits)
    return "*" * (len(digits) - 2) + digits[-2:]


def mask_name(value: str | None) -> str:
    """``张三`` → ``张*``, ``欧阳娜娜`` → ``欧阳**``, ``JOHN SMITH`` → ``J*** S****``."""
    if not value:
        return ""
    name = value.strip()
    if not name:
        return ""
    if name.isascii():
        # Latin names: keep each word's initial, so "J*** S****" still reads as a name.
        return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split())
    if len(name) == 1:
        return "*"
    surname = surname_of(name)
    if len(surname) >= len(name):
        surname = name[0]
    return surname + "".join("·" if ch == "·" else "*" for ch in name[len(surname):])


def mask_address(value: str | None) -> str:
    """Keeps up to the road or estate name and hides the numbers: ``东葛路118号`` → ``东葛路***号``."""
    return _mask_address(value)


def split_phone(text: str) -> tuple[str | None, str]:
    """The first mobile or landline number in ``text`` (canonical digits) and the text without it."""
    for found in find_personal_data(text or ""):
        if found.kind in ("phone", "landline"):
            return found.canonical, (text[:found.start] + " " + text[found.end:]).strip()
    return None, text

