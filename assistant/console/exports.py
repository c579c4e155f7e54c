"""CSV and Excel downloads of console data, with personal data masked.

Unmasked work-order contacts are exported only when a role that may see them asks (``reveal``), and the
export is written to the audit log first. Cells that would start a spreadsheet formula are neutralised.
Headers and codes are Chinese, times are China time to the second, rates are percentages.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.auth.deps import StaffUser
from assistant.auth.personal import may_reveal, record_access
from assistant.clock import china_seconds
from assistant.communities.scope import scope
from assistant.console.stats import ORDER_OPEN, Dashboard
from assistant.labels import percent, zh
from assistant.security.crypto import PersonalDataCipher
from assistant.storage.models import UnansweredQuery, WorkOrder
from pii import mask_address, mask_text

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_EXPORT_ROWS = 100_000


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return china_seconds(value)  # stored in UTC; a person reads China time
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, int | dt.date):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")  # BOM: Excel on Windows then reads the Chinese right


def to_xlsx(sheet: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    workbook = Workbook()
    ws = workbook.active
    ws.title = sheet[:31]
    ws.append(list(header))
    for row in rows:
        cells = [_cell(v) for v in row]
        ws.append(cells)
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text, never a formula
    ws.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def unanswered_rows(session: Session, since: dt.datetime, until: dt.datetime,
                    channel: str = "", community: str | None = None) -> tuple[list[str], list[list[Any]]]:
    query = select(UnansweredQuery).where(UnansweredQuery.created_at >= since, UnansweredQuery.created_at < until)
    if channel:
        query = query.where(UnansweredQuery.channel == channel)
    query = scope(query, UnansweredQuery, community)
    header = ["时间", "渠道", "原因", "状态", "居民问题（已脱敏）", "意图", "处理到条目"]
    rows = [[r.created_at, zh(r.channel, "channel"), zh(r.reason, "unanswered_reason"),
             zh(r.status, "unanswered_status"), mask_text(r.query), zh(r.intent, "intent"), r.resolved_entry_id or ""]
            for r in session.scalars(query.order_by(UnansweredQuery.created_at).limit(MAX_EXPORT_ROWS))]
    return header, rows


def work_order_rows(session: Session, since: dt.datetime, until: dt.datetime, user: StaffUser,
                    cipher: PersonalDataCipher | None, reveal: bool = False,
                    channel: str = "", community: str | None = None) -> tuple[list[str], list[list[Any]]]:
    """Work orders of the period: a department's own (every community's), else ``community``'s (None: all)."""
    reveal = reveal and may_reveal(user) and cipher is not None
    query = select(WorkOrder).where(WorkOrder.created_at >= since, WorkOrder.created_at < until)
    if channel:
        query = query.where(WorkOrder.channel == channel)
    if user.role == "department" and user.department:
        query = query.where(WorkOrder.department == user.department)
    else:
        query = scope(query, WorkOrder, community)
    orders = list(session.scalars(query.order_by(WorkOrder.created_at).limit(MAX_EXPORT_ROWS)))
    if reveal:
        record_access(session, user, "personal.export", f"work_orders {since:%Y-%m-%d}..{until:%Y-%m-%d}",
                      f"{len(orders)} work orders with contacts")
    now = dt.datetime.now(dt.UTC)
    header = ["工单号", "受理时间", "渠道", "类别", "部门", "状态", "办理期限", "是否超期", "诉求（已脱敏）",
              "地点", "联系电话"]
    rows = []
    for order in orders:
        due = order.due_at if order.due_at is None or order.due_at.tzinfo else order.due_at.replace(tzinfo=dt.UTC)
        overdue = "超期" if due is not None and due < now and order.status in ORDER_OPEN else ""
        if reveal and order.contact_encrypted:
            contact = cipher.decrypt(order.contact_encrypted) or order.contact_masked  # type: ignore[union-attr]
            location = order.location
        else:
            contact, location = order.contact_masked, mask_address(order.location)
        rows.append([order.number, order.created_at, zh(order.channel, "channel"),
                     order.category, order.department, order.status, order.due_at, overdue,
                     mask_text(order.description), location, contact])
    return header, rows


def summary_rows(board: Dashboard) -> tuple[list[str], list[list[Any]]]:
    header = ["项目", "范围", "数值"]
    rows: list[list[Any]] = [
        ["会话数", "全部", board.conversations], ["回复数", "全部", board.replies],
        ["回答率", "全部", percent(board.answer_rate)], ["兜底率", "全部", percent(board.fallback_rate)],
        ["转人工/工单率", "全部", percent(board.handoff_rate)], ["工单数", "全部", board.orders_total],
        ["超期工单", "全部", board.orders_overdue]]
    for channel, figures in board.per_channel.items():
        label = zh(channel, "channel")
        rows += [["会话数", label, figures["conversations"]], ["回答率", label, percent(figures["answer_rate"])],
                 ["兜底率", label, percent(figures["fallback_rate"])]]
    for index, week in enumerate(board.weeks):
        for name, values in board.weekly.items():
            value = values[index] if name == "会话数" else percent(values[index])
            rows.append([name, f"{week} 当周", value])
    rows += [["回复类型：" + zh(action, "action"), "全部", count] for action, count in board.actions.most_common()]
    rows += [["居民意图：" + zh(intent, "intent"), "全部", count] for intent, count in board.intents.most_common()]
    rows += [["工单状态：" + status, "全部", count] for status, count in board.orders_by_status]
    rows += [["热门问题：" + title, "全部", count] for title, count in board.top_topics]
    return header, rows
