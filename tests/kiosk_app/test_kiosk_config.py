"""Kiosk settings: validated with clear messages; kiosk mode and exactly one input provider in Kivy."""

from __future__ import annotations

import pytest

from assistant.settings import Settings
from kiosk_app.config import KioskConfig, config_from_settings
from kiosk_app.errors import KioskConfigError


def test_defaults_from_settings(settings: Settings) -> None:
    config = config_from_settings(settings)
    assert config.in_process and not config.has_printer and not config.has_reader
    assert len(config.home_categories) <= 4
    assert config.idle_warning_seconds >= 20


@pytest.mark.parametrize(("field", "value", "message"), [
    ("kiosk_touch_input", "mouse,probesysfs", "SHEQU_KIOSK_TOUCH_INPUT"),
    ("kiosk_home_categories", "yanglao,shebao,yibao,jiuzhu,weijian", "1 to 4"),
    ("kiosk_home_categories", "yanglao,nonsense", "unknown codes: nonsense"),
    ("kiosk_idle_warning_seconds", 5, "at least 20"),
    ("kiosk_tts", "festival", "SHEQU_KIOSK_TTS"),
    ("kiosk_theme", "pink", "SHEQU_KIOSK_THEME"),
    ("kiosk_assistant_url", "10.0.0.5:8000", "http://"),
    ("kiosk_window_size", "big", "1920x1080"),
])
def test_bad_settings_are_refused_by_name(settings: Settings, field: str, value: object, message: str) -> None:
    with pytest.raises(KioskConfigError) as info:
        config_from_settings(settings.model_copy(update={field: value}))
    assert message in str(info.value)
    assert info.value.message_zh  # something a resident can be shown


def test_command_line_fullscreen_wins(settings: Settings) -> None:
    assert config_from_settings(settings, fullscreen=True).fullscreen


@pytest.mark.parametrize(("touch", "expected"), [
    ("mouse", {"mouse": "mouse,multitouch_on_demand"}),
    ("mtdev", {"touchscreen": "probesysfs,provider=mtdev"}),
    ("hidinput", {"touchscreen": "probesysfs,provider=hidinput"}),
])
def test_kiosk_mode_and_one_input_provider(touch: str, expected: dict[str, str]) -> None:
    from kivy.config import Config

    from kiosk_app.kivy_setup import configure_kivy, input_providers

    touched = [("graphics", o) for o in ("width", "height", "fullscreen", "borderless", "show_cursor", "resizable")]
    touched += [("kivy", o) for o in ("exit_on_escape", "pause_on_minimize", "keyboard_mode")]
    saved = {key: Config.get(*key, raw=True) for key in touched if Config.has_option(*key)}
    saved_input = dict(Config.items("input", raw=True))
    try:
        Config.set("input", "extra_probe", "probesysfs")  # what Linux defaults add next to the mouse
        configure_kivy(KioskConfig(fullscreen=True, touch_input=touch))
        assert input_providers() == expected
        assert Config.get("graphics", "fullscreen") == "auto"
        assert Config.get("graphics", "show_cursor") == "0"
        assert Config.get("kivy", "exit_on_escape") == "0"
        configure_kivy(KioskConfig(fullscreen=False))
        assert Config.get("kivy", "exit_on_escape") == "1" and Config.get("graphics", "show_cursor") == "1"
    finally:
        for (section, option), value in saved.items():
            Config.set(section, option, value)
        for option in Config.options("input"):
            Config.remove_option("input", option)
        for option, value in saved_input.items():
            Config.set("input", option, value)


def test_speech_input_settings(settings: Settings) -> None:
    # SHEQU_KIOSK_ASR_LANGUAGE / SHEQU_KIOSK_MICROPHONE: 普通话 and the default input unless set.
    config = config_from_settings(settings)
    assert (config.asr_language, config.microphone) == ("zh", "")
    cantonese = config_from_settings(settings.model_copy(update={"kiosk_asr_language": "yue",
                                                                 "kiosk_microphone": "off"}))
    assert (cantonese.asr_language, cantonese.microphone) == ("yue", "off")
    with pytest.raises(KioskConfigError, match="SHEQU_KIOSK_ASR_LANGUAGE"):
        config_from_settings(settings.model_copy(update={"kiosk_asr_language": "en"}))
