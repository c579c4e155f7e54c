"""Accessibility for the kiosk and the web chat: speech output, text for speaking, themes and checks.

Imports nothing else of the project. Modules:

- :mod:`accessibility.speech_text` — :func:`to_speech_text` (display text → text the Mandarin voice can
  read: numbers, dates, phone numbers, no ID numbers, no URLs, short sentences);
- :mod:`accessibility.tts` — the :class:`TtsEngine` seam and :func:`create_tts_engine` registry
  (``pyttsx3``, ``espeak``, ``fake``, ``silent``); :mod:`accessibility.tts_worker` and
  :mod:`accessibility.tts_backends` implement it;
- :mod:`accessibility.themes` / :mod:`accessibility.contrast` — kiosk themes as data, WCAG contrast and
  the size checks, the web chat palette;
- :mod:`accessibility.fonts` — where WenQuanYi Micro Hei is;
- :mod:`accessibility.errors` — the exception tree (base :class:`AccessibilityError`).

Importing the package loads neither pyttsx3 nor Kivy and starts no thread.
"""

from .errors import (
    AccessibilityError,
    ColorFormatError,
    FontNotFoundError,
    PlaybackError,
    SynthesisError,
    ThemeError,
    TtsError,
    TtsUnavailableError,
    UnknownThemeError,
    UnknownTtsEngineError,
)
from .fonts import CJK_FONT_NAME, cjk_font_path
from .speech_text import TRUNCATION_HINT, to_speech_text
from .themes import Theme, check_theme, get_theme, theme_names, web_palette, web_palette_css
from .tts import (
    VOICE_CANTONESE,
    VOICE_MANDARIN,
    FakeTtsEngine,
    SpeechRate,
    TtsEngine,
    create_tts_engine,
    tts_engine_names,
)

__all__ = [
    "CJK_FONT_NAME",
    "TRUNCATION_HINT",
    "VOICE_CANTONESE",
    "VOICE_MANDARIN",
    "AccessibilityError",
    "ColorFormatError",
    "FakeTtsEngine",
    "FontNotFoundError",
    "PlaybackError",
    "SpeechRate",
    "SynthesisError",
    "Theme",
    "ThemeError",
    "TtsEngine",
    "TtsError",
    "TtsUnavailableError",
    "UnknownThemeError",
    "UnknownTtsEngineError",
    "check_theme",
    "cjk_font_path",
    "create_tts_engine",
    "get_theme",
    "theme_names",
    "to_speech_text",
    "tts_engine_names",
    "web_palette",
    "web_palette_css",
]
