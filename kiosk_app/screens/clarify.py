"""Clarify: "您想问的是哪一个？" with the candidates as numbered buttons and 都不是."""

from __future__ import annotations

from kiosk_app.screens.base import KioskScreen, load_kv
from kiosk_app.views import ClarifyView


class ClarifyScreen(KioskScreen):
    def refresh(self) -> None:
        view = self.view if isinstance(self.view, ClarifyView) else None
        self.ids.prompt.text = view.prompt if view else ""
        self.fill(self.ids.choices, view.choices if view else ())


load_kv(__file__)
