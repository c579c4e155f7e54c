"""The card text block (256 bytes of UTF-16LE) to a typed record, and back for the simulator.

Field offsets follow ``reference/id_card_reader.md``. The photo (and any fingerprint) stays opaque bytes in
memory: it is excluded from ``repr``, ``to_dict`` and every log line.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from device_adapters.errors import CardDataError
from device_adapters.idcard.codes import CardType, gender_name, nation_name
from device_adapters.idcard.regions import PROVINCES, UNKNOWN_REGION, Region, lookup_region
from pii import mask_address, mask_id_number, mask_name

TEXT_LENGTH = 256
LONG_TERM = "长期"

# (offset, size) in bytes of each field, per layout.
RESIDENT_LAYOUT = {
    "name": (0, 30),
    "gender": (30, 2),
    "nation": (32, 4),
    "birth": (36, 16),
    "address": (52, 70),
    "id_number": (122, 36),
    "authority": (158, 30),
    "valid_from": (188, 16),
    "valid_to": (204, 16),
}
HMT_EXTRA = {"permit_number": (220, 18), "issue_count": (238, 4)}
FOREIGN_2017_LAYOUT = {
    "english_name": (0, 120),
    "gender": (120, 2),
    "id_number": (122, 30),
    "nationality": (152, 6),
    "name": (158, 30),
    "valid_from": (188, 16),
    "valid_to": (204, 16),
    "birth": (220, 16),
    "card_version": (236, 4),
    "authority": (240, 8),
}
FOREIGN_2023_LAYOUT = {
    "name": (0, 30),
    "gender": (30, 2),
    "birth": (36, 16),
    "english_name": (52, 70),
    "english_name_more": (220, 22),
    "id_number": (122, 36),
    "authority": (158, 30),
    "valid_from": (188, 16),
    "valid_to": (204, 16),
    "nationality": (242, 6),
}
TYPE_MARKER = (248, 2)

_FOREIGN_2017_NUMBER = re.compile(r"^[A-Z]{3}\d{12}$")


@dataclass(frozen=True)
class IdCardRecord:
    card_type: CardType
    name: str
    gender: str
    birth_date: dt.date
    id_number: str
    issuing_authority: str
    valid_from: dt.date
    valid_to: dt.date | None  # None means 长期 (no expiry)
    region: Region
    nation: str | None = None  # residents only
    address: str | None = None  # residents and HMT permits
    english_name: str | None = None  # foreigners
    nationality: str | None = None  # foreigners: GB/T 2659 three-letter code
    permit_number: str | None = None  # HMT: the 通行证 number
    issue_count: int | None = None  # HMT: how many times the permit was issued
    card_version: str | None = None  # 2017 foreigner card
    photo: bytes = field(default=b"", repr=False, compare=False)

    @property
    def long_term(self) -> bool:
        return self.valid_to is None

    def age_on(self, today: dt.date) -> int:
        years = today.year - self.birth_date.year
        if (today.month, today.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    @property
    def age(self) -> int:
        return self.age_on(dt.date.today())

    def is_expired(self, today: dt.date | None = None) -> bool:
        return self.valid_to is not None and self.valid_to < (today or dt.date.today())

    @property
    def validity_text(self) -> str:
        end = LONG_TERM if self.valid_to is None else self.valid_to.strftime("%Y.%m.%d")
        return f"{self.valid_from:%Y.%m.%d}-{end}"

    def __repr__(self) -> str:
        # A record that ends up in a log line or a traceback must not leak who the resident is.
        return (
            f"IdCardRecord(card_type={self.card_type.name}, name={mask_name(self.name)!r}, "
            f"id_number={mask_id_number(self.id_number)!r}, region={self.region.code!r})"
        )

    __str__ = __repr__

    def to_dict(self, *, show_personal: bool = False, today: dt.date | None = None) -> dict[str, object]:
        """A JSON-friendly view, masked unless ``show_personal``; never the photo."""
        today = today or dt.date.today()
        masked = not show_personal
        birth = self.birth_date.isoformat()
        return {
            "card_type": self.card_type.name.lower(),
            "card_type_name": self.card_type.name_zh,
            "name": mask_name(self.name) if masked else self.name,
            "english_name": (mask_name(self.english_name) if masked else self.english_name)
            if self.english_name
            else None,
            "gender": self.gender,
            "nation": self.nation,
            "nationality": self.nationality,
            "birth_date": f"{birth[:4]}-**-**" if masked else birth,
            "age": self.age_on(today),
            "address": (mask_address(self.address) if masked else self.address) if self.address else None,
            "id_number": mask_id_number(self.id_number) if masked else self.id_number,
            "issuing_authority": self.issuing_authority,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": None if self.valid_to is None else self.valid_to.isoformat(),
            "long_term": self.long_term,
            "expired": self.is_expired(today),
            "permit_number": (mask_id_number(self.permit_number) if masked else self.permit_number)
            if self.permit_number
            else None,
            "issue_count": self.issue_count,
            "card_version": self.card_version,
            "region": self.region.to_dict(),
            "has_photo": bool(self.photo),
            "masked": masked,
        }


def _field(block: bytes, spec: tuple[int, int]) -> str:
    return _raw_field(block, spec).strip()


def _raw_field(block: bytes, spec: tuple[int, int]) -> str:
    offset, size = spec
    return block[offset : offset + size].decode("utf-16-le", errors="replace").replace("\x00", " ")


def _date(text: str, what: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError as e:
        raise CardDataError(f"{what} is not a YYYYMMDD date ({len(text)} characters)") from e


def _valid_to(text: str) -> dt.date | None:
    if text == LONG_TERM:
        return None
    return _date(text, "valid-to")


def validate_id_number(number: str) -> str:
    """Check an 18-character ID number (resident, HMT permit, 2023 foreigner card) with python-stdnum.

    Only the format, check digit and birth date are checked: a genuine card from a county that stdnum's
    table does not know must still be accepted.
    """
    try:
        number = ric.compact(number)
        if len(number) != 18 or not number[:-1].isdigit():
            raise CardDataError(f"ID number has a bad format ({len(number)} characters)")
        if ric.calc_check_digit(number) != number[-1]:
            raise CardDataError("ID number check digit does not match")
        ric.get_birth_date(number)
    except ValidationError as e:
        raise CardDataError(f"ID number is invalid: {e.message}") from e
    return number


def parse_text_block(block: bytes, photo: bytes = b"") -> IdCardRecord:
    """Parse the 256-byte text block of any supported card type."""
    if len(block) < TEXT_LENGTH:
        raise CardDataError(f"text block is {len(block)} bytes, expected {TEXT_LENGTH}")
    try:
        card_type = CardType.from_marker(_field(block, TYPE_MARKER))
    except ValueError as e:
        raise CardDataError(str(e)) from e
    if card_type is CardType.FOREIGN_PERMANENT_2017:
        return _parse_foreign_2017(block, photo)
    if card_type is CardType.FOREIGN_PERMANENT_2023:
        return _parse_foreign_2023(block, photo)
    return _parse_resident(block, photo, card_type)


def _parse_resident(block: bytes, photo: bytes, card_type: CardType) -> IdCardRecord:
    f = {key: _field(block, spec) for key, spec in RESIDENT_LAYOUT.items()}
    id_number = validate_id_number(f["id_number"])
    permit_number = issue_count = None
    if card_type is CardType.HMT_RESIDENCE_PERMIT:
        if id_number[:2] not in ("81", "82", "83"):
            raise CardDataError("HMT residence permit number does not begin with 81/82/83")
        permit_number = _field(block, HMT_EXTRA["permit_number"]) or None
        count = _field(block, HMT_EXTRA["issue_count"])
        issue_count = int(count) if count.isdigit() else None
    if not f["name"]:
        raise CardDataError("name field is empty")
    return IdCardRecord(
        card_type=card_type,
        name=f["name"],
        gender=gender_name(f["gender"]),
        nation=nation_name(f["nation"]) if card_type is CardType.RESIDENT else None,
        birth_date=_date(f["birth"], "birth date"),
        address=f["address"] or None,
        id_number=id_number,
        issuing_authority=f["authority"],
        valid_from=_date(f["valid_from"], "valid-from"),
        valid_to=_valid_to(f["valid_to"]),
        region=lookup_region(id_number[:6]),
        permit_number=permit_number,
        issue_count=issue_count,
        photo=photo,
    )


def _parse_foreign_2017(block: bytes, photo: bytes) -> IdCardRecord:
    f = {key: _field(block, spec) for key, spec in FOREIGN_2017_LAYOUT.items()}
    number = f["id_number"].upper()
    # The 15-character number has no published check-digit rule we can verify; check its shape.
    if not _FOREIGN_2017_NUMBER.match(number):
        raise CardDataError("foreigner card number is not three letters and twelve digits")
    return IdCardRecord(
        card_type=CardType.FOREIGN_PERMANENT_2017,
        name=f["name"] or f["english_name"],
        english_name=f["english_name"] or None,
        gender=gender_name(f["gender"]),
        nationality=f["nationality"] or None,
        birth_date=_date(f["birth"], "birth date"),
        id_number=number,
        issuing_authority=f["authority"],
        valid_from=_date(f["valid_from"], "valid-from"),
        valid_to=_valid_to(f["valid_to"]),
        region=UNKNOWN_REGION,
        card_version=f["card_version"] or None,
        photo=photo,
    )


def _parse_foreign_2023(block: bytes, photo: bytes) -> IdCardRecord:
    f = {key: _field(block, spec) for key, spec in FOREIGN_2023_LAYOUT.items()}
    number = validate_id_number(f["id_number"])
    if not number.startswith("9"):
        raise CardDataError("2023 foreigner card number does not begin with 9")
    # A long English name runs on at offset 220 exactly where the first field ends, possibly mid-word:
    # join the raw (unstripped) halves.
    english = _raw_field(block, FOREIGN_2023_LAYOUT["english_name"])
    english = (english + _raw_field(block, FOREIGN_2023_LAYOUT["english_name_more"])).strip()
    province = PROVINCES.get(number[1:3])
    return IdCardRecord(
        card_type=CardType.FOREIGN_PERMANENT_2023,
        name=f["name"] or english,
        english_name=english or None,
        gender=gender_name(f["gender"]),
        nationality=f["nationality"] or None,
        birth_date=_date(f["birth"], "birth date"),
        id_number=number,
        issuing_authority=f["authority"],
        valid_from=_date(f["valid_from"], "valid-from"),
        valid_to=_valid_to(f["valid_to"]),
        # Digits 2-3 are the province that accepted the application; there is no county part.
        region=Region(code=number[1:3] + "0000", province=province) if province else UNKNOWN_REGION,
        photo=photo,
    )
