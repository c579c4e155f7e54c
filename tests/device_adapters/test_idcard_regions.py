"""The Guangxi division-code table, checked against python-stdnum's own GB/T 2260 history."""

from __future__ import annotations

import re

import pytest
from stdnum import numdb

from device_adapters.idcard.regions import (
    DISTRICTS,
    FORMER_DISTRICTS,
    FORMER_PREFECTURES,
    GUANGXI,
    PREFECTURES,
    lookup_region,
)

LOC = numdb.get("cn/loc")


def stdnum_names(code: str) -> list[tuple[str, int | None, int | None]]:
    """(name, first year, last year) of every name stdnum records for ``code``."""
    info = {k: v for _, props in LOC.info(code) for k, v in props.items()}
    names = []
    for item in info.get("county", "").split(","):
        match = re.fullmatch(r"(?:\[(\d*)-(\d*)\])?(.+)", item)
        if match:
            start, end, name = match.groups()
            names.append((name, int(start) if start else None, int(end) if end else None))
    return names


def test_all_fourteen_prefectures() -> None:
    assert PREFECTURES == {
        "4501": "南宁市",
        "4502": "柳州市",
        "4503": "桂林市",
        "4504": "梧州市",
        "4505": "北海市",
        "4506": "防城港市",
        "4507": "钦州市",
        "4508": "贵港市",
        "4509": "玉林市",
        "4510": "百色市",
        "4511": "贺州市",
        "4512": "河池市",
        "4513": "来宾市",
        "4514": "崇左市",
    }


@pytest.mark.parametrize("prefix", sorted(PREFECTURES))
def test_prefecture_names_agree_with_stdnum(prefix: str) -> None:
    assert stdnum_names(prefix + "00")[-1][0] == PREFECTURES[prefix]


@pytest.mark.parametrize("code", sorted(DISTRICTS))
def test_every_district_is_current_and_named_as_in_stdnum(code: str) -> None:
    name, _, end = stdnum_names(code)[-1]
    assert name == DISTRICTS[code]
    assert end is None, f"{code} {name} was abolished in {end}"
    assert code[:4] in PREFECTURES


def test_no_current_county_of_stdnum_is_missing() -> None:
    missing = []
    for prefix in PREFECTURES:
        for suffix in range(2, 100):
            code = f"{prefix}{suffix:02d}"
            names = stdnum_names(code)
            current = names and names[-1][2] is None and names[-1][0] != "市辖区"
            if current and code not in DISTRICTS:
                missing.append((code, names[-1][0]))
    assert missing == []


@pytest.mark.parametrize("code", sorted(FORMER_DISTRICTS))
def test_former_codes_are_named_as_in_stdnum_and_really_retired(code: str) -> None:
    name, successor = FORMER_DISTRICTS[code]
    names = stdnum_names(code)
    assert name in [n for n, _, _ in names]
    assert names[-1][2] is not None  # stdnum records an end year
    if successor:
        assert successor in DISTRICTS


def test_former_prefectures_are_named_as_in_stdnum() -> None:
    for prefix, label in FORMER_PREFECTURES.items():
        recorded = [name for name, _, _ in stdnum_names(prefix + "00")]
        assert all(part in recorded for part in label.split("/"))


@pytest.mark.parametrize(
    ("code", "city", "district"),
    [
        ("450102", "南宁市", "兴宁区"),
        ("450103", "南宁市", "青秀区"),
        ("450181", "南宁市", "横州市"),
        ("450202", "柳州市", "城中区"),
        ("450206", "柳州市", "柳江区"),
        ("450226", "柳州市", "三江侗族自治县"),
        ("450305", "桂林市", "七星区"),
        ("450381", "桂林市", "荔浦市"),
        ("451481", "崇左市", "凭祥市"),
    ],
)
def test_current_codes(code: str, city: str, district: str) -> None:
    region = lookup_region(code + "19800101001X")
    assert (region.province, region.city, region.district) == (GUANGXI, city, district)
    assert region.in_guangxi and not region.former
    assert region.label == city + district


def test_a_former_county_code_names_the_county_and_its_successor() -> None:
    region = lookup_region("450127")
    assert (region.city, region.district, region.former) == ("南宁市", "横县", True)
    assert region.current_district == "横州市"


def test_unknown_codes_degrade_to_the_prefecture_then_guangxi_then_outside() -> None:
    assert (lookup_region("450199").city, lookup_region("450199").district) == ("南宁市", None)
    old = lookup_region("452122")
    assert old.city == "南宁地区" and old.former and old.in_guangxi
    province_only = lookup_region("459900")
    assert province_only.in_guangxi and province_only.city is None and province_only.label == GUANGXI
    outside = lookup_region("440103")
    assert outside.province == "广东省" and not outside.in_guangxi and outside.label == "广东省（省外）"


@pytest.mark.parametrize("code", ["", "45", "abcdef", "990000", None])
def test_invalid_codes_give_an_unknown_region(code: str | None) -> None:
    region = lookup_region(code)  # type: ignore[arg-type]
    assert not region.in_guangxi
    assert region.city is None
