"""Which communities a warning's CAP ``<area>`` covers.

Matching is a pure function (``covered``) over plain community records (``Place``), loaded by ``load_places``.
Rules, per area (a warning covers the union of its areas):

- **geocode**: an administrative-division code (``行政区划代码``) covers a community whose profile lists an
  ``area_codes`` entry equal to it or below it (450103 covers 450103001001). Codes are compared without their
  trailing zero groups (450100 南宁市 → 4501, 450103001000 → 450103001), so a city code covers its districts.
  A geocode named ``COMMUNITY_GEOCODE`` is one community's own code (manual warnings use it).
- **areaDesc**, most specific first: a community named in it (竹溪社区, or 竹溪) is covered; else a street
  named in it (新竹街道) covers that street's communities — unless the text also names one of that street's
  communities, which narrows it; else a district named (青秀区 in 南宁市青秀区) covers all its communities,
  narrowed the same way by a street or community of that district.
- **a city-wide (or province-wide) area** — the text names a city and nothing below it (南宁市, 南宁市全市,
  广西壮族自治区): it covers every community whose profile ``city`` (or ``province``) is named in it, and every
  community whose profile has no city at all. The second half is a deliberate choice: a single-community
  installation that never filled in its city must still get its city's warnings, and warning the residents
  of a place once too often is better than missing a 红色 warning. Fill in ``city`` to be exact.

- **an installation whose communities say nothing of where they are** (no street, district, city, province
  or area code anywhere — a fresh single-community ``make run``): every area of the feed it was configured
  with covers them, for the same reason. ``shequ communities import --district/--street`` makes it exact; as
  soon as one community has a place, matching is by place only.

Only active communities are covered. A district or street the table does not know covers nothing (it is not
ours). Comparisons ignore spaces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.bulletins.cap import CapArea
from assistant.communities.models import Community

COMMUNITY_GEOCODE = "shequ_community"  # a manual warning's area: one community, by its code
NAME_SUFFIXES = ("社区居委会", "社区", "居委会", "村委会", "村")  # 竹溪社区 is also called 竹溪
MIN_SHORT_NAME = 2  # a bare name of one character would match far too much
# "南宁市", "广西壮族自治区南宁市全市": a province and/or city with nothing narrower.
_WIDE = re.compile(r"^(?P<province>.*?(?:省|自治区))?(?P<city>[^省区县市]*?市)?(?:全市|全境|市区|全区|范围内|境内)?$")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Place:
    """A community as area matching sees it."""

    code: str
    name: str = ""
    street: str = ""
    district: str = ""
    city: str = ""
    province: str = ""
    area_codes: tuple[str, ...] = ()


def _clean(text: str) -> str:
    return _SPACES.sub("", text or "")


def normalise_code(code: str) -> str:
    """An administrative-division code without its trailing zero groups (so prefixes mean "inside")."""
    code = re.sub(r"\D", "", code or "")
    if len(code) <= 6:
        while len(code) > 2 and code.endswith("00"):
            code = code[:-2]
        return code
    while len(code) > 6 and code.endswith("000"):
        code = code[:-3]
    return code


def _names(place: Place) -> tuple[str, ...]:
    names = [place.name] if place.name else []
    for suffix in NAME_SUFFIXES:
        if place.name.endswith(suffix) and len(place.name) - len(suffix) >= MIN_SHORT_NAME:
            names.append(place.name[: -len(suffix)])
            break
    return tuple(_clean(n) for n in names if n)


def _by_geocode(area: CapArea, places: list[Place]) -> set[str]:
    found: set[str] = set()
    for name, value in area.geocodes:
        if name == COMMUNITY_GEOCODE:
            found |= {p.code for p in places if p.code == value.strip()}
            continue
        wanted = normalise_code(value)
        if len(wanted) < 2:
            continue
        for place in places:
            if any(normalise_code(own).startswith(wanted) for own in place.area_codes if own):
                found.add(place.code)
    return found


def _by_text(text: str, places: list[Place]) -> set[str]:
    named = {p.code for p in places if any(n in text for n in _names(p))}
    streets = {p.street for p in places if p.street and _clean(p.street) in text}
    districts = {p.district for p in places if p.district and _clean(p.district) in text}
    found = set(named)
    for street in streets:
        members = [p for p in places if p.street == street]
        if not any(p.code in named for p in members):  # a community named in this street narrows it
            found |= {p.code for p in members}
    for district in districts:
        members = [p for p in places if p.district == district]
        narrower = any(p.code in named or p.street in streets for p in members)
        if not narrower:
            found |= {p.code for p in members}
    return found


def _wide(text: str, places: list[Place]) -> set[str]:
    match = _WIDE.fullmatch(text)
    if match is None or not (match.group("province") or match.group("city")):
        return set()
    city, province = match.group("city") or "", match.group("province") or ""
    found: set[str] = set()
    for place in places:
        if city:
            if not place.city or _clean(place.city) in city or city in _clean(place.city):
                found.add(place.code)
        elif not place.province or _clean(place.province) in province:
            found.add(place.code)
    return found


def covered(areas: Iterable[CapArea], places: Iterable[Place]) -> tuple[str, ...]:
    """The codes of the communities (of ``places``, all active) that ``areas`` cover, sorted."""
    places = list(places)
    nowhere = bool(places) and not any(p.street or p.district or p.city or p.province or p.area_codes
                                        for p in places)
    found: set[str] = set()
    for area in areas:
        if nowhere and not any(name == COMMUNITY_GEOCODE for name, _value in area.geocodes):
            found |= {p.code for p in places}
        found |= _by_geocode(area, places)
        text = _clean(area.description)
        if not text:
            continue
        by_text = _by_text(text, places)
        found |= by_text or _wide(text, places)
    return tuple(sorted(found))


def place_of(row: Community) -> Place:
    profile = row.profile if isinstance(row.profile, dict) else {}
    codes = profile.get("area_codes") or ()
    if isinstance(codes, str | int):
        codes = (codes,)
    return Place(code=row.code, name=row.name or "", street=row.street or "", district=row.district or "",
                 city=str(profile.get("city") or ""), province=str(profile.get("province") or ""),
                 area_codes=tuple(str(c) for c in codes if str(c).strip()))


def load_places(db: Session) -> list[Place]:
    """Every active community of the deployment, as ``covered`` takes them."""
    return [place_of(row) for row in db.scalars(select(Community).where(Community.active.is_(True))
                                                 .order_by(Community.code))]


def communities_for(db: Session, areas: Iterable[CapArea]) -> tuple[str, ...]:
    return covered(areas, load_places(db))
