"""Parsing read responses of every card type into typed records.

Text blocks are laid out here by hand from the offsets of reference/id_card_reader.md, independently of the
package's own encoder, so that a shared mistake in both directions would not go unnoticed.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from device_adapters.errors import CardDataError, FrameError
from device_adapters.idcard.codes import NATIONS, CardType, nation_name
from device_adapters.idcard.framing import Sw3, build_response, decode_response
from device_adapters.idcard.reader import split_read_payload
from device_adapters.idcard.record import parse_text_block, validate_id_number
from device_adapters.idcard.samples import (
    SAMPLE_FIELDS,
    encode_text_block,
    sample_photo,
    sample_text_block,
    with_check_digit,
)

TODAY = dt.date(2024, 6, 1)
RESIDENT_ID = "450103195203150027"  # fictional; check digit per GB 11643
PHOTO = bytes(range(256)) * 4


def block(fields: dict[int, str], marker: str = " ") -> bytes:
    """256 bytes of UTF-16LE spaces with each string written at its byte offset."""
    data = bytearray(" ".encode("utf-16-le") * 128)
    for offset, text in {**fields, 248: marker}.items():
        encoded = text.encode("utf-16-le")
        data[offset : offset + len(encoded)] = encoded
    return bytes(data)


def read_response(text: bytes, photo: bytes = PHOTO) -> bytes:
    """A complete ``30 01`` answer frame: status, lengths, text, photo."""
    data = len(text).to_bytes(2, "big") + len(photo).to_bytes(2, "big") + text + photo
    return build_response(Sw3.SUCCESS, data)


def parse_frame(frame: bytes):
    response = decode_response(frame).raise_for_status()
    return parse_text_block(*split_read_payload(response.data))


RESIDENT = {
    0: "黄桂兰",
    30: "2",
    32: "08",
    36: "19520315",
    52: "广西壮族自治区南宁市青秀区民族大道100号",
    122: RESIDENT_ID,
    158: "南宁市公安局青秀分局",
    188: "20150320",
    204: "长期",
}


def test_resident_card() -> None:
    frame = read_response(block(RESIDENT))
    assert len(frame) == 1295
    record = parse_frame(frame)
    assert record.card_type is CardType.RESIDENT
    assert record.name == "黄桂兰"
    assert record.gender == "女"
    assert record.nation == "壮"
    assert record.birth_date == dt.date(1952, 3, 15)
    assert record.address == "广西壮族自治区南宁市青秀区民族大道100号"
    assert record.id_number == RESIDENT_ID
    assert record.issuing_authority == "南宁市公安局青秀分局"
    assert record.valid_from == dt.date(2015, 3, 20)
    assert record.valid_to is None and record.long_term
    assert record.validity_text == "2015.03.20-长期"
    assert not record.is_expired(TODAY)
    assert record.age_on(TODAY) == 72
    assert record.age_on(dt.date(2024, 3, 14)) == 71
    assert record.age_on(dt.date(2024, 3, 15)) == 72
    assert (record.region.city, record.region.district) == ("南宁市", "青秀区")
    assert record.photo == PHOTO


def test_resident_card_with_an_end_date() -> None:
    record = parse_text_block(block({**RESIDENT, 188: "20100101", 204: "20200101"}))
    assert record.valid_to == dt.date(2020, 1, 1)
    assert record.is_expired(TODAY)
    assert record.validity_text == "2010.01.01-2020.01.01"


def test_hmt_residence_permit() -> None:
    number = with_check_digit("81000019850612003")
    fields = {
        0: "陈大文",
        30: "1",
        36: "19850612",
        52: "广西壮族自治区柳州市城中区文昌路8号",
        122: number,
        158: "柳州市公安局",
        188: "20250105",
        204: "20300105",
        220: "H60123456",
        238: "02",
    }
    record = parse_frame(read_response(block(fields, "J")))
    assert record.card_type is CardType.HMT_RESIDENCE_PERMIT
    assert record.name == "陈大文" and record.gender == "男"
    assert record.nation is None
    assert record.id_number == number
    assert record.permit_number == "H60123456"
    assert record.issue_count == 2
    assert record.address.startswith("广西壮族自治区柳州市")
    assert record.region.province == "香港特别行政区" and not record.region.in_guangxi
    assert record.card_type.name_zh == "港澳台居民居住证"


def test_hmt_permit_must_carry_an_hmt_number() -> None:
    fields = {0: "陈大文", 30: "1", 36: "19850612", 122: RESIDENT_ID, 188: "20250105", 204: "20300105"}
    with pytest.raises(CardDataError):
        parse_text_block(block(fields, "J"))


def test_foreign_permanent_residence_card_2017() -> None:
    fields = {
        0: "SMITH, JOHN ROBERT",
        120: "1",
        122: "USA450078010156",
        152: "USA",
        158: "史约翰",
        188: "20170601",
        204: "20270601",
        220: "19780101",
        236: "17",
        240: "4500",
    }
    record = parse_frame(read_response(block(fields, "I")))
    assert record.card_type is CardType.FOREIGN_PERMANENT_2017
    assert record.name == "史约翰"
    assert record.english_name == "SMITH, JOHN ROBERT"
    assert record.gender == "男"
    assert record.nationality == "USA"
    assert record.id_number == "USA450078010156"
    assert record.birth_date == dt.date(1978, 1, 1)
    assert record.valid_to == dt.date(2027, 6, 1)
    assert record.card_version == "17"
    assert record.issuing_authority == "4500"
    assert record.address is None and record.nation is None


def test_foreign_2017_card_number_must_have_its_shape() -> None:
    fields = {0: "SMITH", 120: "1", 122: "12345", 188: "20170601", 204: "20270601", 220: "19780101"}
    with pytest.raises(CardDataError):
        parse_text_block(block(fields, "I"))


def test_foreign_permanent_residence_card_2023_with_a_long_english_name() -> None:
    number = with_check_digit("94564319900808012")
    english = "IVANOVA, ANNA SERGEEVNA MIKHAILOVSKAYA"  # 38 characters: 35 at offset 52, 3 at offset 220
    fields = {
        0: "伊万诺娃",
        30: "2",
        36: "19900808",
        52: english[:35],
        220: english[35:],
        122: number,
        158: "中华人民共和国国家移民管理局",
        188: "20231201",
        204: "20331201",
        242: "RUS",
    }
    record = parse_frame(read_response(block(fields, "Y")))
    assert record.card_type is CardType.FOREIGN_PERMANENT_2023
    assert record.name == "伊万诺娃"
    assert record.english_name == english
    assert record.gender == "女"
    assert record.nationality == "RUS"
    assert record.id_number == number
    assert record.birth_date == dt.date(1990, 8, 8)
    assert record.region.province == "广西壮族自治区"  # digits 2-3: accepted in Guangxi


def test_short_2023_english_name_does_not_pick_up_the_nationality() -> None:
    fields = {
        0: "安娜",
        30: "2",
        36: "19900808",
        52: "ANNA LEE",
        122: with_check_digit("94564319900808012"),
        188: "20231201",
        204: "20331201",
        242: "RUS",
    }
    record = parse_text_block(block(fields, "Y"))
    assert record.english_name == "ANNA LEE"


@pytest.mark.parametrize("kind", list(SAMPLE_FIELDS))
def test_samples_round_trip_through_the_encoder(kind: str) -> None:
    card_type, fields = SAMPLE_FIELDS[kind]
    record = parse_text_block(sample_text_block(kind), sample_photo())
    assert record.card_type is card_type
    assert record.id_number == fields["id_number"]


def test_encoder_agrees_with_hand_built_blocks() -> None:
    card_type, fields = SAMPLE_FIELDS["resident"]
    assert encode_text_block(card_type, fields) == block(RESIDENT)


def test_fingerprint_response_puts_the_text_at_offset_16() -> None:
    text = block(RESIDENT)
    fingerprint = b"\x01" * 1024
    data = (256).to_bytes(2, "big") + (1024).to_bytes(2, "big") + (1024).to_bytes(2, "big")
    frame = build_response(Sw3.SUCCESS, data + text + PHOTO + fingerprint)
    assert frame[16 : 16 + 256] == text
    got_text, got_photo = split_read_payload(decode_response(frame).data, with_fingerprint=True)
    assert got_text == text and got_photo == PHOTO


def test_read_payload_lengths_must_add_up() -> None:
    data = (256).to_bytes(2, "big") + (1024).to_bytes(2, "big") + bytes(300)
    with pytest.raises(FrameError):
        split_read_payload(data)
    with pytest.raises(FrameError):
        split_read_payload(b"\x01")


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({122: RESIDENT_ID[:-1] + "1"}, "check digit"),
        ({122: "45010319520315"}, "short number"),
        ({36: "19521315"}, "birth date"),
        ({188: "2015-3-2"}, "valid-from"),
        ({204: "永久"}, "valid-to"),
        ({0: ""}, "empty name"),
    ],
)
def test_damaged_text_blocks_raise_card_data_errors(change: dict[int, str], why: str) -> None:
    fields = {**RESIDENT, **change}
    if change.get(0) == "":
        fields.pop(0)
    with pytest.raises(CardDataError):
        parse_text_block(block(fields))


def test_unknown_card_type_marker_and_short_block() -> None:
    with pytest.raises(CardDataError, match="marker"):
        parse_text_block(block(RESIDENT, "Z"))
    with pytest.raises(CardDataError):
        parse_text_block(block(RESIDENT)[:200])


def test_nul_padded_reserved_area_counts_as_a_resident_card() -> None:
    raw = bytearray(block(RESIDENT))
    raw[220:256] = bytes(36)
    assert parse_text_block(bytes(raw)).card_type is CardType.RESIDENT


def test_id_numbers_are_checked_with_stdnum() -> None:
    assert validate_id_number(RESIDENT_ID.lower()) == RESIDENT_ID
    # A county stdnum does not know still passes: only format, check digit and birth date are checked.
    assert validate_id_number(with_check_digit("45999919800101001"))
    with pytest.raises(CardDataError):
        validate_id_number("45010319520315002X")


def test_nation_table_keeps_shui_and_deang_in_place() -> None:
    assert len(NATIONS) == 58
    assert nation_name("25") == "水" and nation_name("46") == "德昂" and nation_name("56") == "基诺"
    assert nation_name("8") == "壮"
    assert nation_name("") is None and nation_name("77") is None


def test_personal_data_is_masked_by_default_and_the_photo_never_leaves() -> None:
    record = parse_text_block(block(RESIDENT), PHOTO)
    masked = record.to_dict(today=TODAY)
    assert masked["name"] == "黄**"
    assert masked["id_number"] == "4501**********0027"
    assert masked["birth_date"] == "1952-**-**"
    assert masked["address"] == "广西壮族自治区南宁市青秀区民族大道***号"  # pii: road kept, house number hidden
    assert masked["age"] == 72 and masked["has_photo"] is True
    text = json.dumps(masked, ensure_ascii=False)
    assert "黄桂兰" not in text and RESIDENT_ID not in text and "100号" not in text
    assert "photo" not in masked
    full = record.to_dict(show_personal=True, today=TODAY)
    assert full["name"] == "黄桂兰" and full["id_number"] == RESIDENT_ID
    assert "photo" not in full
    for shown in (repr(record), str(record), f"{record}"):
        assert "黄桂兰" not in shown and RESIDENT_ID not in shown and "photo" not in shown
