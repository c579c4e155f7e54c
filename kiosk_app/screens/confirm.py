"""您说的是：…… in large text, 对 and 重说, and up to three other readings as buttons (each sends itself)."""

from __future__ import annotations

from kiosk_app import texts
from kiosk_app.screens.base import KioskScreen, load_kv, show
from kiosk_app.views import ConfirmView


class ConfirmScreen(KioskScreen):
    def refresh(self) -> None:
        view = self.view if isinstance(self.view, ConfirmView) else None
        self.ids.title.text = texts.CONFIRM_TITLE if view else ""
        self.ids.heard.text = view.text if view else ""
        self.ids.prompt.text = texts.CONFIRM_PROMPT if view else ""
        alternatives = view.alternatives if view else ()
        self.ids.others.text = texts.CONFIRM_OTHERS if alternatives else ""
        self.ids.alternatives.cols = max(1, len(alternatives))
        self.fill(self.ids.alternatives, alternatives)
        show(self.ids.answer_row, view is not None)

    def yes(self) -> None:
        if self.controller is not None:
            self.controller.voice.confirm()

    def again(self) -> None:
        if self.controller is not None:
            self.controller.voice.listen()


load_kv(__file__)
