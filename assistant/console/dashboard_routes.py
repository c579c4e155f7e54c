"""The dashboard (charts as server-rendered SVG) and the CSV/Excel exports."""

from __future__ import annotations

import datetime as dt
import logging

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from assistant.auth.deps import StaffUser
from assistant.auth.personal import may_reveal
from assistant.clock import as_utc, now_china
from assistant.communities.scope import CITY_LABEL, choices, dashboard_community, is_city
from assistant.console import exports
from assistant.console.charts import columns, hbar
from assistant.console.clustering import cluster_queries, load_open, merge_threshold
from assistant.console.community_rollup import rollup
from assistant.console.emergency_stats import duration_text, emergencies
from assistant.console.stats import CHANNEL_LABELS, Period, compute
from assistant.console.templating import render
from assistant.console.unanswered_routes import parse_period
from assistant.console.web import Reader, app_context
from assistant.labels import zh
from assistant.storage.db import session_scope

log = logging.getLogger(__name__)

router = APIRouter(prefix="/staff", include_in_schema=False)
_MEDIA = {"csv": "text/csv; charset=utf-8",
          "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def today_in_china() -> dt.date:
    return now_china().date()


def _community(request: Request, user: StaffUser, period: Period, requested: str) -> list[tuple[str, str]]:
    """Sets the period's community (community staff: always their own) and returns the communities a city
    user may choose from ([] for community staff, who get no selector and no roll-up)."""
    communities = choices(app_context(request))
    period.community = dashboard_community(user, requested[:32], [code for code, _label in communities])
    return communities if is_city(user) else []


@router.get("/")
def dashboard(request: Request, user: Reader, start: str = "", end: str = "", channel: str = "",
              community: str = "") -> Response:
    period, error = parse_period(start[:10], end[:10], channel[:20])
    communities = _community(request, user, period, community)
    context = app_context(request)
    kb = context.kb.current()
    titles = {e.id: e.title for e in kb.entries.values()}
    with session_scope(context.sessions) as session:
        board = compute(session, period, titles)
        # load_open counts UTC days; a China day starts at 16:00 UTC the day before, so widen by a day and cut.
        open_rows = [r for r in load_open(session, period.start - dt.timedelta(days=1), period.end, period.channel,
                                          who=period.community)
                     if period.since <= as_utc(r.created_at) < period.until]  # type: ignore[operator]
        alerts = emergencies(session, period.since, period.until, period.channel, period.community)
        table = rollup(session, period, communities) if communities else []
    # The same grouping as the 未答问题 page: groups that mean the same (天气/下雨) are one need.
    clusters = cluster_queries(open_rows, kb.synonyms, encoder=kb.index.encoder,
                               merge_similarity=merge_threshold(kb))[:8]
    charts = {
        "weekly": columns(board.weeks, {"会话数": board.weekly["会话数"]}, title="每周会话数"),
        "rates": columns(board.weeks, {"回答率": board.weekly["回答率"], "兜底率": board.weekly["兜底率"]},
                         title="每周回答率与兜底率", percent=True),
        "topics": hbar(board.top_topics, title="热门问题"),
        "clusters": hbar([(c.representative, c.count) for c in clusters], title="未答问题最多的需求"),
        "orders": hbar(board.orders_by_status, title="工单状态"),
        "actions": hbar([(zh(a, "action"), n) for a, n in board.actions.most_common()], title="小助手的回复"),
        "intents": hbar([(zh(i, "intent"), n) for i, n in board.intents.most_common(10)], title="居民想做什么"),
        "channels": hbar([(CHANNEL_LABELS.get(ch, ch), f["answer_rate"]) for ch, f in board.per_channel.items()],
                         title="各渠道回答率", percent=True),
        "communities": hbar([(row.label, row.conversations) for row in table[:-1]], title="各社区会话数"),
    }
    # Deadlines of work orders count working days; a year without its holiday schedule counts weekends only.
    calendar = request.app.state.engine.handoff.policy.calendar  # the policy the running engine files orders with
    missing_years = calendar.missing_schedules(today_in_china())
    return render(request, "staff/dashboard.html", {"board": board, "charts": charts, "period": period,
                                                    "error": error, "channels": CHANNEL_LABELS,
                                                    "missing_years": missing_years, "alerts": alerts,
                                                    "ack_median": duration_text(alerts.median_ack_seconds),
                                                    "communities": communities, "rollup": table,
                                                    "community_label": _label(request, period.community)})


def _label(request: Request, code: str | None) -> str:
    found = app_context(request).communities.get(code) if code else None
    return found.label if found is not None else CITY_LABEL


@router.get("/export/{name}.{fmt}")
def export(request: Request, name: str, fmt: str, user: Reader, start: str = "", end: str = "",
           channel: str = "", reveal: int = 0, community: str = "") -> Response:
    if fmt not in _MEDIA or name not in ("unanswered", "work_orders", "summary"):
        raise HTTPException(404)
    period, _ = parse_period(start[:10], end[:10], channel[:20], days=90)
    _community(request, user, period, community)
    context = app_context(request)
    with session_scope(context.sessions) as session:
        if name == "unanswered":
            header, rows = exports.unanswered_rows(session, period.since, period.until, period.channel,
                                                   period.community)
        elif name == "work_orders":
            wants = bool(reveal)
            if wants and not may_reveal(user):
                raise HTTPException(403)
            cipher = context.cipher if wants else None
            header, rows = exports.work_order_rows(session, period.since, period.until, user, cipher, wants,
                                                   period.channel, period.community)
        else:
            titles = {e.id: e.title for e in context.kb.current().entries.values()}
            header, rows = exports.summary_rows(compute(session, period, titles))
    sheet = {"unanswered": "未答问题", "work_orders": "工单", "summary": "统计"}[name]
    body = exports.to_csv(header, rows) if fmt == "csv" else exports.to_xlsx(sheet, header, rows)
    filename = f"{name}-{period.start:%Y%m%d}-{period.end:%Y%m%d}{'-unmasked' if reveal else ''}.{fmt}"
    log.info("export %s by %s (%d rows)", filename, user.role, len(rows))
    return Response(body, media_type=_MEDIA[fmt], headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})
