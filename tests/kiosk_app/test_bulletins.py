"""Notices and warnings on the kiosk without a display: the board, the poller (ETag, 304, backoff, change
detection), the clients, announcing (twice, then every repeat), the banner, age ordering, idle, printing."""

from __future__ import annotations

import copy
import datetime as dt
import logging
from typing import Any

import httpx
import pytest
from kiosk_testkit import FakeClock, RecordingUi, ScriptedClient, response

from accessibility import FakeTtsEngine
from accessibility.contrast import AAA_TEXT, contrast_ratio
from device_adapters.idcard import CardEvent, CardEventKind
from device_adapters.idcard.record import parse_text_block
from device_adapters.idcard.samples import sample_text_block
from device_adapters.printer import DummyReceiptPrinter
from kiosk_app import texts
from kiosk_app.bulletins import (
    DEFAULT_COLORS,
    MAX_BACKOFF_SECONDS,
    Board,
    BulletinFetch,
    BulletinPoller,
    NoticeItem,
    order_for_age,
    parse_board,
)
from kiosk_app.catalog import Catalog
from kiosk_app.client import HttpAssistantClient, InProcessAssistantClient
from kiosk_app.config import KioskConfig
from kiosk_app.controller import KioskController
from kiosk_app.devices import KioskDevices
from kiosk_app.errors import AssistantUnavailableError
from kiosk_app.samples import SAMPLE_NOTICES, SAMPLE_WARNINGS, sample_bulletins
from kiosk_app.speech import KioskSpeech
from kiosk_app.views import BULLETIN, HOME, LIST, LISTEN, WARNING, Action, ListenView
from knowledge_base.models import KbEntry

NOW = dt.datetime(2026, 12, 4, 13, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 4)
CATALOG = Catalog([KbEntry(id="senior-age-allowance", category="yanglao", title="高龄津贴怎么申请", department="民政",
                           answer="年满80周岁的本地户籍老人可以申请高龄津贴。")], home_codes=("yanglao",))


class WarningUi(RecordingUi):
    def __init__(self) -> None:
        super().__init__()
        self.banners: list[Any] = []

    def set_warning(self, view: Any) -> None:
        self.banners.append(view)


def make(printer: Any = None) -> tuple[KioskController, FakeTtsEngine, FakeClock]:
    tts, clock = FakeTtsEngine(), FakeClock()
    config = KioskConfig(home_categories=("yanglao",), idle_seconds=60, idle_warning_seconds=20, tts="fake")
    controller = KioskController(config, ScriptedClient(CATALOG, lambda _text: response()), KioskSpeech(tts),
                                 KioskDevices(printer=printer), WarningUi(), clock=clock, today=lambda: TODAY)
    controller.bulletins.wall_clock = lambda: NOW
    controller.start()
    return controller, tts, clock


def board(*levels: str, notices: bool = True, **changes: Any) -> Board:
    body = sample_bulletins(levels, notices=notices)
    for warning in body["warnings"]:  # type: ignore[union-attr]
        warning.update(changes)
    return parse_board(body)


def sign_in(controller: KioskController) -> None:
    record = parse_text_block(sample_text_block("resident"))  # born 1952: 74 on TODAY
    controller.cards.on_event(CardEvent(CardEventKind.CARD_READ, "读卡成功。", record=record))


# --- the board ---

def test_the_board_is_read_most_severe_first_and_bad_items_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    body = sample_bulletins(("blue", "red", "yellow"))
    body["warnings"].append({"id": "x", "level": "purple"})  # type: ignore[union-attr]
    body["notices"].append({"title": ""})  # type: ignore[union-attr]
    with caplog.at_level(logging.WARNING):
        parsed = parse_board(body)
    assert [w.level for w in parsed.warnings] == ["red", "yellow", "blue"]
    assert len(parsed.notices) == len(SAMPLE_NOTICES)
    assert "1 warnings" in caplog.text and "1 notices" in caplog.text
    with pytest.raises(ValueError):
        parse_board(["not", "a", "board"])


def test_banner_colours_below_seven_to_one_are_replaced_by_the_kiosk_s_own() -> None:
    body = sample_bulletins(("orange",))
    body["warnings"][0]["colors"] = {"background": "#F08000", "text": "#FFFFFF"}  # type: ignore[index]
    warning = parse_board(body).warnings[0]
    assert (warning.background, warning.text_color) == DEFAULT_COLORS["orange"]
    for background, text in DEFAULT_COLORS.values():
        assert contrast_ratio(text, background) >= AAA_TEXT
    for level, sample in SAMPLE_WARNINGS.items():  # the samples' (the server's) colours are kept as sent
        colors = sample["colors"]
        assert contrast_ratio(colors["text"], colors["background"]) >= AAA_TEXT, level  # type: ignore[index]


def test_notices_for_the_card_holder_s_age_come_first() -> None:
    notices = [NoticeItem(1, "全体"), NoticeItem(2, "儿童", min_age=3, max_age=14),
               NoticeItem(3, "六十岁以上", min_age=60), NoticeItem(4, "八十岁以上", min_age=80)]
    assert [n.id for n in order_for_age(notices, None)] == [1, 2, 3, 4]
    assert [n.id for n in order_for_age(notices, 74)] == [3, 1, 2, 4]
    assert [n.id for n in order_for_age(notices, 8)] == [2, 1, 3, 4]
    assert [n.id for n in order_for_age(notices, 85)] == [3, 4, 1, 2]


# --- the poller ---

class FakeSource:
    def __init__(self) -> None:
        self.body: Any = sample_bulletins(("orange",))
        self.etags: list[str | None] = []
        self.fail = False

    def __call__(self, etag: str | None) -> BulletinFetch:
        self.etags.append(etag)
        if self.fail:
            raise AssistantUnavailableError("server unreachable: ConnectError")
        if etag is not None and etag == f'"{self.body["revision"]}"':
            return BulletinFetch(etag=etag, not_modified=True)
        return BulletinFetch(copy.deepcopy(self.body), f'"{self.body["revision"]}"')


def test_the_poller_sends_the_etag_back_and_a_304_changes_nothing() -> None:
    source, got = FakeSource(), []
    poller = BulletinPoller(source, got.append)
    assert poller.poll_once() is not None
    assert poller.poll_once() is None  # 304
    assert source.etags == [None, '"sample-orange-1"']
    assert len(got) == 1 and got[0].warnings[0].level == "orange"
    source.body = sample_bulletins(("orange", "red"))
    assert poller.poll_once() is not None
    assert [w.level for w in got[-1].warnings] == ["red", "orange"]


def test_the_poller_only_reports_a_changed_revision() -> None:
    source, got = FakeSource(), []
    poller = BulletinPoller(lambda _etag: BulletinFetch(copy.deepcopy(source.body), None), got.append)
    poller.poll_once()
    poller.poll_once()  # a server without ETags: the same revision is no change
    assert len(got) == 1


def test_failures_back_off_are_logged_without_content_and_the_next_success_resets(
        caplog: pytest.LogCaptureFixture) -> None:
    source, got = FakeSource(), []
    poller = BulletinPoller(source, got.append, interval=2.0)
    source.fail = True
    with caplog.at_level(logging.WARNING):
        delays = []
        for _ in range(6):
            poller.poll_once()
            delays.append(poller.next_delay())
    assert delays == [4.0, 8.0, 16.0, MAX_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS]
    assert "AssistantUnavailableError" in caplog.text and "暴雨" not in caplog.text
    source.fail = False
    assert poller.poll_once() is not None and poller.next_delay() == 2.0
    source.body = {"warnings": "not a list"}
    assert poller.poll_once() is None and poller.failures == 1  # unreadable: a failure, the last board stays


def test_the_poller_thread_delivers_and_stops() -> None:
    import threading

    source, arrived = FakeSource(), threading.Event()
    poller = BulletinPoller(source, lambda _board: arrived.set(), interval=1.0)
    poller.start()
    try:
        assert arrived.wait(5)
    finally:
        poller.stop()
    assert poller._thread is None


# --- the clients ---

def test_http_client_asks_with_the_token_and_if_none_match(kiosk_settings: Any) -> None:
    seen: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("If-None-Match") == '"r1"':
            return httpx.Response(304)
        if request.url.path == "/api/v1/kiosk/bulletins":
            return httpx.Response(200, json=sample_bulletins(revision="r1"), headers={"ETag": '"r1"'})
        return httpx.Response(500)

    client = HttpAssistantClient("http://server.test", kiosk_settings, transport=httpx.MockTransport(server),
                                 kiosk_token="kq_token")
    first = client.bulletins(None)
    assert first.etag == '"r1"' and first.body["revision"] == "r1"
    assert seen[0].headers["Authorization"] == "Bearer kq_token"
    assert client.bulletins('"r1"').not_modified
    public = HttpAssistantClient("http://server.test", kiosk_settings, transport=httpx.MockTransport(server))
    public.use_community("qingxiu")
    with pytest.raises(AssistantUnavailableError):
        public.bulletins(None)
    assert seen[-1].url.path == "/api/v1/bulletins" and seen[-1].url.params["community"] == "qingxiu"
    assert "Authorization" not in seen[-1].headers


def test_in_process_client_reads_the_context_s_board(kiosk_settings: Any) -> None:
    class Board_:
        def __init__(self) -> None:
            self.asked: list[str | None] = []

        def for_community(self, code: str | None) -> dict[str, Any]:
            self.asked.append(code)
            return sample_bulletins(revision="r9")

    class Context:
        bulletins = Board_()

    client = InProcessAssistantClient(kiosk_settings, context=Context(), engine=object())  # type: ignore[arg-type]
    client.use_community("qingxiu")
    assert client.bulletins(None).body["revision"] == "r9"
    assert client.bulletins("r9").not_modified
    assert Context.bulletins.asked == ["qingxiu", "qingxiu"]


# --- warnings on the kiosk ---

def test_a_warning_is_said_twice_on_arrival_then_once_every_repeat() -> None:
    controller, tts, clock = make()
    controller.bulletins.update(board("orange", repeat_seconds=600))
    speech = SAMPLE_WARNINGS["orange"]["speech"]
    warned = [u.text for u in tts.spoken if "暴雨橙色预警" in u.text]
    assert len(warned) == 1 and warned[0].count("南宁市气象台发布暴雨橙色预警") == 2 and texts.WARNING_AGAIN in warned[0]
    said = len(tts.spoken)
    clock.advance(599)
    controller.bulletins.tick()
    assert len(tts.spoken) == said
    clock.advance(1)
    controller.bulletins.tick()
    assert len(tts.spoken) == said + 1 and tts.last.text.count("暴雨橙色预警") == 1
    assert str(speech)[:10] in tts.last.text
    controller.bulletins.update(board("orange", repeat_seconds=600, revision="x"))  # same warning: not again
    assert len(tts.spoken) == said + 1


def test_a_changed_level_is_news_and_said_twice_again() -> None:
    controller, tts, _ = make()
    controller.bulletins.update(board("orange"))
    body = sample_bulletins(("orange",))
    body["warnings"][0]["level"] = "red"  # type: ignore[index]
    body["revision"] = "raised"
    controller.bulletins.update(parse_board(body))
    assert tts.last.text.count("南宁市气象台发布暴雨橙色预警") == 2  # the text is the server's; said twice anew


def test_the_banner_shows_the_most_severe_with_a_count_and_ends_at_expiry() -> None:
    controller, _, _ = make()
    ui: WarningUi = controller.ui  # type: ignore[assignment]
    controller.bulletins.update(board("blue", "red", "yellow"))
    banner = ui.banners[-1]
    assert banner.warning_id == SAMPLE_WARNINGS["red"]["id"] and banner.background == "#A50000"
    assert banner.more == texts.WARNING_MORE.format(count=2) and "有效至" in banner.text
    expires = dt.datetime.fromisoformat(str(SAMPLE_WARNINGS["red"]["expires"]))
    controller.bulletins.wall_clock = lambda: expires  # red ends; the server is not asked
    controller.bulletins.tick()
    assert ui.banners[-1] is None  # every sample expires at the same moment
    controller.bulletins.update(board(notices=True))
    assert ui.banners[-1] is None


def test_a_warning_waits_while_the_resident_speaks_into_the_microphone() -> None:
    controller, tts, _ = make()
    controller.current = (LISTEN, ListenView())
    controller.bulletins.update(board("red"))
    assert not any("台风" in u.text for u in tts.spoken)
    controller.current = (HOME, controller.home_view())
    controller.bulletins.tick()
    assert tts.last.text.count("台风红色预警") == 2


def test_tapping_the_banner_opens_the_warning_with_read_aloud_and_print() -> None:
    printer = DummyReceiptPrinter()
    controller, tts, _ = make(printer=printer)
    controller.bulletins.update(board("red"))
    controller.perform(Action("", "warning", str(SAMPLE_WARNINGS["red"]["id"])))
    screen, view = controller.ui.last
    assert screen == WARNING and view.title == "台风红色预警" and view.background == "#A50000"
    assert (texts.WARNING_ASSEMBLY, "社区服务中心二楼大厅") in view.lines
    assert (texts.WARNING_EXPIRES, "12月5日 08:00") in view.lines
    controller.perform(Action(texts.READ_ALOUD_BUTTON, "replay"))
    assert "台风红色预警" in tts.last.text
    controller.perform(Action(texts.PRINT_BUTTON, "print"))
    assert "台风红色预警".encode("gb18030") in printer.output
    assert "集合地点".encode("gb18030") in printer.output  # (long lines are wrapped to the paper's width)


# --- notices on the kiosk ---

def test_the_home_banner_is_read_once_per_notice_not_at_every_visit() -> None:
    controller, tts, _ = make()
    controller.bulletins.update(board())
    assert controller.ui.last[1].bulletin == "12月5日上午停水"
    reads = [u.text for u in tts.spoken if "社区通知" in u.text]
    assert len(reads) == 1 and "停水" in reads[0]
    controller.go_home()
    controller.end_visit()
    controller.go_home()
    assert len([u for u in tts.spoken if "社区通知" in u.text]) == 1
    body = sample_bulletins()
    body["notices"].insert(0, dict(body["notices"][0], id=99, title="明天停电"))  # type: ignore[union-attr]
    body["revision"] = "new-notice"
    controller.bulletins.update(parse_board(body))
    assert "明天停电" in [u.text for u in tts.spoken if "社区通知" in u.text][-1]


def test_the_notices_page_pages_six_at_a_time_and_opens_a_notice() -> None:
    printer = DummyReceiptPrinter()
    controller, tts, _ = make(printer=printer)
    controller.bulletins.update(board())
    controller.perform(Action(texts.NOTICES_TITLE, "notices"))
    screen, view = controller.ui.last
    assert screen == LIST and view.kind == "notices" and len(view.items) == 6 and view.pages == 2
    assert view.items[0].hint == "12月5日 08:00 至 12:00 · 全体居民"
    controller.perform(Action(texts.NEXT_PAGE, "page", "notices::1"))
    assert len(controller.ui.last[1].items) == 1 and controller.ui.last[1].page == 1
    controller.perform(view.items[0])
    screen, shown = controller.ui.last
    assert screen == BULLETIN and shown.title == "12月5日上午停水"
    assert "停水" in tts.last.text
    controller.perform(Action(texts.PRINT_BUTTON, "print"))
    assert "12月5日上午停水".encode("gb18030") in printer.output
    assert "更换水管".encode("gb18030") in printer.output
    controller.perform(Action(texts.BACK, "back"))
    assert controller.ui.last[0] == LIST


def test_a_card_holder_sees_their_age_group_first_and_idle_forgets_it() -> None:
    controller, _, clock = make()
    controller.bulletins.update(board())
    sign_in(controller)
    controller.perform(Action(texts.NOTICES_TITLE, "notices"))
    titles = [a.label for a in controller.ui.last[1].items]
    assert titles[0] == "60岁以上老人免费接种流感疫苗"  # 74 years old: in the 60+ group, not the 80+ one
    assert titles.index("高龄津贴年度认证开始") > titles.index("12月5日上午停水")
    assert controller.bulletins.home_notice() == "60岁以上老人免费接种流感疫苗"
    controller.idle.touch()
    clock.advance(60)
    controller.tick_idle()  # the warning
    clock.advance(21)
    controller.tick_idle()  # the visit ends
    assert controller.visitor is None
    controller.perform(Action(texts.NOTICES_TITLE, "notices"))
    assert controller.ui.last[1].items[0].label == "12月5日上午停水"
    assert controller.bulletins.home_notice() == "12月5日上午停水"


def test_a_notice_gone_meanwhile_says_so() -> None:
    controller, _, _ = make()
    controller.bulletins.update(board())
    controller.bulletins.update(board(notices=False))
    controller.perform(Action("旧通知", "bulletin", "7"))
    assert controller.ui.last[1].text == texts.NO_NOTICES
    controller.perform(Action(texts.NOTICES_TITLE, "notices"))
    assert controller.ui.last[1].prompt == texts.NO_NOTICES and controller.ui.last[1].items == ()


def test_the_in_process_board_of_the_assistant_reads_on_the_kiosk(in_process_client: InProcessAssistantClient) -> None:
    fetched = in_process_client.bulletins(None)  # the real read model (assistant/bulletins/board.py)
    parsed = parse_board(fetched.body)
    assert fetched.etag == parsed.revision and parsed.poll_seconds > 0
    assert in_process_client.bulletins(fetched.etag).not_modified


def test_the_assistant_s_all_notices_button_opens_the_kiosk_s_own_list() -> None:
    """「全部通知」 under a spoken answer about notices opens the 社区通知 page instead of asking the server again."""
    from assistant.dialogue import payloads

    controller, _tts, _ = make()
    controller.bulletins.update(board())
    controller.perform(Action("全部通知", "payload", payloads.NOTICES))
    screen, view = controller.ui.last
    assert screen == LIST and view.kind == "notices"
