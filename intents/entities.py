"""Entities in a resident's message, found by rules (fast, exact, and no model needed).

Types: ``ticket_number`` (GX + 8-digit date + 3-6 digit sequence), ``phone`` (mainland mobile),
``id_number`` (18-digit resident ID, checked with ``stdnum.cn.ric``: checksum, birth date and
region; anything failing is not returned), ``age`` (int, ``approximate`` for 八十多岁 / 快九十了),
``city`` and ``district`` (Guangxi, from ``data/guangxi_regions.yml``; a district carries its city in
``extra["city"]``), ``date`` (``intents.dates``) and ``choice`` (``intents.choices``).

Phone and ID numbers are found by ``pii`` (any spacing, width or Chinese numerals) and are personal
information: ``Entity.__repr__`` masks them with ``pii``'s masks, and ``pii.mask_text`` masks free text
before it is stored or logged. This module never logs entity values.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from functools import lru_cache
from pathlib import Path

import yaml
from stdnum.cn import ric

from intents.base import DATA_DIR, Entity
from intents.choices import extract_choice, resolve_choice
from intents.dates import extract_dates
from intents.errors import TrainingDataError
from intents.numbers import CN_NUMERAL_CHARS, NUMERAL, to_int
from knowledge_base.normalize import normalize
from pii.numbers import find_numbers

log = logging.getLogger(__name__)

__all__ = ["Region", "extract_entities", "is_valid_id_number", "regions", "resolve_choice"]

REGIONS_FILE = DATA_DIR / "guangxi_regions.yml"

TICKET_PATTERN = r"gx[\s-]?(\d{8})[\s-]?(\d{3,6})"
_TICKET = re.compile(rf"(?<![a-z0-9]){TICKET_PATTERN}(?![0-9])", re.IGNORECASE)

_APPROX_WORDS = ("多", "来", "几", "出头", "快", "快要", "将近", "差不多", "旬")
_AGE_WITH_UNIT = re.compile(
    rf"(快要|快|将近|差不多)?(?<![0-9])({NUMERAL}{{1,4}})\s*(多|来|几)?\s*(?:周岁|岁)"
)
_AGE_WITH_LE = re.compile(
    rf"(快要|快|将近|差不多|都|已经|今年|满)?(?<![0-9{CN_NUMERAL_CHARS}])({NUMERAL}{{2,4}})(多|来|几)?(?:了|出头)"
)
_AGE_AFTER_PERSON = re.compile(
    rf"(?:我妈|我爸|老妈|老爸|老人家|老人|老伴|奶奶|爷爷|外婆|外公|阿婆|阿公|母亲|父亲|家婆|家公|今年|年纪|年龄|岁数)"
    rf"(?:都|已经|快|快要|有|满|是)?\s*({NUMERAL}{{2,4}})(多|来|几)?"
    rf"(?![0-9{CN_NUMERAL_CHARS}]|年|天|月|块|元|万|千|个|次|号|斤|公斤|平|米|分|%|点|号楼|栋|楼)"
)
_AGE_DECADES = re.compile(r"([六七八九])旬")


def _compact_digits(text: str) -> str:
    return re.sub(r"[\s-]", "", text).upper()


def is_valid_id_number(number: str) -> bool:
    """True for an 18-digit resident ID whose checksum, birth date and region code are valid."""
    return bool(ric.is_valid(_compact_digits(number)))


class Region:
    """Guangxi's cities and districts with their aliases, and one regex over all of them."""

    def __init__(self, cities: dict[str, tuple[str, ...]], districts: dict[str, tuple[str, tuple[str, ...]]]):
        self.cities = cities  # canonical city → aliases
        self.districts = districts  # canonical district → (city, aliases)
        self._by_surface: dict[str, tuple[str, str, str | None]] = {}
        for city, aliases in cities.items():
            for surface in (city, *aliases):
                self._by_surface[surface] = ("city", city, None)
        for district, (city, aliases) in districts.items():
            for surface in (district, *aliases):
                self._by_surface.setdefault(surface, ("district", district, city))
        surfaces = sorted(self._by_surface, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in surfaces))

    @classmethod
    def load(cls, path: Path = REGIONS_FILE) -> Region:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            cities: dict[str, tuple[str, ...]] = {}
            districts: dict[str, tuple[str, tuple[str, ...]]] = {}
            for city, spec in raw["cities"].items():
                cities[city] = tuple(spec.get("aliases") or ())
                for district, aliases in (spec.get("districts") or {}).items():
                    districts[district] = (city, tuple(aliases or ()))
        except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as e:
            raise TrainingDataError(f"cannot read region table {path}: {e}") from e
        return cls(cities, districts)

    def surfaces(self, kind: str) -> list[str]:
        """Every written form of a city (``kind="city"``) or district, for Rasa lookup tables."""
        return [s for s, (k, _, _) in self._by_surface.items() if k == kind]

    def find(self, text: str) -> list[Entity]:
        found = []
        for m in self._pattern.finditer(text):
            kind, canonical, city = self._by_surface[m.group(0)]
            extra = {"city": city} if city else {}
            found.append(Entity(kind, canonical, m.group(0), m.start(), m.end(), extra=extra))
        return found


@lru_cache(maxsize=1)
def regions() -> Region:
    return Region.load()


def _tickets(text: str) -> list[Entity]:
    found = []
    for m in _TICKET.finditer(text):
        stamp = m.group(1)
        try:
            date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8]))
        except ValueError:
            continue
        found.append(Entity("ticket_number", f"GX{stamp}{m.group(2)}", m.group(0), m.start(), m.end()))
    return found


def _id_numbers(text: str) -> list[Entity]:
    # Only IDs that pass the checksum, birth date and region check become entities (pii masks all of them).
    return [Entity("id_number", hit.canonical, text[hit.start:hit.end], hit.start, hit.end)
            for hit in find_numbers(text) if hit.kind == "id_number" and ric.is_valid(hit.canonical)]


def _phones(text: str) -> list[Entity]:
    return [Entity("phone", hit.canonical, text[hit.start:hit.end], hit.start, hit.end)
            for hit in find_numbers(text) if hit.kind == "phone"]


def _ages(text: str) -> list[Entity]:
    found: list[Entity] = []

    def add(m: re.Match[str], number_group: int, low: int, extra_words: tuple[str | None, ...]) -> None:
        value = to_int(m.group(number_group))
        if value is None or not low <= value <= 120:
            return
        approximate = any(w in _APPROX_WORDS for w in extra_words if w) or "出头" in m.group(0)
        found.append(Entity("age", value, m.group(0), m.start(), m.end(), approximate=approximate))

    for m in _AGE_WITH_UNIT.finditer(text):
        add(m, 2, 0, (m.group(1), m.group(3)))
    for m in _AGE_WITH_LE.finditer(text):
        add(m, 2, 20, (m.group(1), m.group(3)))
    for m in _AGE_AFTER_PERSON.finditer(text):
        add(m, 1, 40, (m.group(2), "快" if "快" in m.group(0) else None))
    for m in _AGE_DECADES.finditer(text):
        value = to_int(m.group(1))
        if value is not None:
            found.append(Entity("age", value * 10, m.group(0), m.start(), m.end(), approximate=True))
    return found


def _drop_overlaps(entities: list[Entity]) -> list[Entity]:
    """Keeps earlier-listed entities over later ones that overlap them; returns them in text order."""
    kept: list[Entity] = []
    for entity in entities:
        if all(entity.end <= k.start or k.end <= entity.start for k in kept):
            kept.append(entity)
    return sorted(kept, key=lambda e: (e.start, e.end))


def extract_entities(text: str, *, today: date | None = None, normalized: bool = False) -> list[Entity]:
    """Every entity in ``text``; offsets refer to ``normalize(text)`` unless ``normalized`` is set.

    Never raises for any ``str``. Where two findings overlap, the more specific wins: ticket and
    ID numbers over phones, those over dates, ages, places and choices.
    """
    if not text:
        return []
    clean = text if normalized else normalize(text)
    today = today or date.today()
    ordered: list[Entity] = [*_tickets(clean), *_id_numbers(clean), *_phones(clean)]
    ordered += extract_dates(clean, today)
    ordered += _ages(clean)
    ordered += regions().find(clean)
    choice = extract_choice(clean)
    if choice is not None:
        ordered.append(choice)
    entities = _drop_overlaps(ordered)
    log.debug("entities found: %s", [e.type for e in entities])
    return entities
