"""Handoff: the queue number, large, with 打印排队号; or, with nobody on duty, 留电话，等回电."""

from __future__ import annotations

from kiosk_app import texts
from kiosk_app.screens.base import KioskScreen, load_kv, show
from kiosk_app.views import HandoffView


class HandoffScreen(KioskScreen):
    def refresh(self) -> None:
        view = self.view if isinstance(self.view, HandoffView) else None
        number = view.number if view else None
        self.ids.number_caption.text = "您的排队号" if number else ""
        self.ids.number.text = number or ""
        self.ids.number_box.height = (self.ids.number.height + self.ids.number_caption.height) if number else 0
        show(self.ids.number_box, bool(number))
        self.ids.message.text = view.text if view else ""
        show(self.ids.print_button, bool(view and view.can_print))
        show(self.ids.callback_button, bool(view and view.can_callback))
        self.ids.print_button.text = texts.PRINT_NUMBER_BUTTON
        self.ids.callback_button.text = texts.CALLBACK_BUTTON


load_kv(__file__)
