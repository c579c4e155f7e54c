"""Listening: 请稍等…… while the kiosk says its prompt, then 请说话…… (正在听…… once speech is heard) large, a
level meter that moves with the voice, and 说完了 after a tap (a held button ends when it is let go); then
请稍等，正在听写……."""

from __future__ import annotations

from kiosk_app import texts
from kiosk_app.screens.base import KioskScreen, load_kv, show
from kiosk_app.views import ListenPhase, ListenView


class ListenScreen(KioskScreen):
    def refresh(self) -> None:
        view = self.view if isinstance(self.view, ListenView) else None
        recognising = bool(view and view.phase is ListenPhase.RECOGNISING)
        if view is None:
            heading = hint = language = ""
        elif recognising:
            heading, hint, language = texts.LISTEN_RECOGNISING, "", ""
        else:
            heading = (texts.LISTEN_HEARING if view.hearing else texts.LISTEN_TITLE) if view.recording \
                else texts.LISTEN_WAIT
            hint = texts.LISTEN_TAP_HINT if view.tap else texts.LISTEN_HOLD_HINT
            language = texts.LISTEN_LANGUAGE.format(name=texts.LANGUAGE_NAMES.get(view.language, ""))
        self.ids.heading.text = heading
        self.ids.hint.text = hint
        self.ids.language.text = language
        self.ids.meter.level = view.level if view and not recognising else 0.0
        show(self.ids.meter, bool(view) and not recognising)
        show(self.ids.finish, bool(view and view.tap) and not recognising)

    def finish(self) -> None:
        if self.controller is not None:
            self.controller.voice.finish_now()


load_kv(__file__)
