"""Exceptions of the ``accessibility`` package.

Every error raised on purpose by this package derives from :class:`AccessibilityError`, so a caller
(the kiosk, the CLI) can catch the whole family in one place::

    AccessibilityError
    ├── TtsError                    speech output
    │   ├── UnknownTtsEngineError   registry name not known (config mistake)
    │   ├── TtsUnavailableError     espeak-ng / pyttsx3 / the voice is not installed
    │   ├── SynthesisError          the synthesiser ran but produced no usable WAV
    │   └── PlaybackError           no audio device / aplay failed (the engine logs it and goes on)
    ├── ThemeError
    │   ├── UnknownThemeError       theme name not known
    │   └── ColorFormatError        a colour string that is not #rgb / #rrggbb
    └── FontNotFoundError           WenQuanYi Micro Hei (or the configured font) is missing

Messages never contain the text being spoken: it may hold personal data.
"""

from __future__ import annotations


class AccessibilityError(Exception):
    """Base of every error raised by the accessibility package."""


class TtsError(AccessibilityError):
    """Speech output failed."""


class UnknownTtsEngineError(TtsError, KeyError):
    """A TTS engine name that the registry does not know."""

    def __str__(self) -> str:
        # KeyError would quote the message; keep it readable.
        return str(self.args[0]) if self.args else ""


class TtsUnavailableError(TtsError):
    """The speech engine cannot run on this machine (missing program, library or voice)."""


class SynthesisError(TtsError):
    """The synthesiser did not produce a valid WAV file."""


class PlaybackError(TtsError):
    """Playing audio failed, typically because there is no sound card."""


class ThemeError(AccessibilityError):
    """A theme or colour problem."""


class UnknownThemeError(ThemeError, KeyError):
    """A theme name that is not defined."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ColorFormatError(ThemeError, ValueError):
    """A colour that cannot be parsed."""


class FontNotFoundError(AccessibilityError, FileNotFoundError):
    """The CJK font file the kiosk needs is not installed."""
