"""CAP 1.2 parsing: the samples of issue 17, and hostile documents refused with a short reason."""

from __future__ import annotations

import datetime as dt

import pytest
from cap_testkit import GOOD, HOSTILE, cap, huge_document

from assistant.bulletins import CapError
from assistant.bulletins.cap import MAX_CAP_BYTES, parse_cap, parse_many, parse_references, parse_time

CHINA = dt.timezone(dt.timedelta(hours=8))


def test_rainstorm_orange_is_read_from_its_chinese_info() -> None:
    alert = parse_cap(cap("rainstorm_orange"))
    assert alert.identifier == "45010041600000_20261204200000"
    assert alert.sender == "45010041600000"
    assert (alert.status, alert.msg_type) == ("Actual", "Alert")
    # The English <info> comes first in the document; the zh-CN one is chosen.
    assert alert.language == "zh-CN"
    assert alert.event == "暴雨" and alert.severity == "Severe" and alert.urgency == "Immediate"
    assert alert.certainty == "Likely"
    assert alert.sender_name == "南宁市气象台"
    assert alert.headline == "南宁市气象台发布暴雨橙色预警信号"
    assert "低洼处" in alert.instruction
    assert alert.extra["预警颜色"] == "橙色"
    assert alert.areas[0].description == "南宁市青秀区"
    assert alert.areas[0].geocodes == (("行政区划代码", "450103"),)
    assert alert.references == ()


def test_times_are_aware_utc() -> None:
    alert = parse_cap(cap("rainstorm_orange"))
    assert alert.sent == dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
    assert alert.sent.utcoffset() == dt.timedelta(0)
    assert alert.expires == dt.datetime(2026, 12, 5, 8, 0, tzinfo=CHINA)
    assert alert.effective == alert.sent


def test_update_and_cancel_carry_their_references() -> None:
    update = parse_cap(cap("rainstorm_red_update"))
    assert update.msg_type == "Update" and update.severity == "Extreme" and update.extra["预警颜色"] == "红色"
    assert update.references == (("45010041600000", "45010041600000_20261204200000"),)
    cancel = parse_cap(cap("rainstorm_cancel"))
    assert cancel.msg_type == "Cancel"
    assert cancel.references == (("45010041600000", "45010041600000_20261204200000"),
                                 ("45010041600000", "45010041600000_20261204220000"))


@pytest.mark.parametrize("name", GOOD)
def test_every_sample_parses(name: str) -> None:
    alert = parse_cap(cap(name))
    assert alert.event and alert.sent.tzinfo is not None and alert.areas


def test_landslide_keeps_its_hazard_parameter() -> None:
    alert = parse_cap(cap("landslide_red"))
    assert alert.event == "地质灾害" and alert.severity == "Extreme"
    assert alert.extra == {"预警颜色": "红色", "灾种": "山体滑坡"}


@pytest.mark.parametrize(("name", "reason"), [("billion_laughs", "DTD not allowed"),
                                              ("external_entity", "DTD not allowed"),
                                              ("wrong_namespace", "wrong namespace"), ("not_xml", "not XML")])
def test_hostile_samples_are_refused(name: str, reason: str) -> None:
    assert name in HOSTILE
    with pytest.raises(CapError) as caught:
        parse_cap(cap(name))
    assert str(caught.value) == reason
    with pytest.raises(CapError):
        parse_many(cap(name))


def test_an_entity_without_a_dtd_is_refused_too() -> None:
    body = cap("rainstorm_orange").replace(b"<description>", b"<description>&amp;&nbsp;", 1)
    with pytest.raises(CapError, match="not XML"):
        parse_cap(body)


def test_a_20_mb_document_is_refused_by_size_before_parsing() -> None:
    data = huge_document()
    assert len(data) == 20 * 1024 * 1024
    with pytest.raises(CapError, match="too large"):
        parse_cap(data)
    just_over = huge_document(MAX_CAP_BYTES + 1)
    with pytest.raises(CapError, match="too large"):
        parse_cap(just_over)
    assert parse_cap(huge_document(MAX_CAP_BYTES)).identifier  # at the cap: still read


@pytest.mark.parametrize("field", ["identifier", "sender", "sent", "status", "msgType"])
def test_missing_required_alert_fields(field: str) -> None:
    data = cap("typhoon_blue")
    start, end = data.index(f"<{field}>".encode()), data.index(f"</{field}>".encode()) + len(field) + 3
    with pytest.raises(CapError, match=f"missing <{field}>"):
        parse_cap(data[:start] + data[end:])


@pytest.mark.parametrize("field", ["event", "urgency", "severity", "certainty", "category"])
def test_missing_required_info_fields(field: str) -> None:
    data = cap("typhoon_blue")
    start, end = data.index(f"<{field}>".encode()), data.index(f"</{field}>".encode()) + len(field) + 3
    with pytest.raises(CapError, match=f"missing <{field}>"):
        parse_cap(data[:start] + data[end:])


@pytest.mark.parametrize(("old", "new", "reason"), [
    (b"<severity>Minor</severity>", b"<severity>Terrible</severity>", "bad <severity>"),
    (b"<status>Actual</status>", b"<status>Real</status>", "bad <status>"),
    (b"<sent>2026-12-04T10:00:00+08:00</sent>", b"<sent>2026-12-04T10:00:00</sent>", "<sent> has no time zone"),
    (b"<sent>2026-12-04T10:00:00+08:00</sent>", b"<sent>yesterday</sent>", "bad <sent>"),
    (b"<identifier>45010041600000_20261204100000</identifier>", b"<identifier>a b</identifier>",
     "bad identifier or sender"),
    (b"<identifier>45010041600000_20261204100000</identifier>",
     b"<identifier>" + b"x" * 201 + b"</identifier>", "identifier or sender too long"),
])
def test_bad_field_values(old: bytes, new: bytes, reason: str) -> None:
    data = cap("typhoon_blue")
    assert old in data
    with pytest.raises(CapError) as caught:
        parse_cap(data.replace(old, new))
    assert str(caught.value) == reason


def test_lower_case_enumerations_are_taken() -> None:
    alert = parse_cap(cap("typhoon_blue").replace(b"<severity>Minor</severity>", b"<severity>minor</severity>"))
    assert alert.severity == "Minor"


def test_an_update_without_references_is_refused() -> None:
    data = cap("typhoon_yellow")
    start, end = data.index(b"<references>"), data.index(b"</references>") + len(b"</references>")
    with pytest.raises(CapError, match="Update without <references>"):
        parse_cap(data[:start] + data[end:])


def test_references_parsing() -> None:
    assert parse_references("a,b,2026-12-04T10:00:00+08:00  c,d,2026-12-04T11:00:00-00:00") == (("a", "b"), ("c", "d"))
    assert parse_references("") == ()
    for bad in ("a,b", "a,,2026-12-04T10:00:00+08:00", "a,b,notatime"):
        with pytest.raises(CapError):
            parse_references(bad)


def test_parse_time_utc_forms() -> None:
    assert parse_time("2026-12-04T12:00:00-00:00") == dt.datetime(2026, 12, 4, 12, tzinfo=dt.UTC)
    assert parse_time("2026-12-04T20:00:00+08:00") == dt.datetime(2026, 12, 4, 12, tzinfo=dt.UTC)


def test_a_cancel_without_info_is_read() -> None:
    data = cap("rainstorm_cancel")
    start, end = data.index(b"<info>"), data.index(b"</info>") + len(b"</info>")
    alert = parse_cap(data[:start] + data[end:])
    assert alert.msg_type == "Cancel" and alert.event == "" and len(alert.references) == 2


def test_an_alert_without_info_is_refused() -> None:
    data = cap("typhoon_blue")
    start, end = data.index(b"<info>"), data.index(b"</info>") + len(b"</info>")
    with pytest.raises(CapError, match="missing <info>"):
        parse_cap(data[:start] + data[end:])


def test_parse_many_reads_a_wrapper_of_alerts() -> None:
    def body(name: str) -> bytes:
        return cap(name).split(b"?>", 1)[1]

    doc = b"<alerts>" + body("typhoon_blue") + body("landslide_red") + b"</alerts>"
    alerts = parse_many(doc)
    assert [a.event for a in alerts] == ["台风", "地质灾害"]
    assert parse_many(cap("typhoon_blue"))[0].event == "台风"
    with pytest.raises(CapError, match="not a CAP alert"):
        parse_many(b"<alerts><nothing/></alerts>")
    with pytest.raises(CapError, match="not a CAP alert"):
        parse_cap(doc)


def test_refusal_reasons_never_quote_the_document() -> None:
    secret = "居民张三13800000000"
    data = cap("typhoon_blue").replace(b"<status>Actual</status>", f"<status>{secret}</status>".encode())
    with pytest.raises(CapError) as caught:
        parse_cap(data)
    assert secret not in str(caught.value)
