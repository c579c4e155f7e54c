"""The idle warning: a big countdown, 继续使用 (one tap keeps everything) and 不用了，结束."""

from __future__ import annotations

from kiosk_app.screens.base import KioskScreen, load_kv
from kiosk_app.views import IdleView


class IdleScreen(KioskScreen):
    def refresh(self) -> None:
        view = self.view if isinstance(self.view, IdleView) else None
        self.ids.question.text = view.text if view else ""
        self.ids.seconds.text = str(view.seconds_left) if view else ""
        self.ids.caption.text = "秒后回到首页，并清除您的信息" if view else ""


load_kv(__file__)
