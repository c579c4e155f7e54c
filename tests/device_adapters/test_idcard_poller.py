"""Poll-loop logic against the in-memory fake reader: events, debounce, retries, reconnects, the thread."""

from __future__ import annotations

import threading

import pytest

from device_adapters.errors import (
    CardReadError,
    ChecksumError,
    ReaderConnectionError,
    ReaderTimeoutError,
    SamFaultError,
)
from device_adapters.idcard.framing import Sw3
from device_adapters.idcard.poller import REMOVED_MID_READ_ZH, CardEvent, CardEventKind, CardPoller
from device_adapters.idcard.reader import FakeIdCardReader
from device_adapters.idcard.samples import sample_text_block

K = CardEventKind


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def kinds(events: list[CardEvent]) -> list[CardEventKind]:
    return [event.kind for event in events]


@pytest.fixture
def reader() -> FakeIdCardReader:
    return FakeIdCardReader()


def test_placed_read_removed(reader: FakeIdCardReader) -> None:
    poller = CardPoller(reader, absent_polls=2)
    assert kinds(poller.poll_once()) == [K.READER_CONNECTED]
    reader.place_card(sample_text_block("resident"))
    events = poller.poll_once()
    assert kinds(events) == [K.CARD_PLACED, K.CARD_READ]
    assert events[1].record is not None and events[1].record.name == "黄桂兰"
    assert poller.card_present
    assert poller.poll_once() == []  # the card lies there: read once only
    reader.remove_card()
    assert poller.poll_once() == []  # one "no card" may be a flicker
    assert kinds(poller.poll_once()) == [K.CARD_REMOVED]
    assert not poller.card_present


def test_every_event_has_words_to_show_and_speak(reader: FakeIdCardReader) -> None:
    poller = CardPoller(reader, absent_polls=1)
    reader.place_card(sample_text_block("hmt"))
    events = poller.poll_once()
    reader.remove_card()
    events += poller.poll_once()
    assert kinds(events) == [K.READER_CONNECTED, K.CARD_PLACED, K.CARD_READ, K.CARD_REMOVED]
    assert all(event.message_zh for event in events)


def test_a_flickering_card_is_not_reported_removed(reader: FakeIdCardReader) -> None:
    poller = CardPoller(reader, absent_polls=2)
    reader.place_card(sample_text_block("resident"))
    poller.poll_once()
    reader.remove_card()
    poller.poll_once()
    reader.place_card(sample_text_block("resident"))
    assert poller.poll_once() == []


def test_a_failed_read_is_retried_within_the_same_poll(reader: FakeIdCardReader) -> None:
    poller = CardPoller(reader, read_attempts=3)
    poller.poll_once()
    reader.place_card(sample_text_block("resident"))
    reader.fail_next(ReaderTimeoutError("slow"), "find_card")
    assert poller.poll_once() == []  # a single silent poll is noise
    reader.fail_next(ChecksumError("bad"), "select_card")
    reader.fail_next(CardReadError(Sw3.READ_FAILED), "read_card")
    assert kinds(poller.poll_once()) == [K.CARD_PLACED, K.CARD_READ]
    assert reader.calls.count("read_card") == 2


def test_read_failing_every_attempt_is_reported_once(reader: FakeIdCardReader) -> None:
    poller = CardPoller(reader, read_attempts=2)
    poller.poll_once()
    reader.place_card(sample_text_block("resident"))
    for _ in range(2):
        reader.fail_next(CardReadError(Sw3.WRONG_CARD, message_zh="这张卡不是身份证"), "read_card")
    events = poller.poll_once()
    assert kinds(events) == [K.CARD_PLACED, K.READ_FAILED]
    assert isinstance(events[1].error, CardReadError)
    assert poller.poll_once() == []  # not retried until the card is taken away and placed again


def test_card_lifted_during_the_read(reader: FakeIdCardReader) -> None:
    poller = CardPoller(reader, absent_polls=1)
    poller.poll_once()
    reader.place_card(sample_text_block("resident"))
    original_select = reader.select_card

    def select_then_lift() -> bool:
        selected = original_select()
        reader.remove_card()
        reader.fail_next(ReaderTimeoutError("half a frame"), "read_card")
        return selected

    reader.select_card = select_then_lift  # type: ignore[method-assign]
    events = poller.poll_once()
    assert kinds(events) == [K.CARD_PLACED, K.READ_FAILED]
    assert events[1].message_zh == REMOVED_MID_READ_ZH
    reader.select_card = original_select  # type: ignore[method-assign]
    assert kinds(poller.poll_once()) == [K.CARD_REMOVED]


def test_unplugged_reader_reports_once_and_reconnects_later(reader: FakeIdCardReader) -> None:
    clock = Clock()
    poller = CardPoller(reader, reconnect_interval=2.0, clock=clock)
    reader.place_card(sample_text_block("resident"))
    assert K.CARD_READ in kinds(poller.poll_once())
    reader.unplug()
    events = poller.poll_once()
    assert kinds(events) == [K.READER_DISCONNECTED, K.CARD_REMOVED]
    assert events[0].message_zh == "读卡器没有连接，请联系工作人员。"
    assert isinstance(events[0].error, ReaderConnectionError)
    assert poller.reader_connected is False and not poller.card_present
    assert poller.poll_once() == []  # nothing new to report while it stays unplugged
    reader.plug()
    assert poller.poll_once() == []  # waits for the reconnect interval
    clock.now = 2.5
    assert kinds(poller.poll_once()) == [K.READER_CONNECTED, K.CARD_PLACED, K.CARD_READ]


def test_a_reader_that_stops_answering_counts_as_gone(reader: FakeIdCardReader) -> None:
    poller = CardPoller(reader, silent_polls=3)
    poller.poll_once()
    for _ in range(2):
        reader.fail_next(ReaderTimeoutError("silence"))
        assert poller.poll_once() == []
    reader.fail_next(ReaderTimeoutError("silence"))
    events = poller.poll_once()
    assert kinds(events) == [K.READER_DISCONNECTED]
    assert events[0].message_zh == "读卡器没有响应，请联系工作人员。"


def test_a_faulty_sam_at_start_is_reported() -> None:
    reader = FakeIdCardReader()
    reader.fail_next(SamFaultError(0x60))
    events = CardPoller(reader).poll_once()
    assert kinds(events) == [K.READER_DISCONNECTED]
    assert events[0].message_zh == "读卡器故障，请联系工作人员。"


def test_bad_settings_are_refused(reader: FakeIdCardReader) -> None:
    with pytest.raises(ValueError):
        CardPoller(reader, read_attempts=0)


def test_background_thread_delivers_events_and_survives_a_broken_callback(reader: FakeIdCardReader) -> None:
    poller = CardPoller(reader, interval=0.01)
    seen: list[CardEventKind] = []
    read = threading.Event()

    def on_event(event: CardEvent) -> None:
        seen.append(event.kind)
        if event.kind is K.CARD_READ:
            read.set()
        if event.kind is K.READER_CONNECTED:
            raise RuntimeError("a bug in the kiosk")

    reader.place_card(sample_text_block("foreign-2023"))
    poller.start(on_event)
    with pytest.raises(RuntimeError):
        poller.start(on_event)
    assert read.wait(2.0)
    poller.stop()
    assert seen[:1] == [K.READER_CONNECTED] and K.CARD_READ in seen


def test_events_iterator_stops_after_its_timeout(reader: FakeIdCardReader) -> None:
    poller = CardPoller(reader, interval=0.01)
    events = list(poller.events(timeout=0.05))
    assert kinds(events) == [K.READER_CONNECTED]
