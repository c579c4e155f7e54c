"""Kiosk themes as data, the checks that keep them within the elderly-friendly numbers, and the web palette.

Two kiosk themes, both large-text: ``normal`` (dark text on a warm light background, dark blue buttons)
and ``high_contrast`` (white and yellow on black). :func:`get_theme` can enlarge either by
:data:`LARGER_TEXT_SCALE`. The numbers come from ``reference/accessibility.md``:

- text contrast ≥ 7:1 (WCAG 1.4.6 AAA), borders / shapes / focus ≥ 3:1 (WCAG 1.4.11);
- main text ≥ 30 sp, nothing below 24 sp, line spacing ≥ 1.3;
- touch targets ≥ 60 dp, ≥ 16 dp apart.

Sizes are in Kivy units (``sp`` for fonts, ``dp`` for lengths); this module does not import Kivy, the
kiosk converts with ``kivy.metrics.sp/dp``. :func:`web_palette` gives CSS custom properties for the web
chat (text contrast ≥ 4.5:1, in practice the same colours as the kiosk).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from types import MappingProxyType

from .contrast import AA_TEXT, AAA_TEXT, NON_TEXT, contrast_ratio, to_kivy_rgba
from .errors import ThemeError, UnknownThemeError

__all__ = [
    "DEFAULT_THEME",
    "LARGER_TEXT_SCALE",
    "MIN_FONT_SP",
    "MIN_LINE_HEIGHT",
    "MIN_MAIN_FONT_SP",
    "MIN_TOUCH_GAP_DP",
    "MIN_TOUCH_TARGET_DP",
    "THEMES",
    "Palette",
    "Sizes",
    "Theme",
    "Violation",
    "check_theme",
    "check_web_palette",
    "get_theme",
    "theme_names",
    "validate_theme",
    "web_palette",
    "web_palette_css",
]

MIN_MAIN_FONT_SP = 30.0
MIN_FONT_SP = 24.0
MIN_LINE_HEIGHT = 1.3
MIN_TOUCH_TARGET_DP = 60.0
MIN_TOUCH_GAP_DP = 16.0
LARGER_TEXT_SCALE = 1.25
DEFAULT_THEME = "normal"


@dataclass(frozen=True)
class Palette:
    """Opaque ``#rrggbb`` colours. ``accent`` and ``focus`` are for shapes only, never behind text."""

    background: str
    surface: str  # answer panel, cards
    text: str
    text_secondary: str  # hints and captions: quieter, still ≥ 7:1
    button: str
    button_text: str
    button_border: str
    primary: str  # the one main action on a screen (确认, 继续使用)
    primary_text: str
    danger: str  # 呼叫工作人员, emergency
    danger_text: str
    accent: str  # selected tile outline, progress bar, icons
    focus: str  # focus ring

    def rgba(self, role: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
        """Kivy colour for a role name, e.g. ``palette.rgba("button_text")``."""
        if role not in _PALETTE_ROLES:
            raise ThemeError(f"unknown palette role {role!r}; roles: {', '.join(_PALETTE_ROLES)}")
        return to_kivy_rgba(getattr(self, role), alpha)


_PALETTE_ROLES = tuple(f.name for f in fields(Palette))

# (foreground, background) pairs that carry text, and pairs where only a shape must be seen.
TEXT_PAIRS: tuple[tuple[str, str], ...] = (
    ("text", "background"),
    ("text", "surface"),
    ("text_secondary", "background"),
    ("text_secondary", "surface"),
    ("button_text", "button"),
    ("primary_text", "primary"),
    ("danger_text", "danger"),
)
NON_TEXT_PAIRS: tuple[tuple[str, str], ...] = (
    ("button_border", "background"),
    ("button_border", "surface"),
    ("primary", "background"),
    ("danger", "background"),
    ("accent", "background"),
    ("accent", "surface"),
    ("focus", "background"),
    ("focus", "button"),
)


@dataclass(frozen=True)
class Sizes:
    """Font sizes in sp, lengths in dp, ``line_height`` as Kivy's ``Label.line_height`` multiplier."""

    font_title_sp: float = 40.0
    font_main_sp: float = 32.0
    font_button_sp: float = 32.0
    font_small_sp: float = 26.0  # the smallest text anywhere (captions, the idle countdown label)
    line_height: float = 1.4
    touch_target_dp: float = 96.0  # minimum of a button's width and height
    touch_gap_dp: float = 20.0
    padding_dp: float = 24.0
    border_width_dp: float = 3.0
    corner_radius_dp: float = 12.0

    @property
    def font_sizes_sp(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name.startswith("font_")}


@dataclass(frozen=True)
class Theme:
    name: str
    label: str  # shown to residents on the settings tile
    palette: Palette
    sizes: Sizes
    text_scale: float = 1.0

    def scaled(self, factor: float) -> Theme:
        """Larger text; touch targets grow with it so that labels still fit inside the buttons."""
        if factor <= 0:
            raise ThemeError(f"scale factor must be positive, got {factor}")
        s = self.sizes
        sizes = replace(
            s,
            font_title_sp=round(s.font_title_sp * factor, 1),
            font_main_sp=round(s.font_main_sp * factor, 1),
            font_button_sp=round(s.font_button_sp * factor, 1),
            font_small_sp=round(s.font_small_sp * factor, 1),
            touch_target_dp=round(s.touch_target_dp * factor, 1),
        )
        return replace(self, sizes=sizes, text_scale=round(self.text_scale * factor, 3))


_NORMAL = Theme(
    name="normal",
    label="大字标准",
    palette=Palette(
        background="#FFFBF2",
        surface="#FFFFFF",
        text="#1A1A1A",
        text_secondary="#3D3D3D",
        button="#0B3D91",
        button_text="#FFFFFF",
        button_border="#0B3D91",
        primary="#075A25",
        primary_text="#FFFFFF",
        danger="#A8071A",
        danger_text="#FFFFFF",
        accent="#C25E00",
        # The one orange that keeps 3:1 both against the light background and the dark blue buttons.
        focus="#DB7400",
    ),
    sizes=Sizes(),
)
_HIGH_CONTRAST = Theme(
    name="high_contrast",
    label="高对比度",
    palette=Palette(
        background="#000000",
        surface="#121212",
        text="#FFFFFF",
        text_secondary="#FFFF00",
        button="#000000",
        button_text="#FFFF00",
        button_border="#FFFF00",
        primary="#FFFF00",
        primary_text="#000000",
        danger="#FF8080",
        danger_text="#000000",
        accent="#00FFFF",
        focus="#00FFFF",
    ),
    sizes=Sizes(font_main_sp=34.0, font_button_sp=34.0, border_width_dp=4.0),
)

THEMES: Mapping[str, Theme] = MappingProxyType({t.name: t for t in (_NORMAL, _HIGH_CONTRAST)})


def theme_names() -> list[str]:
    return sorted(THEMES)


def get_theme(name: str = DEFAULT_THEME, *, larger_text: bool = False) -> Theme:
    """A theme by name (``normal``, ``high_contrast``), optionally with larger text."""
    try:
        theme = THEMES[name]
    except KeyError:
        raise UnknownThemeError(
            f"unknown theme {name!r}; choose one of: {', '.join(theme_names())}"
        ) from None
    return theme.scaled(LARGER_TEXT_SCALE) if larger_text else theme


@dataclass(frozen=True)
class Violation:
    rule: str  # "text-contrast", "non-text-contrast", "font-size", "touch-target", ...
    subject: str  # what was measured, e.g. "button_text on button"
    actual: float
    required: float

    def __str__(self) -> str:
        return f"{self.rule}: {self.subject} is {self.actual:.2f}, needs ≥ {self.required:g}"


def _contrast_violations(
    colours: Mapping[str, str], pairs: tuple[tuple[str, str], ...], minimum: float, rule: str
) -> list[Violation]:
    found = []
    for fg, bg in pairs:
        ratio = contrast_ratio(colours[fg], colours[bg])
        if ratio < minimum:
            found.append(Violation(rule, f"{fg} on {bg}", round(ratio, 2), minimum))
    return found


def check_theme(theme: Theme) -> list[Violation]:
    """Every way ``theme`` misses the kiosk numbers; an empty list means it complies."""
    colours = {role: getattr(theme.palette, role) for role in _PALETTE_ROLES}
    found = _contrast_violations(colours, TEXT_PAIRS, AAA_TEXT, "text-contrast")
    found += _contrast_violations(colours, NON_TEXT_PAIRS, NON_TEXT, "non-text-contrast")
    s = theme.sizes
    if s.font_main_sp < MIN_MAIN_FONT_SP:
        found.append(Violation("main-font-size", "font_main_sp", s.font_main_sp, MIN_MAIN_FONT_SP))
    for name, size in s.font_sizes_sp.items():
        if size < MIN_FONT_SP:
            found.append(Violation("font-size", name, size, MIN_FONT_SP))
    if s.line_height < MIN_LINE_HEIGHT:
        found.append(Violation("line-height", "line_height", s.line_height, MIN_LINE_HEIGHT))
    if s.touch_target_dp < MIN_TOUCH_TARGET_DP:
        found.append(Violation("touch-target", "touch_target_dp", s.touch_target_dp, MIN_TOUCH_TARGET_DP))
    if s.touch_gap_dp < MIN_TOUCH_GAP_DP:
        found.append(Violation("touch-gap", "touch_gap_dp", s.touch_gap_dp, MIN_TOUCH_GAP_DP))
    return found


def validate_theme(theme: Theme) -> Theme:
    """Return ``theme`` unchanged, or raise :class:`ThemeError` listing every violation."""
    found = check_theme(theme)
    if found:
        raise ThemeError(f"theme {theme.name!r} breaks {len(found)} rule(s): " + "; ".join(map(str, found)))
    return theme


# --- web chat -----------------------------------------------------------------------------------

WEB_FONT_SIZE_PX = 18  # MIIT website spec: ≥ 18 px in the elderly mode
WEB_TEXT_PAIRS: tuple[tuple[str, str], ...] = (
    ("--shequ-text", "--shequ-bg"),
    ("--shequ-text", "--shequ-surface"),
    ("--shequ-text-secondary", "--shequ-bg"),
    ("--shequ-text-secondary", "--shequ-surface"),
    ("--shequ-user-bubble-text", "--shequ-user-bubble-bg"),
    ("--shequ-bot-bubble-text", "--shequ-bot-bubble-bg"),
    ("--shequ-button-text", "--shequ-button-bg"),
    ("--shequ-danger-text", "--shequ-danger-bg"),
    ("--shequ-link", "--shequ-bg"),
    ("--shequ-link", "--shequ-surface"),
)
WEB_NON_TEXT_PAIRS: tuple[tuple[str, str], ...] = (
    ("--shequ-border", "--shequ-bg"),
    ("--shequ-border", "--shequ-surface"),
    ("--shequ-focus", "--shequ-bg"),
    ("--shequ-focus", "--shequ-surface"),
)


def web_palette(high_contrast: bool = False) -> dict[str, str]:
    """CSS custom properties for the web chat, derived from the kiosk theme so both look alike."""
    p = get_theme("high_contrast" if high_contrast else "normal").palette
    return {
        "--shequ-bg": p.background,
        "--shequ-surface": p.surface,
        "--shequ-text": p.text,
        "--shequ-text-secondary": p.text_secondary,
        "--shequ-user-bubble-bg": p.primary if high_contrast else p.button,
        "--shequ-user-bubble-text": p.primary_text if high_contrast else p.button_text,
        "--shequ-bot-bubble-bg": p.surface,
        "--shequ-bot-bubble-text": p.text,
        "--shequ-button-bg": p.button,
        "--shequ-button-text": p.button_text,
        "--shequ-danger-bg": p.danger,
        "--shequ-danger-text": p.danger_text,
        "--shequ-link": p.button_text if high_contrast else p.button,
        "--shequ-border": p.button_border,
        "--shequ-focus": p.focus,
        "--shequ-font-family": '"WenQuanYi Micro Hei", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif',
        "--shequ-font-size": f"{WEB_FONT_SIZE_PX}px",
        "--shequ-font-size-large": f"{round(WEB_FONT_SIZE_PX * LARGER_TEXT_SCALE)}px",
        "--shequ-line-height": "1.6",
        "--shequ-touch-target": "44px",
    }


def check_web_palette(palette: Mapping[str, str]) -> list[Violation]:
    """Text pairs ≥ 4.5:1 (WCAG AA, the MIIT minimum), borders and focus ≥ 3:1."""
    found = _contrast_violations(palette, WEB_TEXT_PAIRS, AA_TEXT, "text-contrast")
    return found + _contrast_violations(palette, WEB_NON_TEXT_PAIRS, NON_TEXT, "non-text-contrast")


def web_palette_css(high_contrast: bool = False, selector: str = ":root") -> str:
    """The palette as a CSS rule, ready to inline in a ``<style>`` element."""
    body = "\n".join(f"  {name}: {value};" for name, value in web_palette(high_contrast).items())
    return f"{selector} {{\n{body}\n}}\n"
