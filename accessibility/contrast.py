"""Colour parsing and WCAG 2.x contrast.

Relative luminance and contrast ratio as defined in WCAG 2.2 (success criteria 1.4.3, 1.4.6, 1.4.11).
Colours are opaque sRGB hex strings (``#rgb`` or ``#rrggbb``): translucent colours have no single
contrast ratio, so they are rejected rather than guessed.
"""

from __future__ import annotations

import re

from .errors import ColorFormatError

__all__ = [
    "AAA_TEXT",
    "AA_TEXT",
    "NON_TEXT",
    "Rgb",
    "contrast_ratio",
    "parse_color",
    "relative_luminance",
    "to_kivy_rgba",
]

AA_TEXT = 4.5  # WCAG 1.4.3, and MIIT's minimum for elderly-friendly apps
AAA_TEXT = 7.0  # WCAG 1.4.6: the kiosk's requirement for text
NON_TEXT = 3.0  # WCAG 1.4.11: borders, focus rings, icons, button shapes

Rgb = tuple[int, int, int]

_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


def parse_color(color: str | Rgb) -> Rgb:
    """``"#0b3d91"``, ``"0B3D91"``, ``"#fff"`` or an ``(r, g, b)`` tuple of 0..255 → ``(r, g, b)``."""
    if isinstance(color, tuple):
        if len(color) == 3 and all(isinstance(c, int) and 0 <= c <= 255 for c in color):
            return color
        raise ColorFormatError(f"colour tuple must be three ints 0..255, got {color!r}")
    if not isinstance(color, str):
        raise ColorFormatError(f"colour must be a hex string, got {type(color).__name__}")
    match = _HEX.fullmatch(color.strip())
    if not match:
        raise ColorFormatError(f"not an opaque hex colour (#rgb or #rrggbb): {color!r}")
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _linear(channel: int) -> float:
    value = channel / 255
    # 0.04045 is the sRGB threshold; WCAG 2.0's 0.03928 gives the same result for 8-bit values.
    return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4


def relative_luminance(color: str | Rgb) -> float:
    """WCAG relative luminance, 0.0 (black) .. 1.0 (white)."""
    r, g, b = parse_color(color)
    return 0.2126 * _linear(r) + 0.7152 * _linear(g) + 0.0722 * _linear(b)


def contrast_ratio(first: str | Rgb, second: str | Rgb) -> float:
    """WCAG contrast ratio between two colours, 1.0 .. 21.0, symmetric in its arguments."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def to_kivy_rgba(color: str | Rgb, alpha: float = 1.0) -> tuple[float, float, float, float]:
    """The 0..1 floats Kivy's ``color`` / ``background_color`` properties expect."""
    r, g, b = parse_color(color)
    return r / 255, g / 255, b / 255, alpha
