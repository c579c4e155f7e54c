"""The answer: its text on a light panel, the aspects under it, then 再听一遍 · 慢一点 · 打印 · 没解决找工作人员,
and 按住说话 (when voice input works) in the bottom row for a follow-up question.

A long text scrolls with two big buttons (往上看 / 往下看) rather than by swiping, which many older
residents cannot do.
"""

from __future__ import annotations

from kiosk_app.screens.base import ScrollingScreen, load_kv
from kiosk_app.views import AnswerView


class AnswerScreen(ScrollingScreen):
    scrolled_id = "answer_text"

    def on_kv_post(self, base_widget: object) -> None:
        # ids hold weak proxies; the print button must survive being taken out of the row.
        self._print_button = self.ids.print_button.__self__
        self.bind_scrolling()
        self.refresh()

    def refresh(self) -> None:
        view = self.view if isinstance(self.view, AnswerView) else None
        self.ids.title.text = view.title if view else ""
        self.ids.answer_text.text = view.text if view else ""
        self.fill(self.ids.aspects, view.aspects if view else ())
        self._place_print_button(bool(view and view.can_print))
        self.ids.nav.talk = bool(view and view.voice)  # 按住说话 for a follow-up, first in the bottom row
        self.to_top()

    def _place_print_button(self, visible: bool) -> None:
        # Left out entirely without a printer: a button that can only say "no printer" wastes a tap.
        button, row = self._print_button, self.ids.controls
        if visible and button.parent is None:
            row.add_widget(button, index=1)  # Kivy counts from the end: before 没解决找工作人员
        elif not visible and button.parent is not None:
            row.remove_widget(button)


load_kv(__file__)
