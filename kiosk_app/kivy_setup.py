"""Kivy set-up that must happen before the first window or widget: environment, kiosk mode, input, font.

Order matters: :func:`prepare_environment` before ``import kivy``; :func:`configure_kivy` before
``kivy.core.window`` is imported; :func:`register_font` before any widget is built.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from accessibility import CJK_FONT_NAME, cjk_font_path
from accessibility.errors import FontNotFoundError
from kiosk_app.config import KioskConfig
from kiosk_app.errors import KioskConfigError

log = logging.getLogger(__name__)

# The one touch/mouse provider of each setting. Linux defaults add "mouse" *and* "probesysfs", and with
# both every touch arrives twice.
INPUT_PROVIDERS = {
    "mouse": ("mouse", "mouse,multitouch_on_demand"),
    "mtdev": ("touchscreen", "probesysfs,provider=mtdev"),
    "hidinput": ("touchscreen", "probesysfs,provider=hidinput"),
}


def prepare_environment(kivy_home: Path | None = None, *, headless: bool = False) -> None:
    """Environment variables Kivy reads on import."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")  # the shequ command line is click's, not Kivy's
    # Leave logging to the application: its handler masks personal data; Kivy's would bypass it.
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    if kivy_home is not None:
        kivy_home.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("KIVY_HOME", str(kivy_home))
    if headless and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")


def configure_kivy(config: KioskConfig) -> None:
    """Window, kiosk mode and input from the kiosk configuration (before the window exists)."""
    from kivy.config import Config

    width, height = config.window_size
    kiosk = config.fullscreen
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "fullscreen", "auto" if kiosk else "0")
    Config.set("graphics", "borderless", "1" if kiosk else "0")
    Config.set("graphics", "show_cursor", "0" if kiosk else "1")
    Config.set("graphics", "resizable", "0" if kiosk else "1")
    Config.set("kivy", "exit_on_escape", "0" if kiosk else "1")
    Config.set("kivy", "pause_on_minimize", "0")
    Config.set("kivy", "keyboard_mode", "system")  # never a virtual keyboard: nothing is typed
    for option in Config.options("input"):
        Config.remove_option("input", option)
    try:
        name, provider = INPUT_PROVIDERS[config.touch_input]
    except KeyError:
        raise KioskConfigError(f"unknown touch input {config.touch_input!r}") from None
    Config.set("input", name, provider)
    log.info("kiosk window %dx%d, fullscreen=%s, input=%s", width, height, kiosk, provider)


def input_providers() -> dict[str, str]:
    from kivy.config import Config

    return {option: Config.get("input", option) for option in Config.options("input")}


def register_font(configured: str = "") -> Path:
    """WenQuanYi Micro Hei as Kivy's default font (and under its own name)."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    try:
        path = cjk_font_path(configured or None)
    except FontNotFoundError as e:
        raise KioskConfigError(str(e), message_zh="缺少中文字体，请找工作人员。") from e
    LabelBase.register(DEFAULT_FONT, str(path))
    LabelBase.register(CJK_FONT_NAME, str(path))
    return path
