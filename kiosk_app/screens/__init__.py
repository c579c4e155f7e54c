"""The kiosk's screens: one module and one ``.kv`` file each; screens hold properties and call the controller.

``build_screens()`` returns one instance of every screen, named as in :data:`kiosk_app.views.SCREENS`.
"""

from __future__ import annotations

from kiosk_app.screens.answer import AnswerScreen
from kiosk_app.screens.base import KioskScreen
from kiosk_app.screens.bulletin import BulletinScreen
from kiosk_app.screens.clarify import ClarifyScreen
from kiosk_app.screens.confirm import ConfirmScreen
from kiosk_app.screens.handoff import HandoffScreen
from kiosk_app.screens.home import HomeScreen
from kiosk_app.screens.idcard import IdCardScreen
from kiosk_app.screens.idle import IdleScreen
from kiosk_app.screens.keypad import KeypadScreen
from kiosk_app.screens.listen import ListenScreen
from kiosk_app.screens.listing import ListScreen
from kiosk_app.screens.notice import NoticeScreen
from kiosk_app.views import (
    ANSWER,
    BULLETIN,
    CLARIFY,
    CONFIRM,
    HANDOFF,
    HOME,
    IDCARD,
    IDLE,
    KEYPAD,
    LIST,
    LISTEN,
    NOTICE,
    WARNING,
)

SCREEN_CLASSES: dict[str, type[KioskScreen]] = {
    HOME: HomeScreen,
    LIST: ListScreen,
    ANSWER: AnswerScreen,
    CLARIFY: ClarifyScreen,
    HANDOFF: HandoffScreen,
    KEYPAD: KeypadScreen,
    IDCARD: IdCardScreen,
    IDLE: IdleScreen,
    NOTICE: NoticeScreen,
    LISTEN: ListenScreen,
    CONFIRM: ConfirmScreen,
    BULLETIN: BulletinScreen,
    WARNING: BulletinScreen,
}


def build_screens() -> list[KioskScreen]:
    return [cls(name=name) for name, cls in SCREEN_CLASSES.items()]


__all__ = ["SCREEN_CLASSES", "KioskScreen", "build_screens"]
