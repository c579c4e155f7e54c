"""Console, issue 16 item 5 and the due list of item 3: an entry page shows 上次核对 and its `policy` source
links as links (http/https only); the KB list counts and marks entries due for review."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from sqlalchemy.orm.attributes import flag_modified

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assistant"))  # the console test kit lives there

from console_testkit import console_client, signed_in

from assistant.clock import today_china
from assistant.storage.db import session_scope
from assistant.storage.models import KbEntryRow

ENTRY = "senior-age-allowance"
SOURCE = "https://www.gov.cn/zhengce/content/202408/content_6965741.htm"
POLICY = f"《某办法》（2024年）：{SOURCE} ；另见javascript:alert(1)"


def _set(context, **fields: object) -> None:
    with session_scope(context.sessions) as session:
        row = session.get(KbEntryRow, ENTRY)
        data = dict(row.data)
        aspects = dict(data.get("aspects") or {})
        aspects["policy"] = fields.pop("policy", aspects.get("policy"))
        data.update(fields, aspects=aspects)
        row.data = data
        flag_modified(row, "data")


def test_entry_page_shows_last_checked_and_clickable_sources(settings):
    with console_client(settings) as (client, context):
        _set(context, policy=POLICY)
        signed_in(client, "staff")
        page = client.get(f"/staff/kb/entry/{ENTRY}")
        assert page.status_code == 200
        html = page.text
        # 上次核对: the day the live version was published, China date
        last_checked = html.split('id="last-checked">')[1].split("<")[0]
        assert "上次核对" in html and last_checked == today_china().isoformat()
        sources = html.split('id="policy-sources">')[1].split("</dd>")[0]
        assert f'<a href="{SOURCE}" target="_blank" rel="noopener noreferrer">{SOURCE}</a>' in sources
        assert "javascript:alert(1)" in sources  # shown as text …
        assert 'href="javascript' not in html  # … never as a link
        assert sources.count("<a ") == 1


def test_kb_list_counts_and_marks_entries_due_for_review(settings):
    with console_client(settings) as (client, context):
        signed_in(client, "staff")
        far = (today_china() + dt.timedelta(days=400)).isoformat()
        with session_scope(context.sessions) as session:
            for row in session.query(KbEntryRow):
                row.data = {**row.data, "review_by": far}
                flag_modified(row, "data")
        before = client.get("/staff/kb").text
        assert "没有待复核的条目" in before and "待复核</span>" not in before
        _set(context, review_by=(today_china() + dt.timedelta(days=3)).isoformat())
        page = client.get("/staff/kb").text
        assert "待复核 1 条" in page.split('id="due-count">')[1].split("</p>")[0]
        row = page.split(f"/staff/kb/entry/{ENTRY}\"")[1].split("</tr>")[0]
        assert '<span class="badge overdue">待复核</span>' in row
        filtered = client.get("/staff/kb", params={"due": "1"}).text
        assert f"/staff/kb/entry/{ENTRY}\"" in filtered and "共 1 条" in filtered
