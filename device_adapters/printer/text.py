"""Receipt text: display width, line wrapping, and making text safe to send to a printer.

On a Chinese ESC/POS printer every character outside ASCII is printed from the double-byte GB font and takes
two columns (this includes ·, —, “” and full-width punctuation that ``east_asian_width`` calls ambiguous);
ASCII takes one. So the width is counted the printer's way, not with ``len()``.
"""

from __future__ import annotations

import re
import unicodedata
from enum import Enum


class PaperWidth(Enum):
    """Paper roll width; ``columns`` is half-width characters per line at the normal size."""

    MM58 = 58
    MM80 = 80

    @property
    def columns(self) -> int:
        return 32 if self is PaperWidth.MM58 else 48

    @property
    def dots(self) -> int:
        # Printable width at 203 dpi: 48 mm and 72 mm.
        return 384 if self is PaperWidth.MM58 else 576

    @classmethod
    def parse(cls, value: int | str | PaperWidth) -> PaperWidth:
        if isinstance(value, PaperWidth):
            return value
        text = str(value).strip().lower().removesuffix("mm")
        try:
            return cls(int(text))
        except ValueError:
            raise ValueError(f"paper width must be 58 or 80 (mm), not {value!r}") from None


# Characters that may not begin a line (行首禁则) and may not end one (行尾禁则).
NO_LINE_START = set("，。、；：！？）》」』】〕〉’”…—·%,.;:!?)]}")
NO_LINE_END = set("（《「『【〔〈‘“([{")
_TOKEN = re.compile(r"[!-~]+| +|.", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def char_width(ch: str) -> int:
    if ch == "\n" or unicodedata.category(ch) in ("Cc", "Cf", "Mn", "Me"):
        return 0
    return 1 if ord(ch) < 0x80 else 2


def display_width(text: str) -> int:
    return sum(char_width(ch) for ch in text)


def sanitize(text: str) -> str:
    """Printable text only: control bytes (ESC, GS…) in content must never reach the printer as commands,
    and characters with no two-byte GB code (emoji, rare ideographs) are not in the printer's font."""
    text = unicodedata.normalize("NFC", _CONTROL.sub("", text.replace("\t", " ").replace("\r", "")))
    out = []
    for ch in text:
        if ord(ch) >= 0x80 and len(ch.encode("gb18030")) != 2:
            out.append("?")
        else:
            out.append(ch)
    return "".join(out)


def _tokens(paragraph: str) -> list[str]:
    """Unbreakable pieces: ASCII words (URLs and numbers stay whole), single CJK characters with any
    punctuation that must stay on their line, and single spaces as break opportunities."""
    tokens: list[str] = []
    opening = ""
    for match in _TOKEN.finditer(paragraph):
        piece = match.group()
        if piece.isspace():
            if tokens and tokens[-1] != " ":
                tokens.append(" ")
            continue
        if piece in NO_LINE_END:
            opening += piece
            continue
        if piece in NO_LINE_START and tokens and tokens[-1] != " ":
            tokens[-1] += opening + piece
            opening = ""
            continue
        tokens.append(opening + piece)
        opening = ""
    if opening:
        tokens.append(opening)
    while tokens and tokens[-1] == " ":
        tokens.pop()
    return tokens


def _split_hard(token: str, columns: int) -> tuple[str, str]:
    """The longest head of ``token`` that fits ``columns`` (at least one character), and the rest."""
    width = 0
    for index, ch in enumerate(token):
        width += char_width(ch)
        if width > columns:
            return token[: max(index, 1)], token[max(index, 1) :]
    return token, ""


def wrap(text: str, columns: int, *, first_prefix: str = "", next_prefix: str = "") -> list[str]:
    """Wrap ``text`` into lines of at most ``columns`` display columns, prefixes included.

    ``first_prefix`` starts the first line (a bullet, a label) and ``next_prefix`` the others (an indent).
    Explicit newlines start new paragraphs.
    """
    if columns < 2:
        raise ValueError("columns must be at least 2")
    lines: list[str] = []
    for paragraph in sanitize(text).split("\n"):
        prefix = first_prefix if not lines else next_prefix
        current = prefix
        pending_space = False
        for token in _tokens(paragraph):
            if token == " ":
                pending_space = current != prefix
                continue
            candidate = current + (" " if pending_space else "") + token
            pending_space = False
            if display_width(candidate) <= columns:
                current = candidate
                continue
            if current != prefix:
                lines.append(current)
                prefix = next_prefix
                current = prefix
            room = columns - display_width(prefix)
            while display_width(token) > room:
                head, token = _split_hard(token, max(room, 2))
                lines.append(prefix + head)
            current = prefix + token
        if current != prefix or not paragraph:
            lines.append(current.rstrip() if current != prefix else prefix.rstrip())
    return lines
