"""ID-card sign-in: where to put the card, reading, then a greeting with suggestions; or what went wrong."""

from __future__ import annotations

from kiosk_app import texts
from kiosk_app.screens.base import KioskScreen, load_kv, show
from kiosk_app.views import CardState, IdCardView


class IdCardScreen(KioskScreen):
    def refresh(self) -> None:
        view = self.view if isinstance(self.view, IdCardView) else IdCardView(text="")
        signed_in = view.state is CardState.SIGNED_IN
        self.ids.greeting.text = view.greeting if signed_in else ""
        self.ids.who.text = f"已读取：{view.masked_name}" if signed_in and view.masked_name else ""
        self.ids.message.text = view.text
        self.ids.suggestion_title.text = texts.SUGGESTION_TITLE if view.suggestions else ""
        self.fill(self.ids.suggestions, view.suggestions)
        self.ids.suggestions.height = self.ids.suggestions.minimum_height
        show(self.ids.sign_out, signed_in)
        show(self.ids.card_hint, view.state in (CardState.WAITING, CardState.READING))


load_kv(__file__)
