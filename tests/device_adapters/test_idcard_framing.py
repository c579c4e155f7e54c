"""SAM framing from raw bytes: request frames byte-exact against the reference table, decoding, resync."""

from __future__ import annotations

import pytest

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
from device_adapters.idcard import framing
from device_adapters.idcard.framing import (
    FrameDecoder,
    Sw3,
    build_request,
    build_response,
    decode_response,
    encode_frame,
    sw3_error,
    xor_checksum,
)

# The "full request frame" column of reference/id_card_reader.md, verbatim.
REFERENCE_REQUESTS = {
    "reset SAM": (framing.RESET_SAM, "AA AA AA 96 69 00 03 10 FF EC"),
    "SAM status": (framing.SAM_STATUS, "AA AA AA 96 69 00 03 11 FF ED"),
    "read SAM id": (framing.READ_SAM_ID, "AA AA AA 96 69 00 03 12 FF EE"),
    "find card": (framing.FIND_CARD, "AA AA AA 96 69 00 03 20 01 22"),
    "select card": (framing.SELECT_CARD, "AA AA AA 96 69 00 03 20 02 21"),
    "read text + photo": (framing.READ_TEXT_PHOTO, "AA AA AA 96 69 00 03 30 01 32"),
    "read text + photo + fingerprint": (framing.READ_TEXT_PHOTO_FINGERPRINT, "AA AA AA 96 69 00 03 30 10 23"),
    "read appended address": (framing.READ_APPENDED_ADDRESS, "AA AA AA 96 69 00 03 30 03 30"),
}

FIND_CARD_ANSWER = bytes.fromhex("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97")


@pytest.mark.parametrize("name", list(REFERENCE_REQUESTS))
def test_request_frames_match_the_reference_table_byte_for_byte(name: str) -> None:
    command, expected = REFERENCE_REQUESTS[name]
    assert build_request(command) == bytes.fromhex(expected)


def test_checksum_is_the_xor_from_length_to_last_data_byte() -> None:
    assert xor_checksum(bytes.fromhex("00 03 20 01")) == 0x22
    frame = encode_frame(b"\x30\x01")
    assert frame[-1] == xor_checksum(frame[5:-1])


def test_request_needs_a_two_byte_command() -> None:
    with pytest.raises(FrameError):
        build_request(b"\x20")


def test_find_card_answer_from_the_reference_decodes() -> None:
    response = decode_response(FIND_CARD_ANSWER)
    assert (response.sw1, response.sw2, response.sw3) == (0, 0, Sw3.CARD_FOUND)
    assert response.data == bytes(4)
    assert response.ok
    assert build_response(Sw3.CARD_FOUND, bytes(4)) == FIND_CARD_ANSWER


def test_length_counts_everything_after_itself() -> None:
    frame = build_response(Sw3.SUCCESS, bytes(2 + 2 + 256 + 1024))
    # 1295 bytes like a text+photo answer: preamble 5, LEN 2, then LEN = 0x0508 bytes.
    assert len(frame) == 1295
    assert frame[5:7] == b"\x05\x08"


def test_decoder_handles_bytes_arriving_one_at_a_time() -> None:
    decoder = FrameDecoder()
    results = []
    for byte in FIND_CARD_ANSWER:
        decoder.feed(bytes([byte]))
        results.append(decoder.next_response())
    assert all(result is None for result in results[:-1])
    assert results[-1] is not None and results[-1].sw3 == Sw3.CARD_FOUND


def test_decoder_skips_garbage_and_partial_preambles() -> None:
    decoder = FrameDecoder()
    garbage = b"\x00\xff\x12\xaa\xaa\xaa\x96\xaa\xaa\x69"
    decoder.feed(garbage + FIND_CARD_ANSWER + b"\x01\x02")
    response = decoder.next_response()
    assert response is not None and response.sw3 == Sw3.CARD_FOUND
    assert decoder.skipped_bytes == len(garbage)
    assert decoder.next_response() is None


def test_decoder_resyncs_after_an_impossible_length() -> None:
    decoder = FrameDecoder()
    decoder.feed(framing.PREAMBLE + b"\xff\xff" + FIND_CARD_ANSWER)
    assert decoder.next_response() == decode_response(FIND_CARD_ANSWER)


def test_decoder_finds_a_real_frame_hidden_inside_a_bogus_one() -> None:
    # A fake header claims 16 bytes; the real answer starts inside that span.
    decoder = FrameDecoder()
    decoder.feed(framing.PREAMBLE + b"\x00\x10\x01" + FIND_CARD_ANSWER)
    with pytest.raises(ChecksumError):
        decoder.next_response()
    response = decoder.next_response()
    assert response is not None and response.sw3 == Sw3.CARD_FOUND


def test_bad_checksum_raises_once_then_the_next_frame_is_read() -> None:
    bad = FIND_CARD_ANSWER[:-1] + b"\x00"
    good = build_response(Sw3.SUCCESS, bytes(8))
    decoder = FrameDecoder()
    decoder.feed(bad + good)
    with pytest.raises(ChecksumError):
        decoder.next_response()
    response = decoder.next_response()
    assert response is not None and response.sw3 == Sw3.SUCCESS


def test_a_preamble_split_across_reads_is_kept() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"\x01\x02" + FIND_CARD_ANSWER[:3])
    assert decoder.next_response() is None
    assert decoder.buffered == 3
    decoder.feed(FIND_CARD_ANSWER[3:])
    assert decoder.next_response() is not None


def test_decode_response_rejects_incomplete_and_trailing_bytes() -> None:
    with pytest.raises(FrameError):
        decode_response(FIND_CARD_ANSWER[:-2])
    with pytest.raises(FrameError):
        decode_response(FIND_CARD_ANSWER + b"\x00")
    with pytest.raises(FrameError):
        decode_response(encode_frame(b"\x00\x00"))  # no room for three status bytes


def test_requests_decode_for_the_simulator() -> None:
    decoder = FrameDecoder()
    decoder.feed(build_request(framing.FIND_CARD) + build_request(framing.SELECT_CARD, b"\x01"))
    first, second = decoder.next_request(), decoder.next_request()
    assert first is not None and first.command == framing.FIND_CARD and first.data == b""
    assert second is not None and second.command == framing.SELECT_CARD and second.data == b"\x01"


@pytest.mark.parametrize(
    ("sw3", "error"),
    [
        (0x10, RequestRejectedError),
        (0x11, RequestRejectedError),
        (0x21, RequestRejectedError),
        (0x24, SamFaultError),
        (0x31, CardAuthError),
        (0x32, CardAuthError),
        (0x33, CardAuthError),
        (0x40, CardReadError),
        (0x41, CardReadError),
        (0x47, CardAuthError),
        (0x60, SamFaultError),
        (0x66, SamFaultError),
        (0x80, NoCardError),
        (0x81, SelectFailedError),
        (0x91, NoContentError),
        (0x55, SamFaultError),  # not in the table
    ],
)
def test_every_failure_status_maps_to_a_typed_error_with_words(sw3: int, error: type[SamStatusError]) -> None:
    exc = sw3_error(sw3)
    assert type(exc) is error
    assert exc.sw3 == sw3
    assert exc.message_zh and all("\u4e00" <= ch <= "\u9fff" or not ch.isalpha() for ch in exc.message_zh)
    with pytest.raises(error):
        decode_response(build_response(sw3)).raise_for_status()


@pytest.mark.parametrize("sw3", [Sw3.SUCCESS, Sw3.CARD_FOUND])
def test_success_statuses_do_not_raise(sw3: int) -> None:
    assert decode_response(build_response(sw3)).raise_for_status().ok
