"""Driving the kiosk without ``App.run()``: for the screenshot mode, the GUI tests and the benchmark.

The app is built and put on the window exactly as ``App.run`` would, then frames are pumped by hand, taps are
real touch events at a button's centre (through the window, the idle hook and the hit test), and results from
the worker thread are waited for frame by frame. Kivy allows one window per process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from kivy.base import EventLoop
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.widget import Widget

from kiosk_app.app import KioskApp
from kiosk_app.screens import KioskScreen
from kiosk_app.widgets import KioskButton

TAP_SECONDS = 0.1


class HarnessError(AssertionError):
    """A step of a scripted visit did not happen (no such button, a result that never came)."""


def walk(widget: Widget) -> Iterator[Widget]:
    yield widget
    for child in widget.children:
        yield from walk(child)


def visible(widget: Widget) -> bool:
    node: Widget | None = widget
    while node is not None and node is not Window:
        if node.opacity == 0 or node.disabled:
            return False
        node = node.parent
    return True


class KioskHarness:
    def __init__(self, app: KioskApp) -> None:
        self.app = app
        EventLoop.ensure_window()
        self.root = app.build()
        app.root = root = self.root
        Window.add_widget(root)
        app.dispatch("on_start")
        self.pump(3)

    # --- frames ---
    def pump(self, frames: int = 2) -> None:
        for _ in range(frames):
            EventLoop.idle()

    def wait_until(self, condition: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise HarnessError(f"timed out waiting for {what or condition}")
            EventLoop.idle()
            time.sleep(0.005)

    def settle(self, timeout: float = 15.0) -> None:
        """Until no assistant call or print job is running and the layout has been redone."""
        controller = self.app.controller
        self.wait_until(lambda: not controller.busy, timeout, "the kiosk to finish its work")
        self.pump(3)

    # --- what is on screen ---
    @property
    def screen(self) -> KioskScreen:
        return self.app.ui.manager.current_screen  # type: ignore[union-attr,return-value]

    @property
    def screen_name(self) -> str:
        return self.app.ui.manager.current  # type: ignore[union-attr]

    def buttons(self) -> list[KioskButton]:
        return [w for w in walk(self.screen) if isinstance(w, KioskButton) and visible(w)]

    def button(self, text: str) -> KioskButton:
        found = [b for b in self.buttons() if b.text == text] or [b for b in self.buttons() if text in b.text]
        if not found:
            labels = ", ".join(b.text for b in self.buttons())
            raise HarnessError(f"no button {text!r} on {self.screen_name}; buttons: {labels}")
        return found[0]

    def texts(self, screen: Widget | None = None) -> list[str]:
        from kivy.uix.label import Label

        return [w.text for w in walk(screen or self.root) if isinstance(w, Label) and w.text]

    # --- touching ---
    def tap(self, target: str | Widget) -> None:
        touch = self.hold(target)
        # Stamped as an input provider would for a finger lifted a tenth of a second later, however long the
        # frame in between took to draw (按住说话 tells a tap from a hold by these times).
        touch.time_end = touch.time_start + TAP_SECONDS  # type: ignore[attr-defined]
        touch.touch_up()  # type: ignore[attr-defined]
        self.pump(2)

    def hold(self, target: str | Widget) -> object:
        """Put a finger on ``target`` and keep it there (按住说话); :meth:`let_go` lifts it."""
        from kivy.tests.common import UnitTestTouch

        self.pump(2)
        widget = self.button(target) if isinstance(target, str) else target
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        self.pump(1)
        return touch

    def let_go(self, touch: object) -> None:
        touch.update_time_end()  # type: ignore[attr-defined]
        touch.touch_up()  # type: ignore[attr-defined]
        self.pump(2)

    # --- pictures ---
    def screenshot(self, path: Path) -> Path:
        """The window as PNG at exactly ``path`` (Kivy's own screenshot adds a counter to the name)."""
        self.pump(3)
        path.parent.mkdir(parents=True, exist_ok=True)
        Window.dispatch("on_draw")  # draw into the back buffer now, then read it before anything swaps it
        written = Window.screenshot(name=str(path))  # Kivy inserts a counter before the extension
        if not written:
            raise HarnessError("the window could not be captured")
        Path(written).replace(path)
        return path

    def close(self) -> None:
        self.app.shutdown()
        Window.remove_widget(self.root)
        Clock.tick()

