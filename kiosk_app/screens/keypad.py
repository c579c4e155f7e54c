"""A numeric keypad for a callback number: big keys, the number shown in groups (138 1234 5678)."""

from __future__ import annotations

from kiosk_app import texts
from kiosk_app.screens.base import KioskScreen, load_kv
from kiosk_app.views import KeypadView
from kiosk_app.widgets import KioskButton

KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "delete", "0", "confirm")


def grouped(digits: str) -> str:
    """Mobile numbers as 3-4-4, anything else in fours, so an older eye can check them."""
    if len(digits) <= 3:
        return digits
    if digits.startswith("1"):
        return " ".join(p for p in (digits[:3], digits[3:7], digits[7:]) if p)
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


class KeypadScreen(KioskScreen):
    def on_kv_post(self, base_widget: object) -> None:
        grid = self.ids.key_grid
        for key in KEYS:
            label = {"delete": texts.KEYPAD_DELETE, "confirm": texts.KEYPAD_CONFIRM}.get(key, key)
            button = KioskButton(text=label, style="primary" if key == "confirm" else "button", big=key.isdigit())
            button.bind(on_release=lambda _b, key=key: self.press(key))
            grid.add_widget(button)
        self.refresh()

    def press(self, key: str) -> None:
        keypad = self.controller.keypad if self.controller else None
        if keypad is None:
            return
        if key == "delete":
            keypad.delete()
        elif key == "confirm":
            keypad.confirm()
        else:
            keypad.press(key)

    def refresh(self) -> None:
        view = self.view if isinstance(self.view, KeypadView) else KeypadView()
        self.ids.prompt.text = view.prompt
        self.ids.digits.text = grouped(view.digits) if view.digits else "　"
        self.ids.error.text = view.error


load_kv(__file__)
