"""Home: 按住说话 and the 普通话/粤语 switch (when voice input works here), the newest community notice with
查看全部通知, up to four category tiles, 常见问题 and 更多服务; 刷身份证, 社区通知, display settings, 呼叫工作人员."""

from __future__ import annotations

from kivy.properties import BooleanProperty

from kiosk_app import texts
from kiosk_app.screens.base import KioskScreen, load_kv, show
from kiosk_app.theme import THEME
from kiosk_app.views import HomeView

TILE_COLUMNS = 3
TILE_ROW_MIN = 1.1  # a tile row at least this many touch targets tall (its text is the largest on screen)
# What gives way, in turn, when the screen is short (1280×800, a warning above it, larger text): the app's
# name (the greeting of a signed-in resident stays), the prompt (the tiles and 按住说话's hint say it too),
# then the notice row (社区通知 stays in the bottom bar). Each step: (name, prompt, notice row) shown.
COMPACT_STEPS = ((True, True, True), (False, True, True), (False, False, True), (False, False, False))


class HomeScreen(KioskScreen):
    show_title = BooleanProperty(True)
    show_prompt = BooleanProperty(True)
    show_bulletin = BooleanProperty(True)

    def on_kv_post(self, base_widget: object) -> None:
        THEME.bind(name=self._settings_buttons, larger_text=self._settings_buttons)
        THEME.bind(touch=self._fit, font_title=self._fit, font_main=self._fit)
        self.bind(controller=self._settings_buttons, height=self._fit)
        self.refresh()

    def _needed(self, show_title: bool, show_prompt: bool, show_bulletin: bool) -> float:
        view = self.view if isinstance(self.view, HomeView) else HomeView()
        line = THEME.font_title * THEME.line_height
        rows = max(1, -(-len(view.tiles) // TILE_COLUMNS))
        parts = [line if show_title or view.greeting else 0.0, line if show_prompt else 0.0,
                 THEME.touch * 1.5 if view.voice else 0.0,
                 max(THEME.touch, THEME.font_main * THEME.line_height) + THEME.pad * 0.5
                 if view.bulletin and show_bulletin else 0.0,
                 self.ids.notice.height + THEME.pad if view.notice else 0.0,
                 rows * THEME.touch * TILE_ROW_MIN + (rows - 1) * THEME.gap,
                 THEME.touch * 1.15]
        return sum(parts) + THEME.gap * (len(parts) - 1) + THEME.pad * 2

    def _fit(self, *_args: object) -> None:
        """Give way step by step (``COMPACT_STEPS``) until the tiles keep their size."""
        step = COMPACT_STEPS[-1]
        for candidate in COMPACT_STEPS:
            if self._needed(*candidate) <= self.height:
                step = candidate
                break
        self.show_title, self.show_prompt, self.show_bulletin = step

    def refresh(self) -> None:
        view = self.view if isinstance(self.view, HomeView) else HomeView()
        self.ids.greeting.text = view.greeting
        self.ids.notice.text = view.notice
        self.ids.bulletin.text = texts.HOME_BULLETIN.format(title=view.bulletin) if view.bulletin else ""
        self.ids.nav.show_idcard = view.reader_available
        self.fill(self.ids.tiles, view.tiles, big=True)
        show(self.ids.voice_row, view.voice)
        other = "zh" if view.language == "yue" else "yue"
        self.ids.language.text = texts.LANGUAGE_BUTTON.format(name=texts.LANGUAGE_NAMES.get(view.language, ""))
        self.ids.language.hint = texts.LANGUAGE_HINT.format(other=texts.LANGUAGE_NAMES[other])
        self._settings_buttons()
        self._fit()

    def _settings_buttons(self, *_args: object) -> None:
        c = self.controller
        contrast = texts.NORMAL_THEME_BUTTON if THEME.name == "high_contrast" else texts.HIGH_CONTRAST_BUTTON
        larger = texts.SMALLER_BUTTON if THEME.larger_text else texts.LARGER_BUTTON
        self.ids.nav.extra = [
            (texts.NOTICES_TITLE, lambda: c and c.bulletins.open_list()),
            (contrast, lambda: c and c.toggle_high_contrast()),
            (larger, lambda: c and c.toggle_larger_text()),
        ]


load_kv(__file__)
