"""The accessibility audit of a screen's widget tree: the numbers of ``reference/accessibility.md``, measured.

For every visible text: size (≥ 24 sp; below 30 sp only for captions and hints), contrast against the colour
actually painted behind it (≥ 7:1), line spacing (≥ 1.3) and whether it fits its widget (no clipped
Chinese). For every button: size (≥ 60 × 60 dp) and distance to the others (≥ 16 dp). Per screen: at most six
service choices, 返回 and 首页 where there is somewhere to go back to, and a way to a person.
Used by the GUI test on every screen and printed by ``shequ kiosk --screenshots``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from kivy.metrics import dp, sp
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from accessibility.contrast import AAA_TEXT, contrast_ratio
from accessibility.themes import (
    MIN_FONT_SP,
    MIN_LINE_HEIGHT,
    MIN_MAIN_FONT_SP,
    MIN_TOUCH_GAP_DP,
    MIN_TOUCH_TARGET_DP,
)
from assistant.dialogue import payloads
from kiosk_app import texts
from kiosk_app.catalog import PAGE_SIZE

SERVICE_COMMANDS = frozenset({"category", "common", "more", "ask", "payload", "aspect"})
STAFF_LABELS = frozenset({texts.STAFF_BUTTON, texts.NOT_SOLVED_BUTTON})
# Screens where 返回/首页 would lead nowhere (home) or where the two big buttons already do it (idle).
NO_NAV_SCREENS = frozenset({"home", "idle"})
# The handoff screen is itself the way to a person (a queue number, or a callback when nobody is on duty).
NO_STAFF_SCREENS = frozenset({"idle", "handoff"})
_TOLERANCE = 1.0  # pixels of rounding in Kivy's layout


@dataclass(frozen=True)
class Finding:
    screen: str
    rule: str
    subject: str
    actual: float
    required: float

    def __str__(self) -> str:
        return f"[{self.screen}] {self.rule}: {self.subject} is {self.actual:.1f}, needs {self.required:g}"


def _walk(widget: Widget) -> Iterator[Widget]:
    yield widget
    for child in widget.children:
        yield from _walk(child)


def _visible(widget: Widget) -> bool:
    node: Widget | None = widget
    while node is not None and isinstance(node, Widget):
        if node.opacity == 0 or node.disabled:
            return False
        node = node.parent
    return widget.width > 0 and widget.height > 0


def _rgb(rgba: Iterable[float]) -> tuple[int, int, int]:
    r, g, b, *_ = rgba
    return round(r * 255), round(g * 255), round(b * 255)


def background_of(widget: Widget) -> tuple[float, ...] | None:
    """The opaque colour painted behind ``widget``: the nearest ancestor (or itself) with ``bg_color``."""
    node: Widget | None = widget
    while node is not None and isinstance(node, Widget):
        colour = getattr(node, "bg_color", None)
        if colour is not None and len(colour) == 4 and colour[3] >= 0.999:
            return tuple(colour)
        node = node.parent
    return None


def _in_scroll_view(widget: Widget) -> bool:
    node = widget.parent
    while node is not None and isinstance(node, Widget):
        if isinstance(node, ScrollView):
            return True
        node = node.parent
    return False


def _label_findings(screen: str, label: Label) -> list[Finding]:
    found: list[Finding] = []
    subject = f"{type(label).__name__} {label.text[:16]!r}"
    size_sp = label.font_size / sp(1)
    small = getattr(label, "role", "main") == "small"
    minimum = MIN_FONT_SP if small else MIN_MAIN_FONT_SP
    if size_sp < minimum - 0.01:
        found.append(Finding(screen, "font-size", subject, size_sp, minimum))
    background = background_of(label)
    if background is None:
        found.append(Finding(screen, "no-background", subject, 0, 1))
    else:
        ratio = contrast_ratio(_rgb(label.color), _rgb(background))
        if ratio < AAA_TEXT:
            found.append(Finding(screen, "text-contrast", subject, ratio, AAA_TEXT))
    if label.texture_size[1] > label.font_size * 1.8 and label.line_height < MIN_LINE_HEIGHT:
        found.append(Finding(screen, "line-height", subject, label.line_height, MIN_LINE_HEIGHT))
    if label.texture_size[0] > label.width + _TOLERANCE:
        found.append(Finding(screen, "text-overflow-x", subject, label.texture_size[0], label.width))
    if not _in_scroll_view(label) and label.texture_size[1] > label.height + _TOLERANCE:
        found.append(Finding(screen, "text-overflow-y", subject, label.texture_size[1], label.height))
    return found


def _gap(a: Widget, b: Widget) -> float:
    ax, ay = a.to_window(a.x, a.y)
    bx, by = b.to_window(b.x, b.y)
    dx = max(bx - (ax + a.width), ax - (bx + b.width), 0)
    dy = max(by - (ay + a.height), ay - (by + b.height), 0)
    if dx == 0 and dy == 0:
        return -1.0  # overlapping
    return max(dx, dy)


def _button_label(button: Widget) -> str:
    return str(getattr(button, "text", "") or type(button).__name__)


def audit_screen(screen: Widget, label: str | None = None) -> list[Finding]:
    """Every way ``screen`` misses the numbers; ``label`` names it in the findings (default: its name)."""
    kind = str(getattr(screen, "name", "screen"))
    name = label or kind
    widgets = [w for w in _walk(screen) if _visible(w)]
    found: list[Finding] = []
    labels = [w for w in widgets if isinstance(w, Label) and w.text.strip()]
    for label in labels:
        found += _label_findings(name, label)
    if labels and max(label.font_size / sp(1) for label in labels) < MIN_MAIN_FONT_SP:
        found.append(Finding(name, "main-font-size", "largest text", max(lb.font_size / sp(1) for lb in labels),
                             MIN_MAIN_FONT_SP))
    buttons = [w for w in widgets if isinstance(w, ButtonBehavior)]
    for button in buttons:
        smallest = min(button.width, button.height) / dp(1)
        if smallest < MIN_TOUCH_TARGET_DP - 0.01:
            found.append(Finding(name, "touch-target", _button_label(button), smallest, MIN_TOUCH_TARGET_DP))
    for a, b in itertools.combinations(buttons, 2):
        gap = _gap(a, b) / dp(1)
        if gap < MIN_TOUCH_GAP_DP - 0.01:
            found.append(Finding(name, "touch-gap", f"{_button_label(a)} / {_button_label(b)}", gap,
                                 MIN_TOUCH_GAP_DP))
    services = [b for b in buttons if getattr(getattr(b, "action", None), "command", None) in SERVICE_COMMANDS
                and getattr(b.action, "argument", "") != payloads.HUMAN]
    if len(services) > PAGE_SIZE:
        found.append(Finding(name, "service-choices", "buttons", len(services), PAGE_SIZE))
    labels_on_buttons = {_button_label(b) for b in buttons}
    if kind not in NO_NAV_SCREENS:
        for required in (texts.BACK, texts.HOME):
            if required not in labels_on_buttons:
                found.append(Finding(name, "missing-button", required, 0, 1))
    if kind not in NO_STAFF_SCREENS and not labels_on_buttons & STAFF_LABELS:
        found.append(Finding(name, "missing-button", texts.STAFF_BUTTON, 0, 1))
    return found


def _window_rect(widget: Widget) -> tuple[float, float, float, float]:
    x, y = widget.to_window(widget.x, widget.y)
    return x, y, x + widget.width, y + widget.height


def audit_banner(banner: Widget, screen: Widget, label: str | None = None) -> list[Finding]:
    """The warning banner above ``screen``: its text and touch target by the same numbers, its colours at
    7:1, and no button of the screen under it (it must push the screen down, never cover 返回 or 呼叫工作人员)."""
    name = label or str(getattr(screen, "name", "screen"))
    if not _visible(banner):
        return []
    found: list[Finding] = []
    for widget in _walk(banner):
        if _visible(widget) and isinstance(widget, Label) and widget.text.strip():
            found += _label_findings(name, widget)
    smallest = min(banner.width, banner.height) / dp(1)
    if smallest < MIN_TOUCH_TARGET_DP - 0.01:
        found.append(Finding(name, "touch-target", "warning banner", smallest, MIN_TOUCH_TARGET_DP))
    left, bottom, right, top = _window_rect(banner)
    for button in (w for w in _walk(screen) if _visible(w) and isinstance(w, ButtonBehavior)):
        bl, bb, br, bt = _window_rect(button)
        if bl < right - _TOLERANCE and br > left + _TOLERANCE and bb < top - _TOLERANCE and bt > bottom + _TOLERANCE:
            found.append(Finding(name, "covered-by-warning", _button_label(button), 1, 0))
    return found
