"""The kiosk's building blocks: a panel with a known background, big labels, big buttons, the nav bar.

Every widget that paints a background exposes it as ``bg_color``, so the accessibility audit can find the
colour behind each text and measure the contrast (``kiosk_app.audit``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kivy.lang import Builder
from kivy.properties import (
    BooleanProperty,
    BoundedNumericProperty,
    ColorProperty,
    ListProperty,
    ObjectProperty,
    OptionProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

from kiosk_app import texts
from kiosk_app.theme import THEME
from kiosk_app.views import Action, Style


class Panel(BoxLayout):
    """A box that paints ``bg_color`` behind its children."""

    bg_color = ColorProperty([0, 0, 0, 0])
    radius = ListProperty([0])


ROLES = ["tile", "title", "main", "button", "small", "huge"]


class TextLabel(Label):
    """Themed text: ``role`` picks the size, ``ink`` the colour (default: the theme's text colour).

    Size and colour are chosen through these two properties, never by overriding ``font_size``/``color`` in a
    ``.kv`` instance: Kivy keeps the class rule's bindings, which would later put the class value back.
    """

    role = OptionProperty("main", options=ROLES)
    ink = ColorProperty(None, allownone=True)


class KioskLabel(TextLabel):
    """Wrapped text that takes the height of its content (none when empty)."""


class KioskButton(ButtonBehavior, Panel):
    """A large button: a label (and an optional hint line) on a solid colour with a border."""

    text = StringProperty("")
    hint = StringProperty("")
    style = OptionProperty(Style.BUTTON.value, options=[s.value for s in Style])
    action = ObjectProperty(None, allownone=True)
    fg_color = ColorProperty([1, 1, 1, 1])
    border_color = ColorProperty([0, 0, 0, 1])
    big = BooleanProperty(False)  # home tiles and keypad digits: larger text

    def on_kv_post(self, base_widget: object) -> None:
        self._restyle()
        THEME.bind(name=self._restyle, button=self._restyle, button_border=self._restyle)
        self.bind(style=self._restyle, state=self._restyle)

    def _restyle(self, *_args: object) -> None:
        style = Style(self.style)
        background, foreground = {
            Style.BUTTON: (THEME.button, THEME.button_text),
            Style.PRIMARY: (THEME.primary, THEME.primary_text),
            Style.DANGER: (THEME.danger, THEME.danger_text),
        }[style]
        self.bg_color, self.fg_color = background, foreground
        # Ordinary buttons carry the theme's border (yellow on black in high contrast); coloured ones their own.
        self.border_color = THEME.button_border if style is Style.BUTTON else background


class TalkButton(KioskButton):
    """按住说话: touching it starts listening, letting go ends it (``controller.voice`` tells a hold from a tap).

    The screen changes to the listening screen under the finger; the touch stays grabbed by this button, so
    letting go still reaches it (Kivy delivers a grabbed touch's end to its grabber, on screen or not)."""

    controller = ObjectProperty(None, allownone=True)

    def on_press(self) -> None:
        if self.controller is not None:
            self.controller.voice.press()

    def on_touch_up(self, touch: object) -> bool:
        mine = getattr(touch, "grab_current", None) is self
        handled = bool(super().on_touch_up(touch))
        if mine and self.controller is not None:
            # The input provider's own times: a slow frame between press and release does not make a tap a hold.
            start, end = getattr(touch, "time_start", 0.0), getattr(touch, "time_end", -1.0)
            self.controller.voice.release(held=end - start if end >= start > 0 else None)
        return handled or mine


class LevelMeter(Panel):
    """How loud the microphone hears the resident: a bar that grows with the voice (0–1)."""

    level = BoundedNumericProperty(0.0, min=0.0, max=1.0, errorhandler=lambda x: min(1.0, max(0.0, x)))


def action_button(action: Action, on_action: Callable[[Action], None], **kwargs: object) -> KioskButton:
    button = KioskButton(text=action.label, hint=action.hint, style=action.style.value, action=action, **kwargs)
    button.bind(on_release=lambda b: on_action(b.action))
    return button


class NavBar(BoxLayout):
    """(按住说话 ·) 返回 · 首页 · 刷身份证 · 呼叫工作人员; a button that makes no sense on a screen is left out."""

    controller = ObjectProperty(None, allownone=True)
    show_back = BooleanProperty(True)
    show_home = BooleanProperty(True)
    show_idcard = BooleanProperty(True)
    show_staff = BooleanProperty(True)
    extra = ListProperty([])  # (label, callback) pairs placed before 呼叫工作人员 (the home screen's settings)
    talk = BooleanProperty(False)  # 按住说话 first (the answer screen, for a follow-up)

    def on_kv_post(self, base_widget: object) -> None:
        self.bind(show_back=self.rebuild, show_home=self.rebuild, show_idcard=self.rebuild,
                  show_staff=self.rebuild, extra=self.rebuild, controller=self.rebuild, talk=self.rebuild)
        self.rebuild()

    def rebuild(self, *_args: object) -> None:
        self.clear_widgets()
        c = self.controller
        if self.talk:
            self.add_widget(TalkButton(text=texts.TALK_BUTTON, style=Style.PRIMARY.value, controller=c))
        buttons: list[tuple[str, Callable[[], None], str]] = []
        if self.show_back:
            buttons.append((texts.BACK, lambda: c and c.back(), Style.BUTTON.value))
        if self.show_home:
            buttons.append((texts.HOME, lambda: c and c.go_home(), Style.BUTTON.value))
        if self.show_idcard and (c is None or c.devices.has_reader):
            buttons.append((texts.IDCARD_BUTTON, lambda: c and c.cards.open(), Style.BUTTON.value))
        buttons += [(label, callback, Style.BUTTON.value) for label, callback in self.extra]
        if self.show_staff:
            buttons.append((texts.STAFF_BUTTON, lambda: c and c.call_staff(), Style.DANGER.value))
        for label, callback, style in buttons:
            button = KioskButton(text=label, style=style)
            button.bind(on_release=lambda _b, callback=callback: callback())
            self.add_widget(button)


Builder.load_file(str(Path(__file__).with_name("widgets.kv")))
