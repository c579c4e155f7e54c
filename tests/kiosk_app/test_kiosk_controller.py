"""The controller without a display: what each tap shows and says, what is printed, what is forgotten."""

from __future__ import annotations

from typing import Any

import pytest
from kiosk_testkit import DeferredRunner, FakeClock, RecordingUi, ScriptedClient, response

from accessibility import FakeTtsEngine, SpeechRate
from device_adapters.idcard import CardEvent, CardEventKind, FakeIdCardReader
from device_adapters.idcard.record import parse_text_block
from device_adapters.idcard.samples import RESIDENT_FIELDS, sample_text_block
from device_adapters.printer import DummyReceiptPrinter
from device_adapters.printer.status import PaperState
from kiosk_app import texts
from kiosk_app.catalog import Catalog, page_size_for
from kiosk_app.config import KioskConfig
from kiosk_app.controller import KioskController
from kiosk_app.devices import KioskDevices
from kiosk_app.errors import AssistantUnavailableError
from kiosk_app.speech import KioskSpeech
from kiosk_app.views import (
    ANSWER,
    CLARIFY,
    HANDOFF,
    HOME,
    IDCARD,
    IDLE,
    KEYPAD,
    LIST,
    NOTICE,
    Action,
    CardState,
)
from knowledge_base.models import KbEntry

ENTRY = KbEntry(id="senior-age-allowance", category="yanglao", title="高龄津贴怎么申请", department="民政",
                answer="年满80周岁的本地户籍老人可以申请高龄津贴。",
                aspects={"materials": "身份证；户口簿；银行卡。", "contact": "12345"})
CATALOG = Catalog([ENTRY], home_codes=("yanglao",))
ANSWER_REPLY = response("answer", ENTRY.answer, topic=(ENTRY.id, ENTRY.title),
                        buttons=[("要带什么", "/aspect materials"), ("网上能办吗", "/aspect online"),
                                 ("转人工", "/human")], speech="年满八十周岁的本地户籍老人可以申请高龄津贴。")


def make(script: Any = None, *, runner: Any = None, printer: Any = None, reader: Any = None,
         client: ScriptedClient | None = None) -> tuple[KioskController, ScriptedClient, FakeTtsEngine]:
    client = client or ScriptedClient(CATALOG, script or (lambda text: ANSWER_REPLY))
    tts = FakeTtsEngine()
    config = KioskConfig(home_categories=("yanglao",), idle_seconds=60, idle_warning_seconds=20, tts="fake")
    devices = KioskDevices(printer=printer, reader=reader)
    controller = KioskController(config, client, KioskSpeech(tts), devices, RecordingUi(), runner=runner,
                                 clock=FakeClock())
    controller.start()
    controller.idle.touch()
    return controller, client, tts


def test_home_has_at_most_six_service_tiles() -> None:
    controller, _, _ = make()
    screen, view = controller.ui.last
    assert screen == HOME and len(view.tiles) <= 6
    assert [t.label for t in view.tiles][-2:] == [texts.COMMON_TITLE, texts.MORE_TITLE]


def test_tile_question_answer_is_spoken_with_the_kiosk_aspects() -> None:
    controller, client, tts = make()
    controller.perform(Action("养老服务", "category", "yanglao"))
    screen, view = controller.ui.last
    assert screen == LIST and [a.argument for a in view.items] == [ENTRY.id]
    assert tts.texts[-1].startswith("养老服务")
    controller.perform(view.items[0])
    assert client.sent[-1] == (None, f"/topic {ENTRY.id}")
    screen, view = controller.ui.last
    assert screen == ANSWER and view.text == ENTRY.answer
    # Only the kiosk's four aspects, and only those the topic has: 网上能办吗 is not one of them.
    assert [a.label for a in view.aspects] == ["要带什么"]
    assert tts.last.text == ANSWER_REPLY.reply.speech and tts.last.rate == SpeechRate.NORMAL
    assert tts.stop_count >= 2  # the list's speech was cut when the answer appeared


def test_replay_and_slower_repeat_the_answer() -> None:
    controller, _, tts = make()
    controller.ask_topic(ENTRY.id)
    controller.replay()
    controller.replay(slow=True)
    assert [u.text for u in tts.spoken[-3:]] == [ANSWER_REPLY.reply.speech] * 3
    assert [u.rate for u in tts.spoken[-3:]] == [SpeechRate.NORMAL, SpeechRate.NORMAL, SpeechRate.SLOW]


def test_unknown_topic_id_falls_back_to_the_title() -> None:
    # A central server whose knowledge base lacks the id answers /topic with a fallback.
    def script(text: str):
        return ANSWER_REPLY if text == ENTRY.title else response("fallback", "不好意思，这个问题我还不会回答。")

    controller, client, _ = make(script)
    controller.ask_topic(ENTRY.id)
    assert [text for _, text in client.sent] == [f"/topic {ENTRY.id}", ENTRY.title]
    assert controller.ui.last[0] == ANSWER


def test_session_id_is_sent_back_on_the_next_turn() -> None:
    controller, client, _ = make()
    controller.ask_topic(ENTRY.id)
    controller.perform(Action("要带什么", "aspect", "materials"))
    assert client.sent[-1] == ("s-1", "/aspect materials")


def test_clarify_shows_numbered_choices() -> None:
    reply = response("clarify", "您想问的是哪一个？", buttons=[("1. 高龄津贴怎么申请", "/choose 1"),
                                                            ("2. 老年食堂", "/choose 2"), ("都不是", "/choose 0")])
    controller, client, _ = make(lambda text: reply if text == "补贴" else ANSWER_REPLY)
    controller.send("补贴")
    screen, view = controller.ui.last
    assert screen == CLARIFY and [c.argument for c in view.choices] == ["/choose 1", "/choose 2", "/choose 0"]
    controller.perform(view.choices[0])
    assert client.sent[-1][1] == "/choose 1" and controller.ui.last[0] == ANSWER


def test_assistant_down_says_so_and_offers_a_person() -> None:
    controller, _, tts = make(lambda text: AssistantUnavailableError("timeout"))
    controller.ask_topic(ENTRY.id)
    screen, view = controller.ui.last
    assert screen == NOTICE and view.text == AssistantUnavailableError.default_message_zh
    assert any(a.command == "human" for a in view.actions)
    assert "连不上" in tts.last.text
    assert not controller.busy


def test_a_bug_in_the_client_still_ends_in_a_sentence() -> None:
    controller, _, _ = make(lambda text: RuntimeError("boom"))
    controller.ask_topic(ENTRY.id)
    screen, view = controller.ui.last
    assert screen == NOTICE and view.text == texts.GENERIC_PROBLEM


def test_handoff_shows_and_prints_the_queue_number() -> None:
    printer = DummyReceiptPrinter()
    controller, _, tts = make(lambda text: response("handoff", "已转接", ticket="A007"), printer=printer)
    controller.call_staff()
    screen, view = controller.ui.last
    assert screen == HANDOFF and view.number == "A007" and view.can_print
    assert "诶零零七" in tts.last.text  # the number is read out, letter by letter
    controller.perform(Action("打印排队号", "print"))
    assert b"A007" in printer.output
    assert controller.ui.flashes[-1] == texts.PRINTED


STAFF_AWAY_REPLY = response("handoff", "现在工作人员不在线。您可以留下问题和联系电话，工作人员上班后会给您回电。",
                            buttons=[("不用了", "/cancel")])
CALLBACK_DONE = response("ticket", "已记下您的留言，工单号是GX20261128001。工作人员会尽快打138****5678给您回电。",
                         ticket="GX20261128001")


def test_staff_away_takes_a_callback_number_on_the_keypad() -> None:
    def script(text: str):
        if text == "/human":
            return STAFF_AWAY_REPLY
        return CALLBACK_DONE if text == "/callback 13812345678" else response("handoff", "号码好像不对")

    printer = DummyReceiptPrinter()
    controller, client, tts = make(script, printer=printer)
    controller.call_staff()
    screen, view = controller.ui.last
    assert screen == HANDOFF and view.number is None and view.can_callback
    controller.perform(Action("留电话", "callback"))
    assert controller.ui.last[0] == KEYPAD
    for key in "1381234":
        controller.keypad.press(key)
    controller.keypad.confirm()
    screen, view = controller.ui.last
    assert screen == KEYPAD and view.error == texts.KEYPAD_BAD_NUMBER
    assert not any(text.startswith("/callback") for _, text in client.sent)  # refused before asking
    for key in "5678":
        controller.keypad.press(key)
    controller.keypad.press("x")  # not a digit: ignored
    controller.keypad.confirm()
    assert client.sent[-1] == ("s-1", "/callback 13812345678")
    screen, view = controller.ui.last
    assert screen == NOTICE and "138****5678" in view.text and "13812345678" not in view.text
    assert not any("5678" in text or "五六七八" in text for text in tts.texts)  # never read aloud
    assert controller.keypad.digits == ""
    controller.perform(next(a for a in view.actions if a.command == "print"))
    assert b"GX20261128001" in printer.output and b"13812345678" not in printer.output


def test_a_number_the_assistant_refuses_stays_on_the_keypad() -> None:
    def script(text: str):
        return STAFF_AWAY_REPLY if text == "/human" else response("handoff", "这个号码好像不对。")

    controller, _, _ = make(script)
    controller.call_staff()
    controller.keypad.open()
    for key in "13812345678":
        controller.keypad.press(key)
    controller.keypad.confirm()
    screen, view = controller.ui.last
    assert screen == KEYPAD and view.error == texts.KEYPAD_BAD_NUMBER and view.digits == "13812345678"


def test_leaving_the_queue() -> None:
    def script(text: str):
        if text == "/human":
            return response("handoff", "已转接", ticket="A004", buttons=[("不用了", "/cancel")])
        return response("handoff", "好的，已取消排队。还有什么可以帮您？")

    controller, client, _ = make(script)
    controller.call_staff()
    view = controller.ui.last[1]
    assert view.can_cancel and view.number == "A004"
    controller.perform(Action("不用了，不排了", "payload", "/cancel"))
    screen, view = controller.ui.last
    assert client.sent[-1][1] == "/cancel" and screen == NOTICE and "已取消排队" in view.text


def test_printing_an_answer_puts_chinese_on_the_paper() -> None:
    printer = DummyReceiptPrinter()
    controller, _, _ = make(printer=printer)
    controller.ask_topic(ENTRY.id)
    controller.perform(Action("打印", "print"))
    assert "高龄津贴".encode("gb18030") in printer.output
    assert "户口簿".encode("gb18030") in printer.output  # the materials list of the topic


def test_printer_out_of_paper_is_said_in_plain_words() -> None:
    printer = DummyReceiptPrinter()
    printer.set_paper(PaperState.OUT)
    controller, _, tts = make(printer=printer)
    controller.ask_topic(ENTRY.id)
    controller.perform(Action("打印", "print"))
    screen, view = controller.ui.last
    assert screen == NOTICE and view.urgent and "没有纸" in view.text
    assert "没有纸" in tts.last.text
    assert printer.jobs == []
    controller.go_home()
    assert controller.ui.last[1].notice == texts.PRINTER_PROBLEM_NOTICE


def test_no_printer_means_no_print_button() -> None:
    controller, _, _ = make(printer=None)
    controller.ask_topic(ENTRY.id)
    assert controller.ui.last[1].can_print is False


def test_id_card_sign_in_greets_without_speaking_anything_personal() -> None:
    controller, _, tts = make(reader=FakeIdCardReader())
    record = parse_text_block(sample_text_block("resident"))
    controller.cards.on_event(CardEvent(CardEventKind.CARD_PLACED, "正在读卡，请不要移动身份证。"))
    assert controller.ui.last[1].state is CardState.READING
    controller.cards.on_event(CardEvent(CardEventKind.CARD_READ, "读卡成功。", record=record))
    screen, view = controller.ui.last
    assert screen == IDCARD and view.state is CardState.SIGNED_IN
    assert view.greeting.startswith(RESIDENT_FIELDS["name"][0]) and view.masked_name == "黄**"
    spoken = " ".join(tts.texts)
    assert RESIDENT_FIELDS["name"][0] not in spoken and "奶奶" not in spoken
    controller.go_home()
    assert controller.ui.last[1].greeting == view.greeting


def test_unplugged_reader_is_said_in_plain_words() -> None:
    controller, _, tts = make(reader=FakeIdCardReader())
    controller.cards.open()
    controller.cards.on_event(CardEvent(CardEventKind.READER_DISCONNECTED, "读卡器没有连接，请联系工作人员。"))
    screen, view = controller.ui.last
    assert screen == IDCARD and view.state is CardState.UNAVAILABLE and "读卡器没有连接" in tts.last.text
    controller.go_home()
    assert controller.ui.last[1].notice == texts.READER_PROBLEM_NOTICE


def test_idle_warning_then_continue_returns_to_the_same_screen() -> None:
    controller, _, tts = make()
    controller.ask_topic(ENTRY.id)
    controller.idle._clock.advance(61)  # type: ignore[attr-defined]
    controller.tick_idle()
    assert controller.ui.last[0] == IDLE and "您还在使用吗" in tts.last.text
    controller.touched()  # a touch on the warning screen is the buttons' business
    assert controller.idle.warning
    controller.continue_use()
    assert controller.ui.last[0] == ANSWER and not controller.idle.warning


def test_idle_timeout_forgets_everything() -> None:
    printer = DummyReceiptPrinter()
    controller, client, _ = make(printer=printer, reader=FakeIdCardReader())
    controller.ask_topic(ENTRY.id)
    record = parse_text_block(sample_text_block("resident"))
    controller.cards.on_event(CardEvent(CardEventKind.CARD_READ, "读卡成功。", record=record))
    controller.toggle_larger_text()
    clock = controller.idle._clock  # type: ignore[attr-defined]
    clock.advance(61)
    controller.tick_idle()
    clock.advance(21)
    controller.tick_idle()
    screen, view = controller.ui.last
    assert screen == HOME and view.greeting == ""
    assert controller.visitor is None and controller.session_id is None and controller.answer is None
    assert controller.ui.cleared == 1 and controller.ui.theme == ("normal", False)
    assert controller.speech.last_text == ""
    controller.replay()
    assert controller.ui.flashes[-1] == texts.NOTHING_TO_REPEAT
    controller.ask_topic(ENTRY.id)
    assert client.sent[-1][0] is None  # a new conversation for the next person


def test_an_answer_arriving_after_the_visit_ended_is_dropped() -> None:
    runner = DeferredRunner()
    controller, _, tts = make(runner=runner)
    runner.run_all()  # warm-up
    controller.ask_topic(ENTRY.id)
    runner.run_all()  # the catalog; the chat call is now queued
    controller.end_visit()
    spoken = len(tts.spoken)
    runner.run_all()
    assert controller.ui.last[0] == HOME and len(tts.spoken) == spoken


def test_double_taps_while_busy_send_one_question() -> None:
    runner = DeferredRunner()
    controller, client, _ = make(runner=runner)
    runner.run_all()
    controller.send("/topic senior-age-allowance")
    controller.send("/topic senior-age-allowance")
    runner.run_all()
    assert len(client.sent) == 1


def test_sign_out_forgets_the_card_holder_and_reminds_to_take_the_card() -> None:
    controller, _, tts = make(reader=FakeIdCardReader())
    record = parse_text_block(sample_text_block("resident"))
    controller.cards.on_event(CardEvent(CardEventKind.CARD_READ, "读卡成功。", record=record))
    controller.perform(Action("退出", "signout"))
    assert controller.visitor is None and controller.ui.last[0] == HOME
    assert tts.last.text.endswith("请记得取回您的身份证。")


def test_in_process_assistant_answers_a_tile(make_controller) -> None:
    controller = make_controller()
    controller.start()
    controller.idle.touch()
    controller.perform(Action("养老服务", "category", "yanglao"))
    screen, view = controller.ui.last
    assert screen == LIST and {a.argument for a in view.items} >= {"senior-age-allowance", "senior-preferential-card"}
    controller.perform(next(a for a in view.items if a.argument == "senior-age-allowance"))
    screen, view = controller.ui.last
    assert screen == ANSWER and view.topic_id == "senior-age-allowance" and "高龄津贴" in view.text
    assert [a.argument for a in view.aspects] == ["materials", "location"]
    controller.perform(view.aspects[0])
    screen, view = controller.ui.last
    assert screen == ANSWER and view.aspect == "materials" and "户口簿" in view.text
    controller.call_staff()
    screen, view = controller.ui.last
    assert screen == HANDOFF and view.number and view.number.startswith("A")


def test_long_categories_page_six_at_a_time_and_back_skips_pages() -> None:
    entries = [KbEntry(id=f"topic-{i}", category="yanglao", title=f"养老问题第{i}个", department="民政",
                       answer="回答内容在这里。") for i in range(8)]
    client = ScriptedClient(Catalog(entries, home_codes=("yanglao",)), lambda text: ANSWER_REPLY)
    controller, _, tts = make(client=client)
    controller.open_category("yanglao")
    first = controller.ui.last[1]
    assert (len(first.items), first.page, first.pages) == (6, 0, 2)
    spoken = len(tts.spoken)
    controller.perform(Action("", "page", "category:yanglao:1"))
    second = controller.ui.last[1]
    assert [a.argument for a in second.items] == ["topic-6", "topic-7"] and second.page == 1
    assert len(tts.spoken) == spoken  # turning a page is not announced again
    controller.perform(Action("", "page", "category:yanglao:9"))  # past the end: the last page
    assert controller.ui.last[1].page == 1
    controller.ask_topic("topic-7")
    controller.back()
    assert controller.ui.last[1].page == 1
    controller.back()
    assert controller.ui.last[0] == HOME


@pytest.mark.parametrize(("window_height", "per_page", "pages"), [(1080, 6, 2), (800, 4, 2), (600, 4, 2)])
def test_a_short_window_pages_four_at_a_time(window_height: int, per_page: int, pages: int) -> None:
    entries = [KbEntry(id=f"topic-{i}", category="yanglao", title=f"养老问题第{i}个", department="民政",
                       answer="回答内容在这里。") for i in range(8)]
    controller, _, _ = make(client=ScriptedClient(Catalog(entries, home_codes=("yanglao",)), lambda text: ANSWER_REPLY))
    controller.list_page_size = page_size_for(window_height)
    controller.open_category("yanglao")
    first = controller.ui.last[1]
    assert (len(first.items), first.pages) == (per_page, pages)
    controller.perform(Action("", "page", "category:yanglao:1"))
    assert [a.argument for a in controller.ui.last[1].items] == [f"topic-{i}" for i in range(per_page, 8)]


def test_a_card_read_is_not_lost_while_a_question_is_on_its_way() -> None:
    runner = DeferredRunner()
    controller, _, _ = make(runner=runner, reader=FakeIdCardReader())
    runner.run_all()
    controller.send("/topic senior-age-allowance")
    record = parse_text_block(sample_text_block("resident"))
    controller.cards.on_event(CardEvent(CardEventKind.CARD_READ, "读卡成功。", record=record))
    runner.run_all()
    assert controller.visitor is not None


def test_a_refilled_printer_prints_the_held_receipt_and_the_notice_goes() -> None:
    printer = DummyReceiptPrinter()
    printer.set_paper(PaperState.OUT)
    controller, _, _ = make(printer=printer)
    controller.ask_topic(ENTRY.id)
    controller.perform(Action("打印", "print"))
    controller.check_devices()
    assert controller.device_notice == texts.PRINTER_PROBLEM_NOTICE and printer.jobs == []
    printer.set_paper(PaperState.OK)
    controller.check_devices()
    assert controller.device_notice == "" and len(printer.jobs) == 1


def test_in_process_callback_out_of_hours_becomes_an_encrypted_work_order(
        kiosk_settings, kiosk_context, kiosk_engine) -> None:
    import datetime as dt

    from assistant.dialogue.engine import DialogueEngine
    from assistant.handoff.calendar import CHINA
    from assistant.handoff.live import HandoffService
    from assistant.storage.db import session_scope
    from assistant.storage.models import WorkOrder
    from kiosk_app.client import InProcessAssistantClient

    evening = HandoffService(kiosk_settings.model_copy(update={"office_hours": "08:00-18:00"}),
                             clock=lambda: dt.datetime(2026, 3, 10, 22, 0, tzinfo=CHINA))
    engine = DialogueEngine(kiosk_settings, kiosk_context.sessions, kiosk_context.kb, kiosk_engine.understanding,
                            kiosk_engine.cipher, kiosk_engine.thresholds, handoff=evening)
    client = InProcessAssistantClient(kiosk_settings, ("yanglao",), context=kiosk_context, engine=engine)
    controller, _, tts = make(client=client)
    controller.call_staff()
    screen, view = controller.ui.last
    assert screen == HANDOFF and view.can_callback and view.number is None
    controller.keypad.open()
    for key in "07715551234":
        controller.keypad.press(key)
    controller.keypad.confirm()
    screen, view = controller.ui.last
    assert screen == NOTICE and controller.work_order is not None, view
    number = controller.work_order[0]
    with session_scope(kiosk_context.sessions) as db:
        order = db.query(WorkOrder).filter_by(number=number).one()
        assert order.channel == "kiosk" and order.contact_masked.endswith("1234")
        assert order.contact_encrypted and "5551234" not in str(order.contact_encrypted)
    assert "5551234" not in view.text and not any("1234" in t or "幺二三四" in t for t in tts.texts)
