"""A community notice (``bulletin``) or a warning (``warning``) in full: the title on a coloured head (the
warning level's colours; the theme's surface for a notice), the text in large type, 朗读 · 慢一点 · 打印.

A long text scrolls with 往上看 / 往下看, as the answer screen does.
"""

from __future__ import annotations

from kivy.utils import get_color_from_hex

from kiosk_app.screens.base import ScrollingScreen, load_kv
from kiosk_app.theme import THEME
from kiosk_app.views import BulletinView


def bulletin_text(view: BulletinView) -> str:
    return "\n".join(f"{label}：{text}" if label else text for label, text in view.lines)


class BulletinScreen(ScrollingScreen):
    def on_kv_post(self, base_widget: object) -> None:
        self._print_button = self.ids.print_button.__self__  # ids are weak proxies; the button leaves the row
        self.bind_scrolling()
        THEME.bind(name=lambda *_: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        view = self.view if isinstance(self.view, BulletinView) else None
        self.ids.title.text = view.title if view else ""
        self.ids.body.text = bulletin_text(view) if view else ""
        if view is not None and view.background and view.text_color:
            self.ids.head.bg_color = get_color_from_hex(view.background)
            self.ids.title.ink = get_color_from_hex(view.text_color)
        else:
            self.ids.head.bg_color = THEME.surface
            self.ids.title.ink = THEME.text
        button, row = self._print_button, self.ids.controls
        if view is not None and view.can_print and button.parent is None:
            row.add_widget(button, index=0)
        elif not (view is not None and view.can_print) and button.parent is not None:
            row.remove_widget(button)
        self.to_top()


load_kv(__file__)
