"""The serial driver over a scripted in-memory port: timeouts, resync, retries, unplugged cables."""

from __future__ import annotations

import termios

import pytest
import serial

from device_adapters.errors import (
    CardReadError,
    ChecksumError,
    DeviceConfigError,
    ReaderConnectionError,
    ReaderTimeoutError,
    SamFaultError,
)
from device_adapters.idcard import framing
from device_adapters.idcard.framing import Sw3, build_response
from device_adapters.idcard.reader import (
    READERS,
    FakeIdCardReader,
    SamSerialReader,
    SamTransport,
    create_reader,
)
from device_adapters.idcard.samples import sample_photo, sample_text_block

FOUND = build_response(Sw3.CARD_FOUND, bytes(4))


class ScriptedPort:
    """Answers each written request with the next scripted reply (bytes, or an exception to raise)."""

    def __init__(self, replies: list[bytes | BaseException], *, chunk: int = 7) -> None:
        self.replies = list(replies)
        self.written: list[bytes] = []
        self.pending = b""
        self.chunk = chunk
        self.closed = False

    @property
    def in_waiting(self) -> int:
        return min(len(self.pending), self.chunk)

    def write(self, data: bytes) -> int:
        self.written.append(data)
        reply = self.replies.pop(0) if self.replies else b""
        if isinstance(reply, BaseException):
            raise reply
        self.pending += reply
        return len(data)

    def read(self, size: int = 1) -> bytes:
        data, self.pending = self.pending[:size], self.pending[size:]
        return data

    def reset_input_buffer(self) -> None:
        self.pending = b""

    def close(self) -> None:
        self.closed = True


def reader_with(
    replies: list[bytes | BaseException], **options: object
) -> tuple[SamSerialReader, ScriptedPort]:
    port = ScriptedPort(replies)
    options.setdefault("timeout", 0.1)
    reader = SamSerialReader("/dev/fake", serial_factory=lambda *a, **k: port, **options)  # type: ignore[arg-type]
    return reader, port


def read_answer() -> bytes:
    text, photo = sample_text_block("resident"), sample_photo()
    return build_response(Sw3.SUCCESS, (256).to_bytes(2, "big") + (1024).to_bytes(2, "big") + text + photo)


def test_find_select_read_cycle_sends_the_reference_frames() -> None:
    reader, port = reader_with([FOUND, build_response(Sw3.SUCCESS, bytes(8)), read_answer()])
    assert reader.find_card() is True
    assert reader.select_card() is True
    record = reader.read_card()
    assert record.name == "黄桂兰"
    assert port.written == [
        bytes.fromhex("AAAAAA96690003200122"),
        bytes.fromhex("AAAAAA96690003200221"),
        bytes.fromhex("AAAAAA96690003300132"),
    ]


def test_no_card_and_select_failure_are_answers_not_errors() -> None:
    reader, _ = reader_with([build_response(Sw3.NO_CARD), build_response(Sw3.SELECT_FAILED)])
    assert reader.find_card() is False
    assert reader.select_card() is False


def test_garbage_around_the_answer_is_skipped() -> None:
    reader, _ = reader_with([b"\x00\x13\xaa\xaa" + FOUND + b"\xff"])
    assert reader.find_card() is True


def test_silence_is_a_timeout() -> None:
    reader, _ = reader_with([b""], timeout=0.05)
    with pytest.raises(ReaderTimeoutError) as info:
        reader.find_card()
    assert info.value.message_zh


def test_half_an_answer_is_a_timeout() -> None:
    reader, _ = reader_with([read_answer()[:400]], read_timeout=0.1)
    with pytest.raises(ReaderTimeoutError, match="400 bytes pending"):
        reader.read_card()


def test_a_damaged_answer_is_asked_for_again() -> None:
    bad = FOUND[:-1] + bytes([FOUND[-1] ^ 1])
    reader, port = reader_with([bad, FOUND], retries=1)
    assert reader.find_card() is True
    assert len(port.written) == 2


def test_checksum_error_when_retries_run_out() -> None:
    bad = FOUND[:-1] + bytes([FOUND[-1] ^ 1])
    reader, port = reader_with([bad, bad, bad], retries=2)
    with pytest.raises(ChecksumError):
        reader.find_card()
    assert len(port.written) == 3


def test_a_stale_answer_from_an_earlier_command_is_discarded() -> None:
    port = ScriptedPort([FOUND])
    port.pending = build_response(Sw3.NO_CARD)  # left over from a command that timed out
    transport = SamTransport(port, timeout=0.1)
    assert transport.transact(framing.build_request(framing.FIND_CARD)).sw3 == Sw3.CARD_FOUND


@pytest.mark.parametrize(
    "error",
    [
        serial.SerialException("device disconnected"),
        OSError(5, "Input/output error"),
        termios.error(5, "EIO"),
    ],
)
def test_an_unplugged_cable_is_a_connection_error_and_the_port_is_dropped(error: BaseException) -> None:
    reader, port = reader_with([error])
    with pytest.raises(ReaderConnectionError):
        reader.find_card()
    assert port.closed and not reader.is_open


def test_opening_a_missing_port_is_a_connection_error() -> None:
    def missing(*args: object, **kwargs: object) -> ScriptedPort:
        raise serial.SerialException("could not open port /dev/ttyUSB9")

    reader = SamSerialReader("/dev/ttyUSB9", serial_factory=missing)
    with pytest.raises(ReaderConnectionError) as info:
        reader.open()
    assert info.value.message_zh == "读卡器没有连接，请联系工作人员。"


def test_sam_faults_and_appended_address() -> None:
    reader, _ = reader_with([build_response(0x60), build_response(Sw3.NO_CONTENT)])
    with pytest.raises(SamFaultError):
        reader.sam_status()
    assert reader.read_appended_address() is None
    address = "迁至南宁市江南区".encode("utf-16-le") + " ".encode("utf-16-le") * 10
    reader, _ = reader_with([build_response(Sw3.SUCCESS, address)])
    assert reader.read_appended_address() == "迁至南宁市江南区"
    reader, _ = reader_with([build_response(0x41)])
    with pytest.raises(CardReadError):
        reader.read_appended_address()


@pytest.mark.parametrize(
    "options",
    [
        {"port": ""},
        {"port": "/dev/x", "baudrate": 12345},
        {"port": "/dev/x", "timeout": 0},
        {"port": "/dev/x", "retries": -1},
    ],
)
def test_bad_reader_config_is_rejected_clearly(options: dict[str, object]) -> None:
    with pytest.raises(DeviceConfigError):
        SamSerialReader(**options)  # type: ignore[arg-type]


def test_registry_builds_readers_by_name() -> None:
    assert set(READERS) == {"sam-serial", "fake"}
    assert isinstance(create_reader("fake"), FakeIdCardReader)
    assert isinstance(create_reader("sam-serial", port="/dev/ttyUSB0", baudrate=9600), SamSerialReader)
    with pytest.raises(DeviceConfigError, match=r"unknown ID-card reader 'nfc'.*available: fake, sam-serial"):
        create_reader("nfc")
    with pytest.raises(DeviceConfigError, match="bad config"):
        create_reader("sam-serial", prot="/dev/ttyUSB0")
