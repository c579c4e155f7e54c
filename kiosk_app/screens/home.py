"""Home: 按住说话 and the 普通话/粤语 switch (when voice input works here), up to four category tiles, 常见问题
and 更多服务; 刷身份证, display settings, 呼叫工作人员."""

from __future__ import annotations

from kiosk_app import texts
from kiosk_app.screens.base import KioskScreen, load_kv, show
from kiosk_app.theme import THEME
from kiosk_app.views import HomeView


class HomeScreen(KioskScreen):
    def on_kv_post(self, base_widget: object) -> None:
        THEME.bind(name=self._settings_buttons, larger_text=self._settings_buttons)
        self.bind(controller=self._settings_buttons)
        self.refresh()

    def refresh(self) -> None:
        view = self.view if isinstance(self.view, HomeView) else HomeView()
        self.ids.greeting.text = view.greeting
        self.ids.notice.text = view.notice
        self.ids.nav.show_idcard = view.reader_available
        self.fill(self.ids.tiles, view.tiles, big=True)
        show(self.ids.voice_row, view.voice)
        other = "zh" if view.language == "yue" else "yue"
        self.ids.language.text = texts.LANGUAGE_BUTTON.format(name=texts.LANGUAGE_NAMES.get(view.language, ""))
        self.ids.language.hint = texts.LANGUAGE_HINT.format(other=texts.LANGUAGE_NAMES[other])
        self._settings_buttons()

    def _settings_buttons(self, *_args: object) -> None:
        c = self.controller
        contrast = texts.NORMAL_THEME_BUTTON if THEME.name == "high_contrast" else texts.HIGH_CONTRAST_BUTTON
        larger = texts.SMALLER_BUTTON if THEME.larger_text else texts.LARGER_BUTTON
        self.ids.nav.extra = [
            (contrast, lambda: c and c.toggle_high_contrast()),
            (larger, lambda: c and c.toggle_larger_text()),
        ]


load_kv(__file__)
