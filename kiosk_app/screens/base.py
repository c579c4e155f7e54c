"""What every kiosk screen shares: the themed background, the controller, ``show(view)`` and ``clear()``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kivy.lang import Builder
from kivy.properties import ColorProperty, ObjectProperty
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from kiosk_app.views import Action
from kiosk_app.widgets import action_button


def load_kv(module_file: str) -> None:
    """Load the ``.kv`` file named like the screen's module (``home.py`` → ``home.kv``)."""
    Builder.load_file(str(Path(module_file).with_suffix(".kv")))


def show(widget: Widget, visible: bool) -> None:
    """Hide or show a widget in place (hidden widgets cannot be tapped and are skipped by the audit)."""
    widget.opacity = 1 if visible else 0
    widget.disabled = not visible


class KioskScreen(Screen):
    controller = ObjectProperty(None, allownone=True)
    bg_color = ColorProperty([1, 1, 1, 1])
    view = ObjectProperty(None, allownone=True)

    def show(self, view: Any) -> None:
        self.view = view
        self.refresh()

    def refresh(self) -> None:
        """Fill the widgets from ``self.view`` (``None``: the empty state)."""

    def clear(self) -> None:
        """Forget everything shown (end of a visit): nothing of the last resident stays on any screen."""
        self.view = None
        self.refresh()

    def perform(self, action: Action) -> None:
        if self.controller is not None:
            self.controller.perform(action)

    def fill(self, container: Widget, actions: Iterable[Action], **kwargs: object) -> None:
        container.clear_widgets()
        for action in actions:
            container.add_widget(action_button(action, self.perform, **kwargs))


class ScrollingScreen(KioskScreen):
    """A screen whose long text scrolls with two big buttons (往上看 / 往下看) rather than by swiping, which many
    older residents cannot do. Its ``.kv`` has ``scroller`` (a ScrollView), ``scroll_up``/``scroll_down`` in
    ``scroll_column``, and the text widget whose id ``scrolled_id`` names."""

    scrolled_id = "body"
    scroll_step = 0.5  # of the visible height

    def bind_scrolling(self) -> None:
        self.ids.scroller.bind(height=self._scroll_buttons, scroll_y=self._scroll_buttons)
        self.ids[self.scrolled_id].bind(height=self._scroll_buttons)

    def to_top(self) -> None:
        self.ids.scroller.scroll_y = 1
        self._scroll_buttons()

    def _hidden_height(self) -> float:
        return float(self.ids[self.scrolled_id].height - self.ids.scroller.height)

    def _scroll_buttons(self, *_args: object) -> None:
        overflow = self._hidden_height() > 1
        scroll_y = self.ids.scroller.scroll_y
        show(self.ids.scroll_up, overflow and scroll_y < 0.999)
        show(self.ids.scroll_down, overflow and scroll_y > 0.001)
        self.ids.scroll_column.width = self.ids.scroll_up.width if overflow else 0

    def scroll(self, direction: int) -> None:
        scroller, hidden = self.ids.scroller, self._hidden_height()
        if hidden <= 0:
            return
        step = self.scroll_step * scroller.height / hidden
        scroller.scroll_y = min(1.0, max(0.0, scroller.scroll_y + direction * step))


load_kv(__file__)
