"""The kiosk's configuration, taken from ``Settings`` once and validated (no environment reads here)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from accessibility import get_theme, tts_engine_names
from accessibility.asr import LANGUAGES as ASR_LANGUAGES
from accessibility.errors import UnknownThemeError
from kiosk_app.errors import KioskConfigError
from knowledge_base.models import CATEGORIES

if TYPE_CHECKING:
    from assistant.settings import Settings

TOUCH_INPUTS = ("mouse", "mtdev", "hidinput")
MAX_HOME_CATEGORIES = 4  # plus 常见问题 and 更多服务: six service tiles on the home screen
MIN_IDLE_WARNING_SECONDS = 20  # WCAG 2.2.1: at least 20 s to extend with one action
_SIZE = re.compile(r"^(\d{3,5})x(\d{3,5})$")


@dataclass(frozen=True)
class KioskConfig:
    assistant_url: str = ""
    assistant_timeout: float = 8.0
    printer_uri: str = ""
    printer_paper: int = 58
    idcard_reader: str = "sam-serial"
    idcard_port: str = ""
    idcard_baud: int = 115200
    idle_seconds: int = 90
    idle_warning_seconds: int = 30
    tts: str = "pyttsx3"
    voice: str = "sit/cmn-latn-pinyin"
    audio_device: str = ""
    theme: str = "normal"
    larger_text: bool = False
    fullscreen: bool = False
    touch_input: str = "mouse"
    window_size: tuple[int, int] = (1920, 1080)
    home_categories: tuple[str, ...] = ("yanglao", "shebao", "yibao", "weijian")
    font_path: str = ""
    asr_language: str = "zh"  # what 按住说话 listens for at the start of a visit: zh 普通话 | yue 粤语
    microphone: str = ""  # empty: the default input; "off"; "file:/path.wav"; a PortAudio device index or name
    kiosk_token: str = ""  # the device token (`shequ kiosks register`): heartbeat and the community's chat
    heartbeat_seconds: float = 60.0

    @property
    def in_process(self) -> bool:
        return not self.assistant_url

    @property
    def has_reader(self) -> bool:
        return bool(self.idcard_port)

    @property
    def has_printer(self) -> bool:
        return bool(self.printer_uri)

    def validate(self) -> KioskConfig:
        """Return self, or raise :class:`KioskConfigError` naming the Settings field to fix."""
        problems: list[str] = []
        if self.touch_input not in TOUCH_INPUTS:
            problems.append(f"SHEQU_KIOSK_TOUCH_INPUT must be one of {', '.join(TOUCH_INPUTS)}")
        if self.tts not in tts_engine_names():
            problems.append(f"SHEQU_KIOSK_TTS must be one of {', '.join(tts_engine_names())}")
        try:
            get_theme(self.theme)
        except UnknownThemeError as e:
            problems.append(f"SHEQU_KIOSK_THEME: {e}")
        unknown = [c for c in self.home_categories if c not in CATEGORIES]
        if unknown:
            problems.append(f"SHEQU_KIOSK_HOME_CATEGORIES has unknown codes: {', '.join(unknown)}")
        if not 1 <= len(self.home_categories) <= MAX_HOME_CATEGORIES:
            problems.append(f"SHEQU_KIOSK_HOME_CATEGORIES needs 1 to {MAX_HOME_CATEGORIES} categories")
        if self.idle_seconds < 10:
            problems.append("SHEQU_KIOSK_IDLE_SECONDS must be at least 10")
        if self.idle_warning_seconds < MIN_IDLE_WARNING_SECONDS:
            problems.append(f"SHEQU_KIOSK_IDLE_WARNING_SECONDS must be at least {MIN_IDLE_WARNING_SECONDS}")
        if self.printer_paper not in (58, 80):
            problems.append("SHEQU_KIOSK_PRINTER_PAPER must be 58 or 80")
        if self.asr_language not in ASR_LANGUAGES:
            problems.append(f"SHEQU_KIOSK_ASR_LANGUAGE must be one of {', '.join(ASR_LANGUAGES)}")
        if self.assistant_url and not re.match(r"^https?://", self.assistant_url):
            problems.append("SHEQU_KIOSK_ASSISTANT_URL must start with http:// or https://")
        if problems:
            raise KioskConfigError("kiosk configuration: " + "; ".join(problems))
        return self


def parse_window_size(text: str) -> tuple[int, int]:
    match = _SIZE.match(text.strip().lower())
    if not match:
        raise KioskConfigError(f"SHEQU_KIOSK_WINDOW_SIZE must look like 1920x1080, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def config_from_settings(settings: Settings, **overrides: object) -> KioskConfig:
    """The kiosk part of ``settings``; ``overrides`` (e.g. ``fullscreen=True`` from the command line) win."""
    categories = tuple(c.strip() for c in settings.kiosk_home_categories.split(",") if c.strip())
    values: dict[str, object] = {
        "assistant_url": settings.kiosk_assistant_url.strip().rstrip("/"),
        "assistant_timeout": settings.kiosk_assistant_timeout_seconds,
        "printer_uri": settings.kiosk_printer.strip(),
        "printer_paper": settings.kiosk_printer_paper,
        "idcard_reader": settings.kiosk_idcard_reader,
        "idcard_port": settings.kiosk_idcard_port.strip(),
        "idcard_baud": settings.kiosk_idcard_baud,
        "idle_seconds": settings.kiosk_idle_seconds,
        "idle_warning_seconds": settings.kiosk_idle_warning_seconds,
        "tts": settings.kiosk_tts,
        "voice": settings.kiosk_voice,
        "audio_device": settings.kiosk_audio_device,
        "theme": settings.kiosk_theme,
        "larger_text": settings.kiosk_larger_text,
        "fullscreen": settings.kiosk_fullscreen,
        "touch_input": settings.kiosk_touch_input,
        "window_size": parse_window_size(settings.kiosk_window_size),
        "home_categories": categories,
        "font_path": settings.kiosk_font_path,
        "asr_language": settings.kiosk_asr_language,
        "microphone": settings.kiosk_microphone,
        "kiosk_token": settings.kiosk_token.strip(),
        "heartbeat_seconds": settings.kiosk_heartbeat_seconds,
    }
    values.update(overrides)
    return KioskConfig(**values).validate()  # type: ignore[arg-type]
