"""SAM (GA 467) serial framing, separate from any port so that it is testable from raw bytes.

Request:  ``AA AA AA 96 69 | LEN_H LEN_L | CMD PARA DATA… | CHK``
Response: ``AA AA AA 96 69 | LEN_H LEN_L | SW1 SW2 SW3 DATA… | CHK``

LEN counts everything after itself, CHK included; CHK is the XOR of LEN_H through the last data byte.
Both directions share the envelope, so one codec serves the reader (requests out, responses in) and the
simulator (the other way round).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import IntEnum

from device_adapters.errors import (
    CardAuthError,
    CardReadError,
    ChecksumError,
    FrameError,
    NoCardError,
    NoContentError,
    RequestRejectedError,
    SamFaultError,
    SamStatusError,
    SelectFailedError,
)

log = logging.getLogger(__name__)

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
# A response with photo and fingerprint is ~2.3 kB; anything much longer is garbage that happens to follow
# a preamble, and waiting for it would stall the port.
MAX_FRAME_LENGTH = 4096
_MIN_LENGTH = 2  # one payload byte + CHK


class Command(bytes):
    """The CMD/PARA pair of a request; the members below are the commands of the reference table."""


RESET_SAM = Command(b"\x10\xff")
SAM_STATUS = Command(b"\x11\xff")
READ_SAM_ID = Command(b"\x12\xff")
FIND_CARD = Command(b"\x20\x01")
SELECT_CARD = Command(b"\x20\x02")
READ_TEXT_PHOTO = Command(b"\x30\x01")
READ_TEXT_PHOTO_FINGERPRINT = Command(b"\x30\x10")
READ_APPENDED_ADDRESS = Command(b"\x30\x03")


class Sw3(IntEnum):
    """Reader status codes (the third status byte)."""

    SUCCESS = 0x90
    CARD_FOUND = 0x9F
    CHECKSUM_ERROR = 0x10
    LENGTH_ERROR = 0x11
    COMMAND_ERROR = 0x21
    UNRECOGNISED = 0x24
    CARD_AUTH_READER_FAILED = 0x31
    READER_AUTH_CARD_FAILED = 0x32
    VERIFICATION_ERROR = 0x33
    WRONG_CARD = 0x40
    READ_FAILED = 0x41
    RANDOM_NUMBER_ERROR = 0x47
    SELF_TEST_FAILED = 0x60
    NOT_AUTHORISED = 0x66
    NO_CARD = 0x80
    SELECT_FAILED = 0x81
    NO_CONTENT = 0x91


_SW3_ERRORS: dict[int, tuple[type[SamStatusError], str]] = {
    Sw3.CHECKSUM_ERROR: (RequestRejectedError, "reader reports a checksum error in our request"),
    Sw3.LENGTH_ERROR: (RequestRejectedError, "reader reports a length error in our request"),
    Sw3.COMMAND_ERROR: (RequestRejectedError, "reader reports a command error"),
    Sw3.UNRECOGNISED: (SamFaultError, "unrecognised error"),
    Sw3.CARD_AUTH_READER_FAILED: (CardAuthError, "card failed to authenticate the reader"),
    Sw3.READER_AUTH_CARD_FAILED: (CardAuthError, "reader failed to authenticate the card"),
    Sw3.VERIFICATION_ERROR: (CardAuthError, "information verification error"),
    Sw3.WRONG_CARD: (CardReadError, "wrong card type"),
    Sw3.READ_FAILED: (CardReadError, "read failed"),
    Sw3.RANDOM_NUMBER_ERROR: (CardAuthError, "random-number error"),
    Sw3.SELF_TEST_FAILED: (SamFaultError, "SAM self-test failed"),
    Sw3.NOT_AUTHORISED: (SamFaultError, "reader not authorised"),
    Sw3.NO_CARD: (NoCardError, "no card"),
    Sw3.SELECT_FAILED: (SelectFailedError, "select failed"),
    Sw3.NO_CONTENT: (NoContentError, "no such content"),
}

_WRONG_CARD_ZH = "这张卡不是身份证或居住证，请换一张证件。"


def sw3_error(sw3: int) -> SamStatusError:
    """The typed exception for a failure status code; unknown codes are SAM faults."""
    cls, text = _SW3_ERRORS.get(sw3, (SamFaultError, "unknown status"))
    message_zh = _WRONG_CARD_ZH if sw3 == Sw3.WRONG_CARD else None
    return cls(sw3, f"SAM status 0x{sw3:02X}: {text}", message_zh=message_zh)


def xor_checksum(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


def encode_frame(payload: bytes) -> bytes:
    """Wrap a payload (CMD PARA DATA, or SW1 SW2 SW3 DATA) into a complete frame."""
    length = len(payload) + 1
    if length > 0xFFFF:
        raise FrameError(f"payload too long: {len(payload)} bytes")
    body = length.to_bytes(2, "big") + payload
    return PREAMBLE + body + bytes([xor_checksum(body)])


def build_request(command: Command | bytes, data: bytes = b"") -> bytes:
    if len(command) != 2:
        raise FrameError("a command is CMD and PARA: exactly two bytes")
    return encode_frame(bytes(command) + data)


def build_response(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    return encode_frame(bytes([sw1, sw2, sw3]) + data)


@dataclass(frozen=True)
class Response:
    sw1: int
    sw2: int
    sw3: int
    data: bytes

    @property
    def ok(self) -> bool:
        return self.sw3 in (Sw3.SUCCESS, Sw3.CARD_FOUND)

    def raise_for_status(self) -> Response:
        if not self.ok:
            raise sw3_error(self.sw3)
        return self

    @classmethod
    def from_payload(cls, payload: bytes) -> Response:
        if len(payload) < 3:
            raise FrameError(f"response payload of {len(payload)} bytes has no status word")
        return cls(payload[0], payload[1], payload[2], payload[3:])


@dataclass(frozen=True)
class Request:
    command: bytes
    data: bytes

    @classmethod
    def from_payload(cls, payload: bytes) -> Request:
        if len(payload) < 2:
            raise FrameError(f"request payload of {len(payload)} bytes has no command")
        return cls(payload[:2], payload[2:])


class FrameDecoder:
    """Incremental decoder: feed bytes as they arrive, take complete payloads out.

    Garbage before a preamble is skipped. A length that cannot be right, or a bad checksum, drops only the
    first preamble byte and searches again, so a real frame hidden inside a bogus one is still found.
    ``next_payload()`` raises ``ChecksumError`` once per bad frame, then continues with what follows.
    """

    def __init__(self, max_length: int = MAX_FRAME_LENGTH) -> None:
        self._buffer = bytearray()
        self._max_length = max_length
        self.skipped_bytes = 0

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def clear(self) -> None:
        self._buffer.clear()

    def _skip(self, count: int) -> None:
        del self._buffer[:count]
        self.skipped_bytes += count

    def next_payload(self) -> bytes | None:
        """The next complete, valid payload, or ``None`` when more bytes are needed."""
        while True:
            start = self._buffer.find(PREAMBLE)
            if start < 0:
                # Keep a tail that may be the beginning of a preamble split across reads.
                keep = next(
                    (n for n in range(len(PREAMBLE) - 1, 0, -1) if self._buffer.endswith(PREAMBLE[:n])), 0
                )
                self._skip(len(self._buffer) - keep)
                return None
            if start:
                self._skip(start)
            header_end = len(PREAMBLE) + 2
            if len(self._buffer) < header_end:
                return None
            length = int.from_bytes(self._buffer[len(PREAMBLE) : header_end], "big")
            if length < _MIN_LENGTH or length > self._max_length:
                log.debug("implausible frame length %d; resyncing", length)
                self._skip(1)
                continue
            end = header_end + length
            if len(self._buffer) < end:
                return None
            body = bytes(self._buffer[len(PREAMBLE) : end - 1])
            checksum = self._buffer[end - 1]
            if xor_checksum(body) != checksum:
                self._skip(1)
                raise ChecksumError(f"frame checksum 0x{checksum:02X} != 0x{xor_checksum(body):02X}")
            del self._buffer[:end]
            return body[2:]

    def next_response(self) -> Response | None:
        payload = self.next_payload()
        return None if payload is None else Response.from_payload(payload)

    def next_request(self) -> Request | None:
        payload = self.next_payload()
        return None if payload is None else Request.from_payload(payload)


def decode_response(frame: bytes) -> Response:
    """Decode exactly one complete response frame (for tests and one-shot use)."""
    decoder = FrameDecoder()
    decoder.feed(frame)
    response = decoder.next_response()
    if response is None:
        raise FrameError(f"incomplete frame ({len(frame)} bytes)")
    if decoder.buffered:
        raise FrameError(f"{decoder.buffered} trailing bytes after the frame")
    return response
