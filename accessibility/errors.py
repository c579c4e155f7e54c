"""Exceptions of the ``accessibility`` package.

Every error raised on purpose by this package derives from :class:`AccessibilityError`, so a caller
(the kiosk, the CLI) can catch the whole family in one place::

    AccessibilityError
    ├── TtsError                    speech output
    │   ├── UnknownTtsEngineError   registry name not known (config mistake)
    │   ├── TtsUnavailableError     espeak-ng / pyttsx3 / the voice is not installed
    │   ├── SynthesisError          the synthesiser ran but produced no usable WAV
    │   └── PlaybackError           no audio device / aplay failed (the engine logs it and goes on)
    ├── AsrError                    speech input
    │   ├── UnknownAsrEngineError   registry name not known (config mistake)
    │   ├── AsrUnavailableError     the model is not installed or cannot load
    │   ├── AudioError              audio that cannot be used (resident's or device's fault)
    │   │   ├── AudioDecodeError    not audio, broken bytes, unsupported format
    │   │   ├── AudioTooLongError   longer than the cap (15 s)
    │   │   └── NoSpeechError       empty, silent, or nothing recognised
    │   └── MicrophoneError         no microphone, or it gives only silence
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


class AsrError(AccessibilityError):
    """Speech input failed."""


class UnknownAsrEngineError(AsrError, KeyError):
    """A speech-recogniser name that the registry does not know."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class AsrUnavailableError(AsrError):
    """The recogniser cannot run: model not installed (``shequ asr install``) or library missing."""


class AudioError(AsrError, ValueError):
    """Audio that cannot be recognised. ``resident_message`` is the plain Chinese to show or say."""

    resident_message = "没听清楚，请再说一遍，或者用手点选。"


class AudioDecodeError(AudioError):
    """Not audio, broken bytes, or a format that cannot be decoded."""

    resident_message = "这段录音打不开，请再录一次。"


class AudioTooLongError(AudioError):
    """Longer than the recording cap."""

    resident_message = "说得太长了，请用一两句话说出您要办的事。"


class NoSpeechError(AudioError):
    """Empty or silent audio, or nothing was recognised in it."""

    resident_message = "没有听到说话声，请靠近一点再说一遍。"


class MicrophoneError(AsrError):
    """No microphone, or it records only silence."""

    resident_message = "话筒用不了，请用手点选，或者呼叫工作人员。"


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
