"""Starting the kiosk (``shequ kiosk``) and its screenshot mode, with Kivy set up in the right order."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk_app.config import KioskConfig, config_from_settings
from kiosk_app.kivy_setup import configure_kivy, prepare_environment, register_font

if TYPE_CHECKING:
    from assistant.settings import Settings

log = logging.getLogger(__name__)


def setup_kivy(config: KioskConfig, settings: Settings, *, headless: bool = False) -> Path:
    """Everything before the first widget; returns the font file registered."""
    prepare_environment(settings.var_dir / "kivy", headless=headless)
    configure_kivy(config)
    return register_font(config.font_path)


def run_kiosk(settings: Settings, *, fullscreen: bool = False) -> None:
    config = config_from_settings(settings, **({"fullscreen": True} if fullscreen else {}))
    setup_kivy(config, settings)
    from kiosk_app.app import KioskApp

    log.info("kiosk starting (%s assistant)", "in-process" if config.in_process else config.assistant_url)
    KioskApp(config, settings).run()


def run_screenshots(settings: Settings, directory: Path) -> list[Path]:
    # Never full screen, never the real devices, never the central server: sample content only.
    config = config_from_settings(settings, fullscreen=False, printer_uri="dummy:", idcard_port="",
                                  assistant_url="", tts="silent")
    setup_kivy(config, settings, headless=True)
    from kiosk_app.screenshots import render_all

    return render_all(config, settings, directory)
