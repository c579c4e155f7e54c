"""The active theme as Kivy properties, so every ``.kv`` rule that uses it updates when it changes.

``THEME`` is imported in the ``.kv`` files (``#:import T kiosk_app.theme.THEME``); colours are Kivy rgba
lists, sizes are pixels already converted from the theme's sp/dp.
"""

from __future__ import annotations

from kivy.event import EventDispatcher
from kivy.metrics import dp, sp
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty, StringProperty

from accessibility import Theme, get_theme

ROLES = ("background", "surface", "text", "text_secondary", "button", "button_text", "button_border",
         "primary", "primary_text", "danger", "danger_text", "accent", "focus")


class ThemeState(EventDispatcher):
    name = StringProperty("normal")
    larger_text = BooleanProperty(False)

    background = ColorProperty("#FFFBF2")
    surface = ColorProperty("#FFFFFF")
    text = ColorProperty("#1A1A1A")
    text_secondary = ColorProperty("#3D3D3D")
    button = ColorProperty("#0B3D91")
    button_text = ColorProperty("#FFFFFF")
    button_border = ColorProperty("#0B3D91")
    primary = ColorProperty("#075A25")
    primary_text = ColorProperty("#FFFFFF")
    danger = ColorProperty("#A8071A")
    danger_text = ColorProperty("#FFFFFF")
    accent = ColorProperty("#C25E00")
    focus = ColorProperty("#DB7400")

    font_tile = NumericProperty(48)  # the home screen's tiles and the keypad's digits
    font_title = NumericProperty(40)
    font_main = NumericProperty(32)
    font_button = NumericProperty(32)
    font_small = NumericProperty(26)
    font_huge = NumericProperty(120)  # the queue number and the idle countdown
    line_height = NumericProperty(1.4)
    touch = NumericProperty(96)
    gap = NumericProperty(20)
    pad = NumericProperty(24)
    border = NumericProperty(3)
    radius = NumericProperty(12)

    def apply(self, theme: Theme) -> None:
        for role in ROLES:
            setattr(self, role, theme.palette.rgba(role))
        s = theme.sizes
        self.font_tile = sp(s.font_title_sp * 1.2)
        self.font_title = sp(s.font_title_sp)
        self.font_main = sp(s.font_main_sp)
        self.font_button = sp(s.font_button_sp)
        self.font_small = sp(s.font_small_sp)
        self.font_huge = sp(s.font_title_sp * 3)
        self.line_height = s.line_height
        self.touch = dp(s.touch_target_dp)
        self.gap = dp(s.touch_gap_dp)
        self.pad = dp(s.padding_dp)
        self.border = dp(s.border_width_dp)
        self.radius = dp(s.corner_radius_dp)
        self.larger_text = theme.text_scale > 1.0
        self.name = theme.name

    def use(self, name: str, larger_text: bool = False) -> Theme:
        theme = get_theme(name, larger_text=larger_text)
        self.apply(theme)
        return theme


THEME = ThemeState()
THEME.use("normal")
