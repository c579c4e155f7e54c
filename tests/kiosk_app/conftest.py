"""Fixtures for the kiosk tests: a knowledge base with the topics the kiosk suggests, a controller wired to
the in-process assistant, the fake TTS engine, the Dummy printer and a fake or simulated ID-card reader."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from accessibility import FakeTtsEngine
from assistant.context import AppContext, create_context
from assistant.settings import Settings
from device_adapters.printer import DummyReceiptPrinter
from kiosk_app.client import InProcessAssistantClient
from kiosk_app.config import KioskConfig
from kiosk_app.controller import KioskController
from kiosk_app.devices import KioskDevices
from kiosk_app.runner import InlineRunner
from kiosk_app.speech import KioskSpeech


def _entry(entry_id: str, title: str, department: str, answer: str, questions: list[str],
           **aspects: str) -> dict[str, Any]:
    return {"id": entry_id, "title": title, "department": department, "status": "published",
            "questions": questions, "answer": answer, "aspects": aspects}


PREFERENTIAL_CARD = _entry(
    "senior-preferential-card", "老年人优待证怎么办", "民政",
    "年满60周岁的老人可以带身份证和一寸照片到社区办理老年人优待证，凭证乘车、游园有优惠。",
    ["老年证怎么办", "优待证在哪里办", "60岁可以办老年证吗", "老人优待证要带什么", "老年证有什么用",
     "办老年证要钱吗", "老年优待证多久能拿到", "老年证丢了怎么补", "外地老人能办优待证吗", "老年卡怎么申请"],
    materials="本人身份证；一寸照片一张。", location="社区服务中心", time="当场办理。",
    contact="12345；{社区电话}",
)


@pytest.fixture
def kiosk_kb_dir(tmp_path: Path, tiny_kb_data: dict[str, Any], write_kb: Callable[..., Path]) -> Path:
    data = copy.deepcopy(tiny_kb_data)
    data["entries"]["yanglao.yaml"]["entries"].append(PREFERENTIAL_CARD)
    data["profile"]["name"] = "东葛社区"
    data["profile"]["example"] = False
    return write_kb(tmp_path / "kiosk_kb", data)


@pytest.fixture
def kiosk_settings(settings: Settings, kiosk_kb_dir: Path) -> Settings:
    # Open all day: the handoff must queue whatever time the test runs.
    return settings.model_copy(update={"kb_data_dir": kiosk_kb_dir, "office_hours": "00:00-24:00",
                                       "office_weekends": True, "kiosk_tts": "fake"})


@pytest.fixture
def kiosk_context(kiosk_settings: Settings) -> Iterator[AppContext]:
    context = create_context(kiosk_settings)
    try:
        yield context
    finally:
        context.close()


class RecordingUi:
    """The controller's UiPort, recording what would be on screen."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, Any]] = []
        self.flashes: list[str] = []
        self.busy = False
        self.theme: tuple[str, bool] | None = None
        self.cleared = 0

    def show(self, screen: str, view: Any) -> None:
        self.shown.append((screen, view))

    def set_busy(self, busy: bool) -> None:
        self.busy = busy

    def flash(self, text: str) -> None:
        self.flashes.append(text)

    def apply_theme(self, theme_name: str, larger_text: bool) -> None:
        self.theme = (theme_name, larger_text)

    def clear_screens(self) -> None:
        self.cleared += 1

    @property
    def last(self) -> tuple[str, Any]:
        return self.shown[-1]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def make_controller(kiosk_settings: Settings, kiosk_context: AppContext) -> Iterator[Callable[..., KioskController]]:
    made: list[KioskController] = []

    def make(*, reader: Any = None, printer: Any = "dummy", ui: Any = None, **config: Any) -> KioskController:
        kiosk_config = KioskConfig(home_categories=("yanglao", "shebao"), idle_seconds=60,
                                   idle_warning_seconds=20, tts="fake", **config).validate()
        client = InProcessAssistantClient(kiosk_settings, kiosk_config.home_categories, context=kiosk_context)
        devices = KioskDevices(printer=DummyReceiptPrinter() if printer == "dummy" else printer, reader=reader)
        controller = KioskController(kiosk_config, client, KioskSpeech(FakeTtsEngine()), devices,
                                     ui or RecordingUi(), runner=InlineRunner(), clock=FakeClock())
        made.append(controller)
        return controller

    yield make
    for controller in made:
        controller.devices.stop()
