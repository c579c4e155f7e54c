"""Masks for personal information shown on screens, receipts, exports and CLI output.

``4501**********123X`` for ID numbers, ``张*`` for names, ``138****5678`` for phone numbers. Masks keep the
length of the original so that a resident can still recognise their own data.
"""

from __future__ import annotations

import re

__all__ = ["mask_address", "mask_id_number", "mask_name", "mask_phone"]

_PHONE_SEPARATORS = re.compile(r"[\s\-()（）]")


def mask_id_number(number: str | None) -> str:
    """``450103199001011234`` → ``4501**********1234``; short numbers keep only their ends."""
    if not number:
        return ""
    number = number.strip()
    if len(number) >= 9:
        return number[:4] + "*" * (len(number) - 8) + number[-4:]
    if len(number) <= 2:
        return "*" * len(number)
    return number[0] + "*" * (len(number) - 2) + number[-1]


def mask_name(name: str | None) -> str:
    """``张三`` → ``张*``, ``欧阳娜娜`` → ``欧***``, ``JOHN SMITH`` → ``J*** S****``."""
    if not name:
        return ""
    name = name.strip()
    if name.isascii():
        # Latin names: keep each word's initial, so "J*** S****" still reads as a name.
        return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split())
    if len(name) == 1:
        return "*"
    return name[0] + "".join("·" if ch == "·" else "*" for ch in name[1:])


def mask_phone(phone: str | None) -> str:
    """``13812345678`` → ``138****5678``; landlines and ``+86`` prefixes are handled the same way."""
    if not phone:
        return ""
    digits = _PHONE_SEPARATORS.sub("", phone.strip())
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            digits = digits[len(prefix) :]
    if len(digits) >= 7:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    if len(digits) <= 2:
        return "*" * len(digits)
    return "*" * (len(digits) - 2) + digits[-2:]


def mask_address(address: str | None) -> str:
    """Keep the administrative part (up to the county/district), hide the street and house number.

    ``广西壮族自治区南宁市青秀区民族大道100号`` → ``广西壮族自治区南宁市青秀区****``.
    """
    if not address:
        return ""
    address = address.strip()
    # Only the first 16 characters can be the administrative part; beyond that it is the street, where
    # a 市 or 区 (市场路, 小区) would reveal more than intended.
    head = address[:16]
    keep = 0
    for units in ("区县旗", "市"):
        positions = [index for index, ch in enumerate(head) if ch in units and index >= 1]
        if positions:
            keep = positions[-1] + 1
            break
    if keep == 0 or keep >= len(address):
        keep = min(len(address) // 3, 6)
    return address[:keep] + "****"
