"""A message on its own screen: device problems, emergencies (with big 120/110/119 buttons), a number to dial
shown very large, the assistant's short replies, confirmations."""

from __future__ import annotations

from kiosk_app.screens.base import KioskScreen, load_kv
from kiosk_app.theme import THEME
from kiosk_app.views import NoticeView, Style


class NoticeScreen(KioskScreen):
    def on_kv_post(self, base_widget: object) -> None:
        THEME.bind(name=lambda *_: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        view = self.view if isinstance(self.view, NoticeView) else None
        urgent = bool(view and view.urgent)
        self.ids.title.text = view.title if view else ""
        self.ids.message.text = view.text if view else ""
        self.ids.panel.bg_color = THEME.danger if urgent else THEME.surface
        self.ids.message.ink = THEME.danger_text if urgent else THEME.text
        self.ids.big_number.text = view.big_number if view else ""
        # Emergency numbers get their own row of bigger buttons: they matter more than anything else here.
        self.fill(self.ids.calls, view.calls if view else (), big=True)
        actions = view.actions if view else ()
        self.fill(self.ids.actions, actions)
        # The bar's own 呼叫工作人员 is left out when the notice already offers a person.
        self.ids.nav.show_staff = not any(a.style is Style.DANGER for a in actions)


load_kv(__file__)
