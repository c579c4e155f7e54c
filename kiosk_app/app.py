"""The Kivy application: screens in a ScreenManager, a banner for short messages, the controller wired in.

Import this module only after :func:`kiosk_app.kivy_setup.prepare_environment` and
:func:`~kiosk_app.kivy_setup.configure_kivy` (``kiosk_app.main`` does it in the right order).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kivy.app import App
from kivy.clock import Clock
from kivy.config import ConfigParser
from kivy.core.window import Window
from kivy.properties import ObjectProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager

from accessibility import TtsEngine, create_tts_engine
from kiosk_app.bulletins import DEFAULT_POLL_SECONDS, Board, BulletinPoller
from kiosk_app.catalog import page_size_for
from kiosk_app.client import AssistantClient, create_client
from kiosk_app.config import KioskConfig
from kiosk_app.controller import KioskController
from kiosk_app.devices import KioskDevices
from kiosk_app.heartbeat import KioskHeartbeat, device_health, start_heartbeat
from kiosk_app.microphone import Microphone, create_microphone
from kiosk_app.runner import Runner, ThreadRunner
from kiosk_app.screens import KioskScreen, build_screens
from kiosk_app.speech import KioskSpeech
from kiosk_app.theme import THEME
from kiosk_app.views import SCREENS, WarningBannerView
from kiosk_app.warning_banner import WarningBanner
from kiosk_app.widgets import KioskLabel, Panel

if TYPE_CHECKING:
    from assistant.settings import Settings

log = logging.getLogger(__name__)

FLASH_SECONDS = 5.0
DEVICE_CHECK_SECONDS = 30.0  # how soon a refilled printer stops being reported as out of paper
BUSY_DELAY_SECONDS = 0.4  # a quick answer should not make a "please wait" flicker
BUSY_TEXT = "正在查找，请稍等……"


class Banner(Panel):
    """A strip at the top for "请稍等" and confirmations such as "凭条已打印，请取走。"."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.label = KioskLabel(halign="center")
        self.add_widget(self.label)
        self.size_hint = (1, None)
        self.pos_hint = {"top": 1}
        self.hide()
        THEME.bind(primary=lambda *_: self._colour())

    def _colour(self) -> None:
        self.bg_color = THEME.primary
        self.label.ink = THEME.primary_text

    def say(self, text: str) -> None:
        self._colour()
        self.label.text = text
        self.padding = (THEME.pad, THEME.pad * 0.5)
        self.height = max(THEME.touch, self.label.font_size * 2.2)
        self.opacity = 1

    def hide(self) -> None:
        self.label.text = ""
        self.height = 0
        self.opacity = 0

    @property
    def text(self) -> str:
        return self.label.text


class KivyUi:
    """The controller's ``UiPort`` on Kivy widgets; every method runs on the Kivy thread."""

    def __init__(self, manager: ScreenManager, banner: Banner, warning: WarningBanner | None = None) -> None:
        self.manager = manager
        self.banner = banner
        self.warning = warning
        self._busy_event: Any = None
        self._flash_event: Any = None

    def screen(self, name: str) -> KioskScreen:
        return self.manager.get_screen(name)  # type: ignore[return-value]

    def show(self, screen: str, view: Any) -> None:
        self.screen(screen).show(view)
        if self.manager.current != screen:
            self.manager.current = screen

    def set_warning(self, view: WarningBannerView | None) -> None:
        if self.warning is not None:
            self.warning.show_warning(view)

    def set_busy(self, busy: bool) -> None:
        if self._busy_event is not None:
            self._busy_event.cancel()
            self._busy_event = None
        if busy:
            self._busy_event = Clock.schedule_once(lambda _dt: self.banner.say(BUSY_TEXT), BUSY_DELAY_SECONDS)
        elif self.banner.text == BUSY_TEXT:
            self.banner.hide()

    def flash(self, text: str) -> None:
        self.banner.say(text)
        if self._flash_event is not None:
            self._flash_event.cancel()
        self._flash_event = Clock.schedule_once(lambda _dt: self._end_flash(text), FLASH_SECONDS)

    def _end_flash(self, text: str) -> None:
        if self.banner.text == text:
            self.banner.hide()

    def apply_theme(self, theme_name: str, larger_text: bool) -> None:
        THEME.use(theme_name, larger_text)

    def clear_screens(self) -> None:
        self.banner.hide()
        for name in SCREENS:
            self.screen(name).clear()


class KioskApp(App):
    """``KioskApp(config, settings).run()``; services can be injected (tests, the screenshot mode)."""

    controller = ObjectProperty(None, allownone=True)
    use_kivy_settings = False  # F1 must not open Kivy's settings panel on a public kiosk
    title = "社区小助手"

    def __init__(
        self,
        kiosk_config: KioskConfig,
        settings: Settings,
        *,
        client: AssistantClient | None = None,
        tts: TtsEngine | None = None,
        devices: KioskDevices | None = None,
        runner: Runner | None = None,
        clock: Callable[[], float] | None = None,
        microphone: Microphone | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.kiosk_config = kiosk_config
        self.settings = settings
        self._client = client
        self._tts = tts
        self._devices = devices
        self._runner = runner
        self._clock = clock  # the idle timer's clock (tests move it forward)
        self._microphone = microphone
        self.ui: KivyUi | None = None
        self._idle_event: Any = None
        self._device_event: Any = None
        self._heartbeat: KioskHeartbeat | None = None
        self._bulletins: BulletinPoller | None = None
        self._bulletin_event: Any = None

    # Kivy would otherwise read and write an .ini next to this module.
    def load_config(self) -> ConfigParser:
        self.config = ConfigParser(name=f"shequ-kiosk-{id(self)}")
        return self.config

    def open_settings(self, *largs: Any) -> bool:
        return False

    def build(self) -> FloatLayout:
        config = self.kiosk_config
        client = self._client or create_client(config, self.settings)

        def tts_for(voice: str) -> TtsEngine:
            return create_tts_engine(config.tts, voice=voice, fallback_to_silent=True,
                                     **({"audio_device": config.audio_device} if config.audio_device else {}))

        # An injected engine keeps its one voice; the configured one can switch to Cantonese (普通话/粤语).
        speech = (KioskSpeech(self._tts) if self._tts is not None
                  else KioskSpeech(tts_for(config.voice), voice=config.voice, engine_for_voice=tts_for))
        devices = self._devices or KioskDevices.from_config(config)

        def call_soon(fn: Callable[[], None]) -> None:
            Clock.schedule_once(lambda _dt: fn(), 0)

        runner = self._runner or ThreadRunner(call_soon)
        microphone = self._microphone or create_microphone(config.microphone)

        root = FloatLayout()
        manager = ScreenManager(transition=NoTransition())
        screens = build_screens()
        for screen in screens:
            manager.add_widget(screen)
        banner = Banner()
        # A warning takes the top of the column and the screens the rest: it never covers their buttons.
        column = BoxLayout(orientation="vertical")
        warning = WarningBanner()
        column.add_widget(warning)
        column.add_widget(manager)
        root.add_widget(column)
        root.add_widget(banner)
        self.ui = KivyUi(manager, banner, warning)
        self.controller = KioskController(config, client, speech, devices, self.ui, runner=runner,
                                          clock=self._clock, microphone=microphone, call_soon=call_soon)
        warning.controller = self.controller
        self.controller.list_page_size = page_size_for(Window.height)
        for screen in screens:
            screen.controller = self.controller
        Window.bind(on_touch_down=self._touched, on_request_close=self._request_close,
                    on_keyboard=self._keyboard)
        return root

    def on_start(self) -> None:
        controller = self.controller
        controller.start()
        self._idle_event = Clock.schedule_interval(lambda _dt: controller.tick_idle(), 1.0)
        self._device_event = Clock.schedule_interval(lambda _dt: controller.check_devices(), DEVICE_CHECK_SECONDS)
        self._bulletin_event = Clock.schedule_interval(lambda _dt: controller.bulletins.tick(), 1.0)
        if controller.client.supports_bulletins:
            # Its own thread: a slow server never holds up a tap; boards reach the screens on Kivy's thread.
            def deliver(board: Board) -> None:
                Clock.schedule_once(lambda _dt: self._deliver(poller, board), 0)

            poller = self._bulletins = BulletinPoller(controller.client.bulletins, deliver,
                                                      interval=self.settings_poll_seconds())
            poller.start()
        # Reader events arrive on the poller's thread; the controller runs on Kivy's.
        controller.devices.start(lambda event: Clock.schedule_once(lambda _dt: controller.cards.on_event(event), 0))
        # Reports to the central server on its own thread; the answer names the community the turns belong to.
        config, voice = self.kiosk_config, controller.voice
        self._heartbeat = start_heartbeat(
            config.assistant_url, config.kiosk_token, config.heartbeat_seconds,
            lambda: device_health(controller.devices, voice.microphone, voice.mic_ok),
            lambda server: controller.client.use_community(server.community_code))

    def settings_poll_seconds(self) -> float:
        seconds = getattr(self.settings, "bulletin_poll_seconds", None)
        return float(seconds) if isinstance(seconds, int | float) and seconds > 0 else DEFAULT_POLL_SECONDS

    def _deliver(self, poller: BulletinPoller, board: Board) -> None:
        # A board still on its way from a poller stopped meanwhile is dropped.
        if poller is self._bulletins and self.controller is not None:
            self.controller.bulletins.update(board)

    def stop_bulletins(self) -> None:
        """No more boards from the server (the screenshot mode shows sample ones)."""
        if self._bulletins is not None:
            self._bulletins.stop()
            self._bulletins = None

    def on_stop(self) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        for event in (self._idle_event, self._device_event, self._bulletin_event):
            if event is not None:
                event.cancel()
        self._idle_event = self._device_event = self._bulletin_event = None
        self.stop_bulletins()
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        Window.unbind(on_touch_down=self._touched, on_request_close=self._request_close,
                      on_keyboard=self._keyboard)
        controller = self.controller
        if controller is None:
            return
        controller.voice.leave()  # a recording in progress is dropped
        controller.devices.stop()
        controller.runner.shutdown()
        controller.speech.close()
        controller.client.close()
        self.controller = None

    def _touched(self, _window: Any, _touch: Any) -> bool:
        if self.controller is not None:
            self.controller.touched()
        return False  # never swallow the touch: the widgets below must get it

    def _request_close(self, *_args: Any) -> bool:
        # In kiosk mode a stray Alt+F4 or window-manager close must not leave a desktop on screen.
        return self.kiosk_config.fullscreen

    def _keyboard(self, _window: Any, key: int, _scancode: int, _codepoint: str, modifiers: list[str]) -> bool:
        # Staff with a keyboard can quit with Ctrl+Alt+Q; residents have no keyboard.
        if key == ord("q") and "ctrl" in modifiers and "alt" in modifiers:
            log.info("kiosk closed by Ctrl+Alt+Q")
            self.stop()
            return True
        return False
