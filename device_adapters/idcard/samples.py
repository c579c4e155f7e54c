"""Build text blocks from field values (the inverse of ``record.parse_text_block``) and fictional sample cards.

Used by the simulator and by tests. Every sample is invented; ID numbers carry valid check digits so that the
same path as a real card is exercised.
"""

from __future__ import annotations

from stdnum.cn import ric

from device_adapters.idcard.codes import CardType
from device_adapters.idcard.record import (
    FOREIGN_2017_LAYOUT,
    FOREIGN_2023_LAYOUT,
    HMT_EXTRA,
    RESIDENT_LAYOUT,
    TEXT_LENGTH,
    TYPE_MARKER,
)

PHOTO_LENGTH = 1024

_LAYOUTS: dict[CardType, dict[str, tuple[int, int]]] = {
    CardType.RESIDENT: RESIDENT_LAYOUT,
    CardType.HMT_RESIDENCE_PERMIT: {**RESIDENT_LAYOUT, **HMT_EXTRA},
    CardType.FOREIGN_PERMANENT_2017: FOREIGN_2017_LAYOUT,
    CardType.FOREIGN_PERMANENT_2023: FOREIGN_2023_LAYOUT,
}


def with_check_digit(first17: str) -> str:
    """Complete 17 digits with their GB 11643 check digit."""
    return first17 + ric.calc_check_digit(first17 + "0")


def encode_text_block(card_type: CardType, fields: dict[str, str]) -> bytes:
    """Lay field values out at their offsets, UTF-16LE padded with spaces, as a card would."""
    layout = _LAYOUTS[card_type]
    block = bytearray(" ".encode("utf-16-le") * (TEXT_LENGTH // 2))
    values = dict(fields)
    if card_type is CardType.FOREIGN_PERMANENT_2023 and "english_name" in values:
        # The English name overflows from its 35 characters into the field at offset 220.
        first = layout["english_name"][1] // 2
        values["english_name"], values["english_name_more"] = (
            values["english_name"][:first],
            values["english_name"][first:],
        )
    values["_type"] = card_type.value
    for key, value in values.items():
        offset, size = TYPE_MARKER if key == "_type" else layout[key]
        encoded = value.encode("utf-16-le")
        if len(encoded) > size:
            raise ValueError(f"{key} does not fit in {size} bytes")
        block[offset : offset + len(encoded)] = encoded
    return bytes(block)


def sample_photo(seed: int = 0) -> bytes:
    """1024 opaque bytes standing in for a WLT-compressed photo."""
    return bytes((i * 31 + seed) % 251 for i in range(PHOTO_LENGTH))


RESIDENT_FIELDS = {
    "name": "黄桂兰",
    "gender": "2",
    "nation": "08",
    "birth": "19520315",
    "address": "广西壮族自治区南宁市青秀区民族大道100号",
    "id_number": with_check_digit("45010319520315002"),
    "authority": "南宁市公安局青秀分局",
    "valid_from": "20150320",
    "valid_to": "长期",
}

HMT_FIELDS = {
    "name": "陈大文",
    "gender": "1",
    "birth": "19850612",
    "address": "广西壮族自治区柳州市城中区文昌路8号",
    "id_number": with_check_digit("81000019850612003"),
    "authority": "柳州市公安局",
    "valid_from": "20250105",
    "valid_to": "20300105",
    "permit_number": "H60123456",
    "issue_count": "02",
}

FOREIGN_2017_FIELDS = {
    "english_name": "SMITH, JOHN ROBERT",
    "gender": "1",
    "id_number": "USA450078010156",
    "nationality": "USA",
    "name": "史约翰",
    "valid_from": "20170601",
    "valid_to": "20270601",
    "birth": "19780101",
    "card_version": "17",
    "authority": "4500",
}

FOREIGN_2023_FIELDS = {
    "name": "伊万诺娃",
    "gender": "2",
    "birth": "19900808",
    "english_name": "IVANOVA, ANNA SERGEEVNA MIKHAILOVSKAYA",
    "id_number": with_check_digit("94564319900808012"),
    "authority": "中华人民共和国国家移民管理局",
    "valid_from": "20231201",
    "valid_to": "20331201",
    "nationality": "RUS",
}

SAMPLE_FIELDS: dict[str, tuple[CardType, dict[str, str]]] = {
    "resident": (CardType.RESIDENT, RESIDENT_FIELDS),
    "hmt": (CardType.HMT_RESIDENCE_PERMIT, HMT_FIELDS),
    "foreign-2017": (CardType.FOREIGN_PERMANENT_2017, FOREIGN_2017_FIELDS),
    "foreign-2023": (CardType.FOREIGN_PERMANENT_2023, FOREIGN_2023_FIELDS),
}


def sample_text_block(kind: str = "resident") -> bytes:
    try:
        card_type, fields = SAMPLE_FIELDS[kind]
    except KeyError:
        raise ValueError(f"unknown sample card {kind!r}; choose from {', '.join(SAMPLE_FIELDS)}") from None
    return encode_text_block(card_type, fields)
