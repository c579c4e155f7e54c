"""One clock: rows stored at a known UTC instant are shown and exported in China time (UTC+8), and the
dashboard's days are China days."""

from __future__ import annotations

import csv
import datetime as dt
import io

from console_testkit import console_client, signed_in
from openpyxl import load_workbook

from assistant.clock import china_seconds, china_time
from assistant.console.stats import Period, compute, default_period
from assistant.handoff.tickets import create_work_order
from assistant.security.crypto import PersonalDataCipher
from assistant.storage.db import session_scope
from assistant.storage.models import Alert, AuditLog, ChatSession, Turn, UnansweredQuery

STORED = dt.datetime(2026, 3, 10, 2, 30, 15, tzinfo=dt.UTC)  # 10:30:15 in Beijing
CHINA_TEXT, UTC_TEXT = "2026-03-10 10:30", "2026-03-10 02:30"
DAY = "start=2026-03-10&end=2026-03-10"


def _seed(context) -> None:
    cipher = PersonalDataCipher.from_settings(context.settings.encryption_key, context.settings.var_dir)
    with session_scope(context.sessions) as session:
        session.add(AuditLog(at=STORED, actor="ada", action="kb.publish", target="senior-age-allowance",
                             detail="v3 from draft #4"))
        session.add(UnansweredQuery(created_at=STORED, session_id="s-clock", channel="web", query="怎么办居住证",
                                    reason="fallback", intent="ask_service"))
        session.add(Alert(created_at=STORED, session_id="s-clock", channel="kiosk", kind="emergency",
                          text="我爸摔倒了起不来"))
        # 01:00 on 03-10 in Beijing is still 03-09 in UTC; 00:30 on 03-11 in Beijing is 03-10 in UTC.
        for sid, at in (("s-early", dt.datetime(2026, 3, 9, 17, 0, tzinfo=dt.UTC)),
                        ("s-late", dt.datetime(2026, 3, 10, 16, 30, tzinfo=dt.UTC))):
            session.add(ChatSession(id=sid, channel="web", created_at=at))
            session.flush()
            session.add(Turn(session_id=sid, channel="web", user_text="问", action="answer", intent="ask_service",
                             reply_text="答", created_at=at))
        order = create_work_order(session, cipher, source="report_issue", channel="web", description="路灯不亮",
                                  route=False, department="社区")
        order.created_at = STORED


def test_clock_helpers():
    assert china_time(STORED) == CHINA_TEXT and china_seconds(STORED) == "2026-03-10 10:30:15"
    assert china_seconds(STORED.replace(tzinfo=None)) == "2026-03-10 10:30:15"  # SQLite gives naive UTC back
    assert china_time(None) == ""


def test_periods_are_china_days(app_context):
    _seed(app_context)
    day = Period(dt.date(2026, 3, 10), dt.date(2026, 3, 10))
    assert day.since == dt.datetime(2026, 3, 9, 16, 0, tzinfo=dt.UTC)
    assert day.until == dt.datetime(2026, 3, 10, 16, 0, tzinfo=dt.UTC)
    with session_scope(app_context.sessions) as session:
        board = compute(session, day, {})
        next_day = compute(session, Period(dt.date(2026, 3, 11), dt.date(2026, 3, 11)), {})
    assert board.conversations == 1 and board.replies == 1  # s-early: Beijing 03-10 01:00
    assert next_day.conversations == 1  # s-late: Beijing 03-11 00:30
    assert default_period(7, dt.date(2026, 3, 10)).start == dt.date(2026, 3, 4)


def test_audit_dashboard_and_exports_show_china_time(settings):
    with console_client(settings) as (client, context):
        _seed(context)
        signed_in(client, "admin")
        audit = client.get("/staff/audit", params={"action": "kb"}).text
        assert "2026-03-10 10:30:15" in audit and UTC_TEXT not in audit
        table = audit.split('id="audit"')[1]  # the filter's option values are codes; the table shows none
        assert "发布条目" in table and "kb.publish" not in table and "第 3 版，来自草稿 #4" in table

        dashboard = client.get(f"/staff/?{DAY}").text
        assert CHINA_TEXT in dashboard and UTC_TEXT not in dashboard
        assert 'id="em-total">1<' in dashboard and 'id="em-open"' in dashboard and "/staff/alerts" in dashboard

        for name in ("unanswered", "work_orders"):
            text = client.get(f"/staff/export/{name}.csv?{DAY}").content.decode("utf-8-sig")
            rows = list(csv.reader(io.StringIO(text)))
            assert len(rows) == 2, rows
            assert "2026-03-10 10:30:15" in rows[1] and UTC_TEXT not in text
        unanswered = list(csv.reader(io.StringIO(
            client.get(f"/staff/export/unanswered.csv?{DAY}").content.decode("utf-8-sig"))))
        assert unanswered[1][1:4] == ["网页", "答不上来", "待处理"] and unanswered[1][5] == "咨询办事"

        sheet = load_workbook(io.BytesIO(client.get(f"/staff/export/work_orders.xlsx?{DAY}").content)).active
        assert sheet.cell(2, 2).value == "2026-03-10 10:30:15"
        summary = client.get(f"/staff/export/summary.csv?{DAY}").content.decode("utf-8-sig")
        assert "回答率,全部,100.0%" in summary and "居民意图：咨询办事" in summary


def test_audit_page_filters_emergencies_by_chinese_group(settings):
    with console_client(settings) as (client, context):
        _seed(context)
        with session_scope(context.sessions) as session:
            session.add(AuditLog(at=STORED, actor="system", action="alert.escalate", target="alert:7",
                                 detail="emergency，180秒内无人确认"))
        signed_in(client, "admin")
        page = client.get("/staff/audit", params={"action": "alert"}).text
        assert '<option value="alert" selected>紧急求助（全部）</option>' in page
        table = page.split('id="audit"')[1]
        assert "紧急求助升级" in table and "紧急求助 #7" in table and "系统" in table
        assert "发布条目" not in table and "共 1 条" in page
        one = client.get("/staff/audit", params={"action": "kb.publish"}).text.split('id="audit"')[1]
        assert "发布条目" in one and "紧急求助升级" not in one
        assert client.get("/staff/audit", params={"action": "x" * 500, "page": "-3"}).status_code == 200


def test_unanswered_clusters_pick_china_days(app_context):
    from assistant.console.clustering import load_open

    # 01:00 on 03-10 in Beijing (03-09 in UTC) belongs to 03-10; 00:30 on 03-11 in Beijing does not.
    with session_scope(app_context.sessions) as session:
        for text, at in (("早上一点问的", dt.datetime(2026, 3, 9, 17, 0, tzinfo=dt.UTC)),
                         ("第二天问的", dt.datetime(2026, 3, 10, 16, 30, tzinfo=dt.UTC))):
            session.add(UnansweredQuery(created_at=at, session_id="s-day", channel="web", query=text,
                                        reason="fallback", intent="ask_service"))
    with session_scope(app_context.sessions) as session:
        found = [q.query for q in load_open(session, dt.date(2026, 3, 10), dt.date(2026, 3, 10))]
    assert found == ["早上一点问的"]
