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


load_kv(__file__)
