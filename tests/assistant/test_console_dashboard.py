"""Dashboard figures, server-rendered SVG charts, and exports with personal data masked."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from console_testkit import console_client, signed_in
from markupsafe import Markup
from openpyxl import load_workbook
from sqlalchemy import select

from assistant.clock import today_china
from assistant.console.charts import columns, hbar
from assistant.console.stats import Period, compute
from assistant.handoff.tickets import create_work_order
from assistant.security.crypto import PersonalDataCipher
from assistant.storage.db import session_scope
from assistant.storage.models import AuditLog, ChatSession, Turn

PHONE = "13812345678"
ID_NUMBER = "450102199001011234"


def _seed(context) -> None:
    now = dt.datetime.now(dt.UTC)
    cipher = PersonalDataCipher.from_settings(context.settings.encryption_key, context.settings.var_dir)
    plan = {"s1": ("web", ["answer", "answer", "fallback"]), "s2": ("web", ["answer", "handoff"]),
            "s3": ("kiosk", ["fallback", "answer"])}
    with session_scope(context.sessions) as session:
        for sid, (channel, actions) in plan.items():
            session.add(ChatSession(id=sid, channel=channel, created_at=now))
            session.flush()
            for action in actions:
                session.add(Turn(session_id=sid, channel=channel, user_text="问", action=action, reply_text="答",
                                 topic_id="senior-age-allowance" if action == "answer" else None, created_at=now))
        create_work_order(session, cipher, source="report_issue", channel="web", contact=PHONE,
                          description=f"=HYPERLINK(\"http://x\") 楼道灯坏了，联系{PHONE}，身份证{ID_NUMBER}",
                          location="南宁市青秀区民族大道100号3栋2单元501", route=False, department="社区",
                          due_at=now - dt.timedelta(days=1))
        create_work_order(session, cipher, source="report_issue", channel="kiosk", description="路灯不亮",
                          route=False, department="社区")


def test_figures_are_computed_from_the_stored_turns(app_context):
    _seed(app_context)
    today = today_china()  # the dashboard counts China days (at 00:30 in Beijing the UTC date is yesterday)
    with session_scope(app_context.sessions) as session:
        board = compute(session, Period(today - dt.timedelta(days=6), today), {"senior-age-allowance": "高龄津贴"})
        web = compute(session, Period(today - dt.timedelta(days=6), today, "web"), {})
    assert board.conversations == 3 and board.replies == 7
    assert board.answer_rate == 4 / 7 and board.fallback_rate == 2 / 7
    assert board.handoff_rate == 1 / 3
    assert board.top_topics == [("高龄津贴", 4)]
    assert board.per_channel["kiosk"]["answer_rate"] == 0.5
    assert board.orders_total == 2 and board.orders_overdue == 1
    assert dict(board.orders_by_status) == {"受理": 2}
    assert sum(board.weekly["会话数"]) == 3
    assert web.conversations == 2 and web.replies == 5 and web.orders_total == 1


def test_charts_are_svg_with_escaped_labels():
    chart = hbar([("<script>alert(1)</script>", 3), ("高龄津贴", 1)], title="热门<问题>")
    assert isinstance(chart, Markup) and chart.startswith("<svg")
    assert "<script>" not in chart and "&lt;script&gt;" in chart
    weekly = columns(["11-16", "11-23"], {"回答率": [0.5, 0.75]}, title="每周", percent=True)
    assert weekly.count("<rect") >= 3 and "75%" in weekly


@pytest.mark.parametrize(("today", "warned"), [(dt.date(2026, 11, 29), True), (dt.date(2026, 5, 1), False)])
def test_dashboard_warns_when_next_years_holidays_are_missing(settings, monkeypatch, today, warned):
    monkeypatch.setattr("assistant.console.dashboard_routes.today_in_china", lambda: today)
    with console_client(settings) as (client, _context):
        signed_in(client, "staff")
        page = client.get("/staff/")
        assert page.status_code == 200
        assert ('id="calendar-gap"' in page.text) is warned
        if warned:
            assert "2027 年的法定节假日" in page.text and "orders.yaml" in page.text


def test_dashboard_page_and_masked_exports(settings):
    with console_client(settings) as (client, context):
        _seed(context)
        signed_in(client, "staff")
        page = client.get("/staff/")
        assert page.status_code == 200
        assert page.text.count("<svg") >= 6
        assert 'id="kpi-answer">57.1%' in page.text and 'id="kpi-overdue">1<' in page.text

        csv_text = client.get("/staff/export/work_orders.csv").content.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(csv_text)))
        body = "\n".join(",".join(r) for r in rows)
        assert PHONE not in body and ID_NUMBER not in body
        assert "138****5678" in body and "4501**********1234" in body
        assert "3栋2单元501" not in body  # the door number is personal
        description = rows[1][rows[0].index("诉求（已脱敏）")]
        assert description.startswith("'=")  # no formula runs when the file is opened

        workbook = load_workbook(io.BytesIO(client.get("/staff/export/work_orders.xlsx").content))
        cells = [str(c.value) for row in workbook.active.iter_rows() for c in row if c.value is not None]
        assert not any(PHONE in c for c in cells)
        assert all(c.data_type != "f" for row in workbook.active.iter_rows() for c in row)
        summary = client.get("/staff/export/summary.csv").content.decode("utf-8-sig")
        assert "回答率" in summary and "热门问题：" in summary

        assert client.get("/staff/export/work_orders.csv", params={"reveal": 1}).status_code == 403
        signed_in(client, "admin")
        revealed = client.get("/staff/export/work_orders.csv", params={"reveal": 1}).content.decode("utf-8-sig")
        assert PHONE in revealed
        with session_scope(context.sessions) as session:
            audit = session.scalars(select(AuditLog).where(AuditLog.action == "personal.export")).all()
            assert len(audit) == 1 and audit[0].actor == "ada"
        assert client.get("/staff/export/nothing.csv").status_code == 404
        assert client.get("/staff/export/summary.pdf").status_code == 404
