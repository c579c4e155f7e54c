"""What each screen shows, as plain data: the controller builds these, the Kivy screens display them.

Keeping views free of Kivy lets the controller (every rule about what the resident sees and hears) be tested
without a display, and lets ``--screenshots`` fill every screen with sample content the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Style(Enum):
    BUTTON = "button"  # ordinary choice: dark blue
    PRIMARY = "primary"  # the one main action of a screen (继续使用, 确认)
    DANGER = "danger"  # 呼叫工作人员


@dataclass(frozen=True)
class Action:
    """A button: ``label`` on screen, ``command``/``argument`` for ``KioskController.perform``."""

    label: str
    command: str
    argument: str = ""
    style: Style = Style.BUTTON
    hint: str = ""  # a second, smaller line under the label (why it is suggested)


# Screen names (also the ScreenManager names and the screenshot file names).
HOME = "home"
LIST = "list"  # a category's questions, the common questions, more categories
ANSWER = "answer"
CLARIFY = "clarify"
HANDOFF = "handoff"
KEYPAD = "keypad"
IDCARD = "idcard"
IDLE = "idle"
NOTICE = "notice"
LISTEN = "listen"  # 按住说话: the level meter while the resident speaks
CONFIRM = "confirm"  # 您说的是：…… with 对 and 重说
BULLETIN = "bulletin"  # one community notice (社区通知) in full; the list of notices is a LIST of kind "notices"
WARNING = "warning"  # one warning (暴雨橙色预警 …) in full, on its level's colours
SCREENS = (HOME, LIST, ANSWER, CLARIFY, HANDOFF, KEYPAD, IDCARD, IDLE, NOTICE, LISTEN, CONFIRM, BULLETIN, WARNING)


@dataclass(frozen=True)
class HomeView:
    title: str = "社区小助手"
    prompt: str = "您好！请点您要办的事"
    tiles: tuple[Action, ...] = ()
    reader_available: bool = False
    greeting: str = ""  # the signed-in visitor's greeting, else empty
    notice: str = ""  # a device problem in plain words, else empty
    voice: bool = False  # 按住说话 and the 普通话/粤语 switch (a microphone and a recogniser are there)
    language: str = "zh"
    bulletin: str = ""  # the newest community notice's title (the banner with 查看全部通知), else empty


@dataclass(frozen=True)
class ListView:
    title: str
    prompt: str
    items: tuple[Action, ...]
    page: int = 0
    pages: int = 1
    kind: str = "category"  # category | common | more | notices
    key: str = ""  # the category code, for paging
    page_size: int = 0  # choices a page when not the kiosk's usual (0): the grid's rows follow it


@dataclass(frozen=True)
class AnswerView:
    title: str
    text: str
    aspects: tuple[Action, ...] = ()
    can_print: bool = True
    topic_id: str | None = None
    aspect: str | None = None
    voice: bool = False  # 按住说话 among the controls


@dataclass(frozen=True)
class ClarifyView:
    prompt: str
    choices: tuple[Action, ...]


@dataclass(frozen=True)
class HandoffView:
    text: str
    number: str | None = None  # queue number when someone will come
    can_print: bool = False
    can_callback: bool = False
    can_cancel: bool = False  # 不用了: leave the queue


@dataclass(frozen=True)
class KeypadView:
    prompt: str = "请输入您的电话号码"
    digits: str = ""
    error: str = ""


class CardState(Enum):
    WAITING = "waiting"
    READING = "reading"
    SIGNED_IN = "signed_in"
    FAILED = "failed"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class IdCardView:
    state: CardState = CardState.WAITING
    text: str = "请把身份证放在读卡区"
    greeting: str = ""
    masked_name: str = ""
    suggestions: tuple[Action, ...] = ()


@dataclass(frozen=True)
class IdleView:
    seconds_left: int
    text: str = "您还在使用吗？"


@dataclass(frozen=True)
class NoticeView:
    title: str
    text: str
    actions: tuple[Action, ...] = field(default_factory=tuple)
    urgent: bool = False  # emergencies and device faults: shown on the danger colour
    calls: tuple[Action, ...] = field(default_factory=tuple)  # emergency numbers: a row of big buttons
    big_number: str = ""  # a number to dial, shown very large (the kiosk cannot dial it)


class ListenPhase(Enum):
    LISTENING = "listening"  # the microphone is open (the prompt may still be playing)
    RECOGNISING = "recognising"  # the recording is with the recogniser


@dataclass(frozen=True)
class ListenView:
    phase: ListenPhase = ListenPhase.LISTENING
    language: str = "zh"
    recording: bool = False  # False while the kiosk still says its prompt (请稍等), then 请说话
    level: float = 0.0  # 0–1, for the meter
    hearing: bool = False  # the detector hears speech now
    tap: bool = False  # tap-to-talk: it ends by itself when the resident stops, or with 说完了


@dataclass(frozen=True)
class ConfirmView:
    text: str  # what was heard, personal data masked
    alternatives: tuple[Action, ...] = ()  # other readings, each sends itself
    language: str = "zh"


@dataclass(frozen=True)
class BulletinView:
    """A notice (``BULLETIN``) or a warning (``WARNING``) in full: a coloured head, then labelled lines."""

    title: str
    lines: tuple[tuple[str, str], ...] = ()  # (label, text); an empty label: a paragraph of its own
    background: str = ""  # the head's colours (a warning's level); empty: the theme's surface
    text_color: str = ""
    can_print: bool = True
    item_id: int = 0


@dataclass(frozen=True)
class WarningBannerView:
    """The strip above every screen while a warning is in force: the most severe one, and how many more."""

    warning_id: int
    text: str
    more: str  # 另有2条预警, or empty
    background: str
    text_color: str
