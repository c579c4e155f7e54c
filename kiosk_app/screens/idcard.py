"""ID-card sign-in: where to put the card, reading, then a greeting with suggestions; or what went wrong."""

from __future__ import annotations

from kiosk_app import texts
from kiosk_app.screens.base import KioskScreen, load_kv, show
from kiosk_app.views import CardState, IdCardView


class IdCardScreen(KioskScreen):
    def on_kv_post(self, base_widget: object) -> None:
        self.ids.sign_out.bind(on_release=lambda _b: self.controller and self.controller.cards.sign_out())
        self.refresh()

    def refresh(self) -> None:
        view = self.view if isinstance(self.view, IdCardView) else IdCardView(text="")
        signed_in = view.state is CardState.SIGNED_IN
        self.ids.heading.text = view.greeting if signed_in else texts.CARD_TITLE
        self.ids.who.text = f"已读取：{view.masked_name}" if signed_in and view.masked_name else ""
        self.ids.message.text = view.text
        # An arrow towards the reader under the screen while the card is awaited.
        self.ids.card_hint.text = "↓" if view.state in (CardState.WAITING, CardState.READING) else ""
        self.ids.suggestion_title.text = texts.SUGGESTION_TITLE if view.suggestions else ""
        self.fill(self.ids.suggestions, view.suggestions)
        show(self.ids.sign_out, signed_in)


load_kv(__file__)
