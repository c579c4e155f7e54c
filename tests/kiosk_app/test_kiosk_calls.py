"""Emergency call buttons (``tel:120``) on the kiosk, which cannot dial: big buttons, the number very large
and spoken, never sent to the assistant as a message."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kiosk_testkit import FakeClock, RecordingUi, ScriptedClient, response, setup_kivy_for_tests

from accessibility import FakeTtsEngine
from assistant.settings import Settings
from kiosk_app import texts
from kiosk_app.calls import CALL_COMMAND, call_number
from kiosk_app.catalog import Catalog
from kiosk_app.config import KioskConfig
from kiosk_app.controller import KioskController
from kiosk_app.devices import KioskDevices
from kiosk_app.speech import KioskSpeech
from kiosk_app.views import NOTICE, Style

EMERGENCY_TEXT = "急救120、火警119、报警110。请马上拨打120叫救护车。"
EMERGENCY = response("emergency", EMERGENCY_TEXT,
                     buttons=[("拨打120", "tel:120"), ("拨打110", "tel:110"), ("拨打119", "tel:119"),
                              ("呼叫工作人员", "/human")])


def make() -> tuple[KioskController, ScriptedClient, FakeTtsEngine]:
    client = ScriptedClient(Catalog([], home_codes=()), lambda text: EMERGENCY)
    tts = FakeTtsEngine()
    config = KioskConfig(home_categories=(), tts="fake")
    controller = KioskController(config, client, KioskSpeech(tts), KioskDevices(), RecordingUi(), clock=FakeClock())
    controller.start()
    return controller, client, tts


@pytest.mark.parametrize(("payload", "number"), [("tel:120", "120"), ("tel:12345", "12345"), ("/human", None),
                                                 ("tel:120;ext", None), ("tel:", None), ("拨打120", None)])
def test_only_tel_payloads_with_digits_are_calls(payload: str, number: str | None) -> None:
    assert call_number(payload) == number


def test_emergency_shows_big_call_buttons_and_a_tap_shows_and_says_the_number() -> None:
    controller, client, tts = make()
    controller.send("我家老人晕倒了")
    screen, view = controller.ui.last
    assert screen == NOTICE and view.urgent and view.text == EMERGENCY_TEXT
    assert [(a.label, a.command, a.argument, a.style) for a in view.calls] == [
        ("120 急救", CALL_COMMAND, "120", Style.DANGER), ("110 报警", CALL_COMMAND, "110", Style.DANGER),
        ("119 火警", CALL_COMMAND, "119", Style.DANGER)]
    # The person is still one tap away; no call is a message to the assistant.
    assert [a.label for a in view.actions] == [texts.STAFF_BUTTON]
    assert all(not a.argument.startswith("tel:") for a in view.actions)

    sent_before = list(client.sent)
    controller.perform(view.calls[0])
    assert client.sent == sent_before  # nothing was sent: the kiosk cannot dial, it shows and says
    screen, call = controller.ui.last
    assert screen == NOTICE and call.big_number == "120" and call.text == "请用电话拨打 120"
    assert "请用电话拨打幺二零" in tts.last.text
    controller.back()
    assert controller.ui.last[1] is view  # 返回 goes back to the emergency message


@pytest.fixture(scope="module")
def kivy_ready() -> Iterator[None]:
    setup_kivy_for_tests()
    yield


@pytest.mark.gui
@pytest.mark.parametrize(("theme", "larger"), [("normal", False), ("high_contrast", True)])
def test_call_buttons_and_the_number_screen_meet_the_numbers(kivy_ready: None, kiosk_settings: Settings,
                                                            theme: str, larger: bool) -> None:
    from kivy.metrics import dp, sp

    from kiosk_app.app import KioskApp
    from kiosk_app.audit import audit_screen
    from kiosk_app.harness import KioskHarness
    from kiosk_app.runner import InlineRunner

    client = ScriptedClient(Catalog([], home_codes=()), lambda text: EMERGENCY)
    config = KioskConfig(home_categories=(), theme=theme, larger_text=larger, tts="fake")
    app = KioskApp(config, kiosk_settings, client=client, tts=FakeTtsEngine(), devices=KioskDevices(),
                   runner=InlineRunner())
    harness = KioskHarness(app)
    try:
        app.controller.send("着火了")
        harness.settle()
        assert harness.screen_name == NOTICE
        calls = sorted((b for b in harness.buttons() if b.action is not None and b.action.command == CALL_COMMAND),
                       key=lambda b: b.x)  # left to right, as the resident reads them
        assert [b.text for b in calls] == ["120 急救", "110 报警", "119 火警"]
        assert all(min(b.size) >= dp(60) for b in calls)
        assert [str(f) for f in audit_screen(harness.screen, "emergency")] == []

        harness.tap("120 急救")
        harness.settle()
        assert client.sent == [(None, "着火了")]
        big = harness.screen.ids.big_number
        assert big.text == "120" and big.font_size >= sp(100)
        assert "请用电话拨打 120" in harness.texts(harness.screen)
        assert [str(f) for f in audit_screen(harness.screen, "call-120")] == []
    finally:
        harness.close()
