"""The warning strip above every screen: 「暴雨橙色预警：……（有效至…）」 in the level's colours, 另有N条预警, and a
tap anywhere on it opens the warning on its own screen.

It sits above the screens, not over them: the app stacks it and the ScreenManager in one column, so a warning
pushes a screen down and never covers 返回, 首页, 呼叫工作人员 or the emergency buttons.
"""

from __future__ import annotations

from typing import Any

from kivy.lang import Builder
from kivy.properties import ObjectProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.utils import get_color_from_hex

from kiosk_app import texts
from kiosk_app.views import Action, WarningBannerView
from kiosk_app.widgets import Panel

Builder.load_string('''
#:import T kiosk_app.theme.THEME
#:import texts kiosk_app.texts

<WarningBanner>:
    orientation: "horizontal"
    size_hint_y: None
    padding: T.pad, T.pad * 0.25
    spacing: T.gap
    canvas.after:
        Color:
            rgba: (T.focus if self.state == "down" else self.fg_color) if self.height else (0, 0, 0, 0)
        Line:
            rectangle: self.x + T.border, self.y + T.border, self.width - 2 * T.border, self.height - 2 * T.border
            width: T.border
    KioskLabel:
        id: text
        role: "main"  # 32 sp (≥ 30): two lines of it take less room from the screen than one of a title
        bold: True
        ink: root.fg_color
        pos_hint: {"center_y": 0.5}
    BoxLayout:
        orientation: "vertical"
        size_hint_x: None
        width: T.font_main * 7 + T.pad  # 另有N条预警: fixed, a width taken from the wrapped text would feed back
        pos_hint: {"center_y": 0.5}
        size_hint_y: None
        height: more.height + hint.height
        KioskLabel:
            id: more
            role: "main"
            bold: True
            halign: "center"
            ink: root.fg_color
            text: root.more
        KioskLabel:
            id: hint
            role: "small"
            halign: "center"
            ink: root.fg_color
            text: texts.WARNING_TAP_HINT
''')


class WarningBanner(ButtonBehavior, Panel):
    """Hidden (no height, not touchable) until :meth:`show_warning` gets a view."""

    controller = ObjectProperty(None, allownone=True)
    more = StringProperty("")
    fg_color = ObjectProperty([1, 1, 1, 1])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.view: WarningBannerView | None = None
        self.show_warning(None)

    def show_warning(self, view: WarningBannerView | None) -> None:
        self.view = view
        label = self.ids.text
        if view is None:
            label.text, self.more = "", ""
            self.height, self.opacity, self.disabled = 0, 0, True
            return
        self.bg_color = get_color_from_hex(view.background)
        self.fg_color = get_color_from_hex(view.text_color)
        label.text, self.more = view.text, view.more
        self.opacity, self.disabled = 1, False
        self._fit()

    def on_kv_post(self, base_widget: object) -> None:
        self.ids.text.bind(height=self._fit)
        self.ids.more.bind(height=self._fit)

    def _fit(self, *_args: object) -> None:
        if self.view is None:
            return
        from kiosk_app.theme import THEME

        content = max(self.ids.text.height, self.ids.more.height + self.ids.hint.height, THEME.touch)
        self.height = content + THEME.pad  # the padding (a quarter pad each side) and some air

    def on_release(self) -> None:
        if self.view is not None and self.controller is not None:
            self.controller.perform(Action(texts.WARNING_TAP_HINT, "warning", str(self.view.warning_id)))
