"""Small numeral helpers shared by the entity extractors."""

from __future__ import annotations

import cn2an

CN_NUMERAL_CHARS = "零〇一二两三四五六七八九十百"
# A run of digits or Chinese numerals; callers bound the length.
NUMERAL = rf"[0-9{CN_NUMERAL_CHARS}]"

_SINGLE = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
           "八": 8, "九": 9}


def to_int(token: str) -> int | None:
    """``"12"``, ``"十二"``, ``"二〇二六"``, ``"两"`` → int; anything else → ``None``."""
    token = token.strip()
    if not token:
        return None
    if token.isascii() and token.isdigit():
        return int(token)
    if all(ch in _SINGLE for ch in token) and len(token) > 1:
        # Digit-by-digit years such as 二〇二六: cn2an reads them as a place-value number otherwise.
        return int("".join(str(_SINGLE[ch]) for ch in token))
    try:
        value = cn2an.cn2an(token, "smart")
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    return int(value)
