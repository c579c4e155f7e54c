"""Fixtures for the kiosk tests: a knowledge base with the topics the kiosk suggests, a controller wired to
the in-process assistant, the fake TTS engine, the Dummy printer and a fake or simulated ID-card reader."""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kiosk_testkit import FakeClock, RecordingUi, write_kb_files

from accessibility import FakeTtsEngine
from assistant.context import AppContext, create_context
from assistant.dialogue.engine import DialogueEngine
from assistant.dialogue.factory import build_engine
from assistant.settings import Settings
from device_adapters.printer import DummyReceiptPrinter
from kiosk_app.client import InProcessAssistantClient
from kiosk_app.config import KioskConfig
from kiosk_app.controller import KioskController
from kiosk_app.devices import KioskDevices
from kiosk_app.kivy_setup import prepare_environment
from kiosk_app.runner import InlineRunner
from kiosk_app.samples import sample_speech_input
from kiosk_app.speech import KioskSpeech

# None of the imports above loads Kivy. Before a test module does: no ~/.kivy, no Kivy log handlers,
# a hidden window when there is no display.
KIVY_HOME = Path(tempfile.mkdtemp(prefix="shequ-kivy-test-"))
prepare_environment(KIVY_HOME, headless=True)


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


def kiosk_kb_data(tiny_kb_data: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(tiny_kb_data)
    data["entries"]["yanglao.yaml"]["entries"].append(PREFERENTIAL_CARD)
    data["profile"]["name"] = "东葛社区"
    data["profile"]["example"] = False
    return data


@pytest.fixture(scope="session")
def kiosk_settings(tmp_path_factory: pytest.TempPathFactory, tiny_kb_data: dict[str, Any]) -> Settings:
    """Shared by the kiosk tests: training the intent classifier takes half a minute, so once per session."""
    root = tmp_path_factory.mktemp("kiosk")
    kb_dir = write_kb_files(root / "kb", kiosk_kb_data(tiny_kb_data))
    return Settings(_env_file=None, var_dir=root, database_url=f"sqlite:///{(root / 'shequ.db').as_posix()}",
                    kb_data_dir=kb_dir, index_dir=root / "index", community_profile=None, rasa_url="",
                    intent_classifier="sklearn", encoder="static-trained", encryption_key="",
                    # Open all day: 呼叫工作人员 must queue whatever time the test runs.
                    office_hours="00:00-24:00", office_weekends=True, kiosk_tts="fake",
                    kiosk_assistant_url="", kiosk_printer="", kiosk_idcard_port="")


@pytest.fixture(scope="session")
def kiosk_context(kiosk_settings: Settings) -> Iterator[AppContext]:
    context = create_context(kiosk_settings)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture(scope="session")
def kiosk_engine(kiosk_context: AppContext) -> DialogueEngine:
    engine = build_engine(kiosk_context)
    engine.classifier.classify("你好")  # train once
    return engine


@pytest.fixture
def in_process_client(kiosk_settings: Settings, kiosk_context: AppContext,
                      kiosk_engine: DialogueEngine) -> InProcessAssistantClient:
    # Speech input through the fake recogniser: what it "hears" is the screenshot mode's sample question.
    return InProcessAssistantClient(kiosk_settings, ("yanglao", "shebao"), context=kiosk_context,
                                    engine=kiosk_engine, speech=sample_speech_input())


@pytest.fixture
def make_controller(in_process_client: InProcessAssistantClient) -> Iterator[Callable[..., KioskController]]:
    made: list[KioskController] = []

    def make(*, reader: Any = None, printer: Any = "dummy", ui: Any = None, microphone: Any = None,
             call_soon: Any = None, **config: Any) -> KioskController:
        kiosk_config = KioskConfig(home_categories=("yanglao", "shebao"), idle_seconds=60,
                                   idle_warning_seconds=20, tts="fake", **config).validate()
        client = in_process_client
        devices = KioskDevices(printer=DummyReceiptPrinter() if printer == "dummy" else printer, reader=reader)
        controller = KioskController(kiosk_config, client, KioskSpeech(FakeTtsEngine()), devices,
                                     ui or RecordingUi(), runner=InlineRunner(), clock=FakeClock(),
                                     microphone=microphone, call_soon=call_soon)
        made.append(controller)
        return controller

    yield make
    for controller in made:
        controller.devices.stop()
