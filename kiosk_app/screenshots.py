"""``shequ kiosk --screenshots DIR``: every screen with sample content, as PNG, plus the audit of each.

The visit is scripted through the real controller and the in-process assistant (on a throw-away database, so
no sample turn or queue number lands in the real one), the Dummy printer and a fake ID-card reader holding the
fictional sample card. 按住说话 is held by a real touch while a file microphone plays a voice-like sound made
here (no recording of anyone) and the fake recogniser "hears" a sample question. ``DIR/audit.txt`` lists what
the accessibility audit found on each screen.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from accessibility import create_tts_engine
from assistant.dialogue import payloads
from device_adapters.idcard import FakeIdCardReader
from device_adapters.idcard.samples import sample_text_block
from device_adapters.printer import DummyReceiptPrinter
from device_adapters.printer.status import PaperState
from kiosk_app import texts
from kiosk_app.app import KioskApp
from kiosk_app.audit import Finding, audit_banner, audit_screen
from kiosk_app.bulletins import parse_board
from kiosk_app.client import InProcessAssistantClient
from kiosk_app.config import KioskConfig
from kiosk_app.devices import KioskDevices
from kiosk_app.harness import KioskHarness
from kiosk_app.microphone import FileMicrophone
from kiosk_app.runner import InlineRunner
from kiosk_app.samples import sample_bulletins, sample_speech_input, sample_voice_wav
from kiosk_app.views import (
    CLARIFY,
    CONFIRM,
    HANDOFF,
    IDLE,
    LISTEN,
    Action,
    ClarifyView,
    HandoffView,
    IdleView,
)

if TYPE_CHECKING:
    from assistant.settings import Settings

log = logging.getLogger(__name__)

SAMPLE_TOPIC = "senior-age-allowance"
SAMPLE_PHONE_DIGITS = "1380771"  # half typed: a keypad in use, not anyone's number
class _Recorder:
    def __init__(self, harness: KioskHarness, directory: Path) -> None:
        self.h = harness
        self.directory = directory
        self.paths: list[Path] = []
        self.findings: list[Finding] = []

    def __call__(self, name: str) -> None:
        path = self.h.screenshot(self.directory / f"{len(self.paths) + 1:02d}-{name}.png")
        self.paths.append(path)
        self.findings += audit_screen(self.h.screen, name)
        warning = self.h.app.ui.warning
        if warning is not None:
            self.findings += audit_banner(warning, self.h.screen, name)
        log.info("screenshot %s", path.name)


def sample_devices() -> tuple[KioskDevices, FakeIdCardReader, DummyReceiptPrinter]:
    """The Dummy printer and a fake reader (the sample card is placed during the script)."""
    reader = FakeIdCardReader()
    printer = DummyReceiptPrinter()
    return KioskDevices(printer=printer, reader=reader, poll_interval=0.05), reader, printer


def render_all(config: KioskConfig, settings: Settings, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="shequ-kiosk-shots-") as tmp:
        shot_settings = settings.model_copy(update={
            "database_url": f"sqlite:///{Path(tmp, 'screenshots.db').as_posix()}",
            "index_dir": settings.resolved_index_dir(),
            "office_hours": "00:00-24:00",  # so that 呼叫工作人员 shows a queue number at any hour
            "office_weekends": True,
        })
        client = InProcessAssistantClient(shot_settings, config.home_categories, speech=sample_speech_input())
        devices, reader, printer = sample_devices()
        app = KioskApp(config, shot_settings, client=client, tts=create_tts_engine("silent"), devices=devices,
                       runner=InlineRunner(), microphone=FileMicrophone(sample_voice_wav()))
        harness = KioskHarness(app)
        try:
            recorder = _Recorder(harness, directory)
            visit_every_screen(harness, reader, printer, recorder)
        finally:
            harness.close()
    report = "\n".join(map(str, recorder.findings)) or "no findings on any screen"
    (directory / "audit.txt").write_text(report + "\n", encoding="utf-8")
    return recorder.paths


def visit_every_screen(h: KioskHarness, reader: FakeIdCardReader, printer: DummyReceiptPrinter,
                       capture: Callable[[str], None]) -> None:
    """A scripted visit that shows every screen with sample content; ``capture(name)`` at each stop."""
    c = h.app.controller
    h.app.stop_bulletins()  # the sample notices and warnings below, not the throw-away database's

    def shot(name: str) -> None:
        h.settle()
        capture(name)
    h.wait_until(lambda: c.cards.reader_ok is True, what="the reader to report in")
    c.idle.touch()
    shot("home")
    catalog = c.client.catalog()
    first = catalog.home_categories()[0]
    h.tap(first.name)
    shot("category")
    c.open_common()
    shot("common-questions")
    c.open_more()
    shot("more-services")
    topic = SAMPLE_TOPIC if catalog.question(SAMPLE_TOPIC) else first.questions[0].entry_id
    c.ask_topic(topic)
    shot("answer")
    if texts.ASPECT_LABELS["materials"] in [b.text for b in h.buttons()]:
        h.tap(texts.ASPECT_LABELS["materials"])
        shot("answer-materials")
    questions = [q for category in catalog.home_categories() for q in category.questions][:3]
    choices = tuple(Action(f"{i}. {q.title}", "payload", payloads.choose(i)) for i, q in enumerate(questions, 1))
    c.navigate(CLARIFY, ClarifyView(texts.CLARIFY_PROMPT, (*choices, Action("都不是", "payload", payloads.NONE_OF_THEM))))
    shot("clarify")
    c.call_staff()
    shot("handoff")
    c.navigate(HANDOFF, HandoffView(texts.STAFF_AWAY, None, can_callback=True))
    shot("handoff-staff-away")
    h.tap(texts.CALLBACK_BUTTON)
    for digit in SAMPLE_PHONE_DIGITS:
        c.keypad.press(digit)
    shot("keypad")
    c.go_home()
    c.cards.open()
    shot("idcard-waiting")
    reader.place_card(sample_text_block("resident"))
    h.wait_until(lambda: c.visitor is not None, what="the sample card to be read")
    shot("idcard-signed-in")
    c.ask_topic(topic)
    h.settle()
    printer.set_paper(PaperState.OUT)
    h.tap(texts.PRINT_BUTTON)
    shot("printer-out-of-paper")
    printer.set_paper(PaperState.OK)
    c.check_devices()
    reader.remove_card()
    c.cards.sign_out()
    reader.unplug()
    h.wait_until(lambda: c.cards.reader_ok is False, what="the reader to be missed")
    c.idle.touch()
    c.cards.open()
    shot("reader-unplugged")
    reader.plug()
    h.wait_until(lambda: c.cards.reader_ok is True, what="the reader to come back")
    c.navigate(IDLE, IdleView(25, texts.IDLE_QUESTION))
    shot("idle-warning")
    c.end_visit()
    c.idle.touch()
    c.toggle_high_contrast()
    shot("home-high-contrast")
    c.toggle_larger_text()
    c.ask_topic(topic)
    shot("answer-high-contrast-larger-text")
    # 按住说话 held while the sample question is said, let go, then 您说的是.
    c.end_visit()
    c.idle.touch()
    h.wait_until(lambda: c.voice.available, what="voice input to be offered")
    finger = h.hold(texts.TALK_BUTTON)
    h.wait_until(lambda: c.screen == LISTEN and c.voice.view.hearing, what="the sample voice to be heard")
    shot("listening")
    h.wait_until(lambda: c.voice.listener is None or c.voice.listener.seconds > 1.5, what="more of the voice")
    h.let_go(finger)
    h.wait_until(lambda: c.screen == CONFIRM, what="the confirmation")
    shot("confirm")
    visit_bulletins(h, shot)


def visit_bulletins(h: KioskHarness, shot: Callable[[str], None]) -> None:
    """社区通知 and warnings: the home banner, a warning banner in each level's colours, the list, a notice and a
    warning in full."""
    c = h.app.controller
    c.end_visit()
    c.idle.touch()
    c.bulletins.update(parse_board(sample_bulletins()))
    shot("home-notice")
    for level in ("blue", "yellow", "orange", "red"):
        c.bulletins.update(parse_board(sample_bulletins((level,))))
        shot(f"warning-{level}")
    h.tap(texts.NOTICES_TITLE)  # in the bottom bar: the notice row gives way on a short screen
    shot("notices")
    first = c.current[1].items[0].label
    h.tap(first)
    shot("notice-detail")
    c.bulletins.update(parse_board(sample_bulletins(("blue", "yellow", "orange", "red"))))
    h.pump(3)
    h.tap(h.app.ui.warning)
    shot("warning-detail")
    c.bulletins.update(parse_board(sample_bulletins()))
    c.go_home()
