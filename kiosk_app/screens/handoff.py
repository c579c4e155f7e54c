"""Handoff: the queue number, large, with 打印排队号; or, with nobody on duty, 留电话，等回电."""

from __future__ import annotations

from assistant.dialogue import payloads
from kiosk_app import texts
from kiosk_app.screens.base import KioskScreen, load_kv, show
from kiosk_app.views import Action, HandoffView, Style


class HandoffScreen(KioskScreen):
    def refresh(self) -> None:
        view = self.view if isinstance(self.view, HandoffView) else None
        number = view.number if view else None
        self.ids.number_caption.text = "您的排队号" if number else ""
        self.ids.number.text = number or ""
        show(self.ids.number_box, bool(number))
        self.ids.message.text = view.text if view else ""
        actions = []
        if view and view.can_print:
            actions.append(Action(texts.PRINT_NUMBER_BUTTON, "print", style=Style.PRIMARY))
        if view and view.can_callback:
            actions.append(Action(texts.CALLBACK_BUTTON, "callback", style=Style.PRIMARY))
        if view and view.can_cancel:
            actions.append(Action(texts.LEAVE_QUEUE_BUTTON, "payload", payloads.CANCEL))
        self.fill(self.ids.actions, actions)


load_kv(__file__)
