"""A whole visit on the real Kivy app (hidden window): tile, question, answer spoken, print, ID-card sign-in
through the pseudo-terminal reader simulator with a personalised suggestion, and the idle countdown clearing
everything. Real taps go through the window; the assistant runs in-process on the worker thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kiosk_testkit import FakeClock, setup_kivy_for_tests

from accessibility import FakeTtsEngine
from assistant.settings import Settings
from device_adapters.idcard import SamSerialReader
from device_adapters.idcard.samples import RESIDENT_FIELDS
from device_adapters.idcard.simulator import SamSimulator, Scenario, SimulatorConfig
from device_adapters.printer import DummyReceiptPrinter
from kiosk_app.client import InProcessAssistantClient
from kiosk_app.config import KioskConfig
from kiosk_app.views import SCREENS, CardState

pytestmark = pytest.mark.gui

SURNAME = RESIDENT_FIELDS["name"][0]


@pytest.fixture(scope="module", autouse=True)
def kivy_ready() -> Iterator[None]:
    setup_kivy_for_tests()
    yield


@pytest.fixture
def simulator() -> Iterator[SamSimulator]:
    sim = SamSimulator(SimulatorConfig(scenario=Scenario.NO_CARD, card="resident"))
    sim.start()
    yield sim
    sim.stop()


def all_screen_texts(harness) -> list[str]:
    from kivy.uix.label import Label

    from kiosk_app.harness import walk

    return [w.text for name in SCREENS for w in walk(harness.app.ui.screen(name))
            if isinstance(w, Label) and w.text] + [harness.app.ui.banner.text]


def test_whole_visit(kiosk_settings: Settings, in_process_client: InProcessAssistantClient,
                     simulator: SamSimulator) -> None:
    from kiosk_app import texts
    from kiosk_app.app import KioskApp
    from kiosk_app.devices import KioskDevices
    from kiosk_app.harness import KioskHarness

    tts = FakeTtsEngine()
    printer = DummyReceiptPrinter()
    reader = SamSerialReader(simulator.port, timeout=0.25, read_timeout=0.5)
    devices = KioskDevices(printer=printer, reader=reader, poll_interval=0.05)
    clock = FakeClock()
    config = KioskConfig(home_categories=("yanglao", "shebao"), idle_seconds=60, idle_warning_seconds=20,
                         tts="fake")
    # No runner given: the app's own worker thread, as on a real kiosk.
    app = KioskApp(config, kiosk_settings, client=in_process_client, tts=tts, devices=devices, clock=clock)
    h = KioskHarness(app)
    try:
        c = app.controller
        h.wait_until(lambda: c.cards.reader_ok is True, what="the simulated reader to answer")
        assert h.screen_name == "home"

        # Tile → question → answer, spoken.
        h.tap("养老服务")
        h.settle()
        assert h.screen_name == "list"
        h.tap("高龄津贴怎么申请")
        h.settle()
        assert h.screen_name == "answer"
        answer = h.screen.ids.answer_text.text
        assert "高龄津贴" in answer
        assert tts.last is not None and "高龄津贴" in tts.last.text and "80" not in tts.last.text
        h.tap(texts.SLOWER_BUTTON)
        assert tts.last.rate < tts.spoken[-2].rate

        # Print: the receipt is in the Dummy printer, in GB18030.
        h.tap(texts.PRINT_BUTTON)
        h.settle()
        assert "高龄津贴".encode("gb18030") in printer.output
        assert app.ui.banner.text == texts.PRINTED

        # ID card through the simulator: greeting by surname and title, a suggestion from the age.
        simulator.place_card()
        h.wait_until(lambda: c.visitor is not None, what="the card to be read")
        h.settle()
        assert h.screen_name == "idcard" and h.screen.view.state is CardState.SIGNED_IN
        shown = all_screen_texts(h)
        assert f"{SURNAME}奶奶，您好！" in shown
        assert "老年人优待证怎么办" in [b.text for b in h.buttons()]  # 74 years old: 60+ → 优待证
        assert not any(SURNAME in t or "奶奶" in t or RESIDENT_FIELDS["id_number"][-4:] in t for t in tts.texts)

        # Idle: the warning with a spoken countdown, then everything is forgotten.
        clock.advance(61)
        h.wait_until(lambda: h.screen_name == "idle", timeout=5, what="the idle warning")
        assert "您还在使用吗" in tts.last.text
        h.pump(2)
        assert texts.IDLE_CONTINUE in [b.text for b in h.buttons()]
        stops = tts.stop_count
        clock.advance(21)
        h.wait_until(lambda: h.screen_name == "home", timeout=5, what="the idle timeout")
        h.pump(3)
        assert c.visitor is None and c.session_id is None and c.answer is None
        assert tts.stop_count > stops
        leftovers = [t for t in all_screen_texts(h) if SURNAME in t or "高龄津贴" in t]
        assert leftovers == []
        assert c.speech.last_text == ""
    finally:
        h.close()


def test_continue_keeps_the_visit(kiosk_settings: Settings, in_process_client: InProcessAssistantClient) -> None:
    from kiosk_app import texts
    from kiosk_app.app import KioskApp
    from kiosk_app.devices import KioskDevices
    from kiosk_app.harness import KioskHarness

    clock = FakeClock()
    config = KioskConfig(home_categories=("yanglao", "shebao"), idle_seconds=60, idle_warning_seconds=20,
                         tts="fake")
    app = KioskApp(config, kiosk_settings, client=in_process_client, tts=FakeTtsEngine(), devices=KioskDevices(),
                   clock=clock)
    h = KioskHarness(app)
    try:
        h.tap("社会保险")
        h.settle()
        h.tap("社会保障卡怎么申领")
        h.settle()
        assert h.screen_name == "answer"
        session = app.controller.session_id
        clock.advance(61)
        h.wait_until(lambda: h.screen_name == "idle", timeout=5, what="the idle warning")
        h.tap(texts.IDLE_CONTINUE)
        assert h.screen_name == "answer" and app.controller.session_id == session
        h.tap(texts.BACK)
        assert h.screen_name == "list"
        h.tap(texts.HOME)
        assert h.screen_name == "home"
    finally:
        h.close()
