"""Every screen's widget tree against the accessibility numbers, in every theme; the CJK font; and the audit
itself catching what it should."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kiosk_testkit import setup_kivy_for_tests

from accessibility import FakeTtsEngine
from assistant.settings import Settings
from kiosk_app.client import InProcessAssistantClient
from kiosk_app.config import KioskConfig
from kiosk_app.views import SCREENS

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module", autouse=True)
def kivy_ready() -> Iterator[None]:
    setup_kivy_for_tests()
    yield


@pytest.mark.parametrize(("theme", "larger"), [("normal", False), ("high_contrast", False),
                                                ("normal", True), ("high_contrast", True)])
def test_every_screen_meets_the_numbers(theme: str, larger: bool, kiosk_settings: Settings,
                                        in_process_client: InProcessAssistantClient) -> None:
    from kiosk_app.app import KioskApp
    from kiosk_app.audit import audit_screen
    from kiosk_app.harness import KioskHarness
    from kiosk_app.microphone import FileMicrophone
    from kiosk_app.runner import InlineRunner
    from kiosk_app.samples import sample_voice_wav
    from kiosk_app.screenshots import sample_devices, visit_every_screen

    config = KioskConfig(home_categories=("yanglao", "shebao"), theme=theme, larger_text=larger, tts="fake")
    devices, reader, printer = sample_devices()
    app = KioskApp(config, kiosk_settings, client=in_process_client, tts=FakeTtsEngine(), devices=devices,
                   runner=InlineRunner(), microphone=FileMicrophone(sample_voice_wav()))
    harness = KioskHarness(app)
    findings: list[str] = []
    visited: set[str] = set()

    def capture(label: str) -> None:
        visited.add(harness.screen_name)
        findings.extend(map(str, audit_screen(harness.screen, label)))

    try:
        visit_every_screen(harness, reader, printer, capture)
    finally:
        harness.close()
    assert visited == set(SCREENS)
    assert findings == []


def test_chinese_renders_with_wenquanyi_not_boxes() -> None:
    from kivy.core.text import DEFAULT_FONT, LabelBase
    from kivy.core.text import Label as CoreLabel

    assert LabelBase._fonts[DEFAULT_FONT][0].endswith("wqy-microhei.ttc")

    def pixels(text: str) -> bytes:
        label = CoreLabel(text=text, font_size=48)
        label.refresh()
        return bytes(label.texture.pixels)

    missing = pixels("\ue000")  # a private-use code point: any font draws its "no glyph" box
    for character in "直骨角高龄津贴":
        assert pixels(character) != missing, character
    assert pixels("直") != pixels("骨")


def test_the_audit_catches_small_low_contrast_crowded_widgets() -> None:
    from kivy.metrics import dp, sp
    from kivy.uix.floatlayout import FloatLayout
    from kivy.uix.screenmanager import Screen

    from kiosk_app.audit import audit_screen
    from kiosk_app.views import Action
    from kiosk_app.widgets import KioskButton, KioskLabel, Panel

    screen = Screen(name="list", size=(1920, 1080))
    layout = FloatLayout(size=(1920, 1080))
    screen.add_widget(layout)
    panel = Panel(bg_color=[1, 1, 1, 1], pos=(0, 0), size=(1920, 1080), size_hint=(None, None))
    layout.add_widget(panel)
    faint = KioskLabel(text="浅灰色的小字", ink=[0.7, 0.7, 0.7, 1], size_hint=(None, None), width=dp(600))
    faint.font_size = sp(18)
    panel.add_widget(faint)
    for i in range(7):
        button = KioskButton(text=f"选项{i}", action=Action(f"选项{i}", "ask", f"e{i}"), size_hint=(None, None),
                             size=(dp(40), dp(40)), pos=(dp(50) * i, dp(200)))
        layout.add_widget(button)
    faint.texture_update()
    rules = {f.rule for f in audit_screen(screen)}
    assert {"font-size", "text-contrast", "touch-target", "touch-gap", "service-choices",
            "missing-button"} <= rules
