"""Exceptions of the kiosk app.

Every error raised on purpose by ``kiosk_app`` derives from :class:`KioskError` and carries ``message_zh``,
a short sentence a resident can read and hear (never a traceback)::

    KioskError
    ├── KioskConfigError          a Settings value the kiosk cannot use (told to staff on start-up)
    ├── AssistantUnavailableError the assistant (in-process or the central server) did not answer
    └── VoiceInputError           what was said could not be turned into text (重说 may help)
        └── VoiceUnavailableError no recogniser (model not installed, server without speech input)
"""

from __future__ import annotations

from typing import ClassVar


class KioskError(Exception):
    default_message_zh: ClassVar[str] = "机器出了点问题，请找工作人员帮忙。"

    def __init__(self, message: str = "", *, message_zh: str | None = None) -> None:
        super().__init__(message or self.__class__.__name__)
        self.message_zh = message_zh or self.default_message_zh


class KioskConfigError(KioskError):
    default_message_zh = "机器设置有误，请找工作人员。"


class AssistantUnavailableError(KioskError):
    default_message_zh = "暂时连不上服务，请稍后再试，或者找工作人员帮忙。"



class VoiceInputError(KioskError):
    default_message_zh = "没听清楚，请再说一遍，或者用手点选。"


class VoiceUnavailableError(VoiceInputError):
    default_message_zh = "语音暂时用不了，请用手点选，或者呼叫工作人员。"
