"""The real driver and poll loop against the simulated reader on a pseudo-terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import pytest
import serial

from device_adapters.errors import ReaderConnectionError, ReaderTimeoutError
from device_adapters.idcard import framing
from device_adapters.idcard.codes import CardType
from device_adapters.idcard.poller import REMOVED_MID_READ_ZH, CardEvent, CardEventKind, CardPoller
from device_adapters.idcard.reader import SamSerialReader
from device_adapters.idcard.simulator import SamSimulator, Scenario

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX only")
K = CardEventKind
MakeSim = Callable[..., SamSimulator]
MakeReader = Callable[..., SamSerialReader]


def poll(poller: CardPoller, times: int) -> list[CardEvent]:
    events: list[CardEvent] = []
    for _ in range(times):
        events += poller.poll_once()
    return events


def kinds(events: list[CardEvent]) -> list[CardEventKind]:
    return [event.kind for event in events]


def test_the_simulator_answers_like_a_reader_on_a_serial_port(make_simulator: MakeSim) -> None:
    sim = make_simulator()
    with serial.Serial(sim.port, 115200, timeout=0.5) as port:
        port.write(framing.build_request(framing.FIND_CARD))
        answer = port.read(15)
    assert answer == bytes.fromhex("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97")
    assert sim.requests == [framing.FIND_CARD]


def test_a_request_with_a_bad_checksum_gets_status_10(make_simulator: MakeSim) -> None:
    sim = make_simulator()
    bad = framing.build_request(framing.FIND_CARD)[:-1] + b"\x00"
    with serial.Serial(sim.port, 115200, timeout=0.5) as port:
        port.write(bad)
        answer = framing.decode_response(port.read(11))
    assert answer.sw3 == framing.Sw3.CHECKSUM_ERROR


@pytest.mark.parametrize(
    ("card", "card_type"),
    [
        ("resident", CardType.RESIDENT),
        ("hmt", CardType.HMT_RESIDENCE_PERMIT),
        ("foreign-2017", CardType.FOREIGN_PERMANENT_2017),
        ("foreign-2023", CardType.FOREIGN_PERMANENT_2023),
    ],
)
def test_card_placed_read_and_removed(
    make_simulator: MakeSim, make_reader: MakeReader, card: str, card_type: CardType
) -> None:
    sim = make_simulator(card=card)
    poller = CardPoller(make_reader(sim.port), absent_polls=2)
    events = poll(poller, 2)
    assert kinds(events) == [K.READER_CONNECTED, K.CARD_PLACED, K.CARD_READ]
    record = events[-1].record
    assert record is not None and record.card_type is card_type
    assert len(record.photo) == 1024
    sim.remove_card()
    assert kinds(poll(poller, 2)) == [K.CARD_REMOVED]


def test_card_types_come_through_intact(make_simulator: MakeSim, make_reader: MakeReader) -> None:
    sim = make_simulator(card="foreign-2023")
    record = poll(CardPoller(make_reader(sim.port)), 1)[-1].record
    assert record is not None and record.card_type is CardType.FOREIGN_PERMANENT_2023
    assert record.english_name == "IVANOVA, ANNA SERGEEVNA MIKHAILOVSKAYA"


def test_no_card(make_simulator: MakeSim, make_reader: MakeReader) -> None:
    sim = make_simulator(scenario=Scenario.NO_CARD)
    assert kinds(poll(CardPoller(make_reader(sim.port)), 3)) == [K.READER_CONNECTED]


def test_a_card_placed_later(make_simulator: MakeSim, make_reader: MakeReader) -> None:
    sim = make_simulator(place_after=0.3)
    poller = CardPoller(make_reader(sim.port))
    assert kinds(poller.poll_once()) == [K.READER_CONNECTED]
    time.sleep(0.35)
    assert kinds(poller.poll_once()) == [K.CARD_PLACED, K.CARD_READ]


def test_a_card_already_read_by_someone_else_is_found_by_select(
    make_simulator: MakeSim, make_reader: MakeReader
) -> None:
    # The first poller reads the card; the reader then answers 寻卡 with "no card" while it lies there.
    sim = make_simulator(halt_after_read=True)
    first = make_reader(sim.port)
    assert K.CARD_READ in kinds(poll(CardPoller(first), 1))
    assert first.find_card() is False
    first.close()
    second = CardPoller(make_reader(sim.port))
    assert kinds(poll(second, 1)) == [K.READER_CONNECTED, K.CARD_PLACED, K.CARD_READ]


def test_card_removed_mid_read(make_simulator: MakeSim, make_reader: MakeReader) -> None:
    sim = make_simulator(scenario=Scenario.REMOVED_MID_READ)
    poller = CardPoller(make_reader(sim.port, read_timeout=0.3), absent_polls=1)
    events = poll(poller, 1)
    assert kinds(events) == [K.READER_CONNECTED, K.CARD_PLACED, K.READ_FAILED]
    assert events[-1].message_zh == REMOVED_MID_READ_ZH
    assert kinds(poll(poller, 1)) == [K.CARD_REMOVED]
    # Placed again, the kiosk gets a fresh attempt (in this scenario it is lifted again).
    sim.place_card()
    assert kinds(poll(poller, 1)) == [K.CARD_PLACED, K.READ_FAILED]


def test_garbage_on_the_line_is_skipped(make_simulator: MakeSim, make_reader: MakeReader) -> None:
    sim = make_simulator(scenario=Scenario.GARBAGE, seed=7)
    events = poll(CardPoller(make_reader(sim.port)), 1)
    assert kinds(events) == [K.READER_CONNECTED, K.CARD_PLACED, K.CARD_READ]
    assert events[-1].record is not None and events[-1].record.name == "黄桂兰"


def test_checksum_errors_are_retried(make_simulator: MakeSim, make_reader: MakeReader) -> None:
    sim = make_simulator(scenario=Scenario.CHECKSUM_ERRORS, corrupt_every=2)
    events = poll(CardPoller(make_reader(sim.port, retries=1)), 1)
    assert kinds(events) == [K.READER_CONNECTED, K.CARD_PLACED, K.CARD_READ]
    # Every command was sent twice: once answered with a bad checksum, once good.
    assert sim.requests[:2] == [framing.SAM_STATUS, framing.SAM_STATUS]


def test_checksum_errors_without_retries_end_in_a_clear_failure(
    make_simulator: MakeSim, make_reader: MakeReader
) -> None:
    sim = make_simulator(scenario=Scenario.CHECKSUM_ERRORS, corrupt_every=1)
    events = poll(CardPoller(make_reader(sim.port, retries=0)), 1)
    assert kinds(events) == [K.READER_DISCONNECTED]
    assert events[0].message_zh


def test_slow_answers_within_the_timeout(make_simulator: MakeSim, make_reader: MakeReader) -> None:
    sim = make_simulator(scenario=Scenario.SLOW, delay=0.05)
    events = poll(CardPoller(make_reader(sim.port, timeout=0.5, read_timeout=1.0)), 1)
    assert kinds(events) == [K.READER_CONNECTED, K.CARD_PLACED, K.CARD_READ]


def test_answers_slower_than_the_timeout(make_simulator: MakeSim, make_reader: MakeReader) -> None:
    sim = make_simulator(scenario=Scenario.SLOW, delay=0.3)
    reader = make_reader(sim.port, timeout=0.1)
    with pytest.raises(ReaderTimeoutError):
        reader.find_card()
    events = poll(CardPoller(reader, silent_polls=2), 1)
    assert kinds(events) == [K.READER_DISCONNECTED]
    assert events[0].message_zh == "读卡器没有响应，请稍后再试。"


def test_unplugging_the_reader_mid_session(make_simulator: MakeSim, make_reader: MakeReader) -> None:
    sim = make_simulator()
    reader = make_reader(sim.port)
    poller = CardPoller(reader)
    assert K.CARD_READ in kinds(poll(poller, 1))
    sim.unplug()
    events = poll(poller, 1)
    assert kinds(events)[0] is K.READER_DISCONNECTED
    assert K.CARD_REMOVED in kinds(events)
    assert not reader.is_open


def test_opening_a_port_that_is_not_there(make_reader: MakeReader) -> None:
    reader = make_reader("/dev/does-not-exist-shequ")
    with pytest.raises(ReaderConnectionError):
        reader.open()
