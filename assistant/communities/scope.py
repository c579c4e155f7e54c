"""Who sees which community's records: the one rule every console list, count, export, page and event obeys.

- City staff (``StaffAccount.community_code`` empty) see every community.
- Community staff see only their community's handoffs, work orders, alerts, unanswered questions,
  conversations and figures; another community's record opened by its URL is "not found" (404), never
  "forbidden" (403), so its existence is not revealed.
- Department handlers see what is routed to their department, whichever community it came from: their view
  is limited by department (elsewhere), not by community.

Records carry ``community_code`` (migration ``0014_communities``); a conversation's turns are reached through
their chat session.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from assistant.communities import DEFAULT_CODE, CommunityError
from assistant.communities.models import Community
from assistant.storage.models import ChatSession

log = logging.getLogger(__name__)
Q = TypeVar("Q", bound=Select[Any])
CITY_LABEL = "全市"
# Events about a community's records name it in ``data["community"]`` (see ``event_visible``).
COMMUNITY_FIELD = "community"
CITY_FIELD = "city"  # queue counts of the whole city, in a community's queue event, for city staff only


def community_of(user: Any) -> str | None:
    """The community a user is limited to, or None for someone who sees the whole city."""
    if user is None or getattr(user, "role", "") == "department":
        return None
    return getattr(user, "community", None) or None


def is_city(user: Any) -> bool:
    return community_of(user) is None


def scope(query: Q, model: Any, who: Any) -> Q:
    """``query`` limited to the records of ``who``'s community (a StaffUser, or a community code; None: all).

    ``model`` is the table the query reads: one with ``community_code``, or one with ``session_id`` (turns),
    which is limited through its conversation.
    """
    code = who if isinstance(who, str) or who is None else community_of(who)
    if not code:
        return query
    column = getattr(model, "community_code", None)
    if column is not None:
        return query.where(column == code)
    return query.where(model.session_id.in_(select(ChatSession.id).where(ChatSession.community_code == code)))


def visible(row: Any, user: Any) -> bool:
    """Whether ``user`` may see ``row`` (a record with ``community_code``)."""
    code = community_of(user)
    return code is None or getattr(row, "community_code", None) == code


def event_visible(data: dict[str, Any], user: Any) -> bool:
    """Whether a pushed event reaches ``user``: an event naming another community does not reach community
    staff. Every event about a handoff, an alert or a conversation names one (``assistant.handoff.push``,
    ``alerts``); an event that names none is about no community (and goes to everyone its kind goes to)."""
    code = community_of(user)
    return code is None or COMMUNITY_FIELD not in data or data[COMMUNITY_FIELD] == code


def event_for(data: dict[str, Any], user: Any) -> dict[str, Any] | None:
    """What of a pushed event ``user`` receives: None when it is another community's; a queue event's counts
    are the city's for city staff and the community's own for its staff."""
    if not event_visible(data, user):
        return None
    if CITY_FIELD not in data:
        return data
    shown = {key: value for key, value in data.items() if key != CITY_FIELD}
    if community_of(user) is None and isinstance(data[CITY_FIELD], dict):
        shown.update(data[CITY_FIELD])
    return shown


def default_code(db: Session) -> str:
    """The default community's code, read in ``db`` (for records made before they are stamped)."""
    with db.no_autoflush:
        code = db.scalar(select(Community.code).where(Community.is_default.is_(True)))
    return code or DEFAULT_CODE


def choices(context: Any) -> list[tuple[str, str]]:
    """(code, label) of every active community, for the selects of the console (default first)."""
    return [(c.code, c.label) for c in context.communities.all() if c.active]


def channel_community(context: Any, kind: str) -> str:
    """The community new conversations of a channel account belong to (``wechat_community`` /
    ``wecom_community``; empty: the default one). A wrong code must not silence the channel: it is logged
    and the default community used."""
    code = str(getattr(context.settings, f"{kind}_community", "") or "").strip()
    try:
        return context.communities.resolve(code or None)
    except CommunityError:
        log.warning("%s_community names no community; using the default one", kind)
        return context.communities.default_code


def dashboard_community(user: Any, requested: str, known: list[str] | tuple[str, ...]) -> str | None:
    """The community a dashboard shows: community staff always their own; city staff the one they chose
    (None: the whole city); an unknown choice is the whole city."""
    own = community_of(user)
    if own is not None:
        return own
    return requested if requested in known else None
