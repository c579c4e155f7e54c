"""Finding, importing and listing communities; the community a record inherits from its conversation.

``CommunityDirectory`` is built once in ``AppContext``: every request names its community (or none), and a
look-up per turn would cost a query, so the codes are kept for ``CODES_TTL_SECONDS`` and re-read on a miss
(a community imported on another node is found at once).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from assistant.communities import CODE_HELP, DEFAULT_CODE, CommunityError, UnknownCommunity, valid_code
from assistant.communities.models import Community
from assistant.storage.db import session_scope
from assistant.storage.kb_repository import bump_revision
from knowledge_base.profile import CommunityProfile

CODES_TTL_SECONDS = 30.0
NAME_MAX_CHARS = 80


@dataclass(frozen=True)
class CommunityInfo:
    """What callers need of a community, detached from any database session."""

    code: str
    name: str
    street: str
    district: str
    is_default: bool
    active: bool
    profile: CommunityProfile

    @property
    def label(self) -> str:
        """How staff and residents see it: 南宁市青秀区新竹街道 · 某某社区."""
        place = "".join(p for p in (self.district, self.street) if p)
        name = self.name or self.code
        return f"{place} · {name}" if place else name


def info(row: Community) -> CommunityInfo:
    return CommunityInfo(row.code, row.name, row.street, row.district, row.is_default, row.active,
                         parse_profile(row.profile))


def parse_profile(data: Any) -> CommunityProfile:
    try:
        return CommunityProfile.model_validate(data or {})
    except ValidationError as exc:
        raise CommunityError(f"社区信息格式不对：{exc.errors()[0].get('loc', ('?',))[0]} 一项") from exc


def ensure_default(db: Session, profile_data: dict[str, Any], code: str = DEFAULT_CODE) -> Community:
    """The default community, made on first start from the profile file and kept equal to it afterwards
    (unless staff made another community the default)."""
    row = db.scalar(select(Community).where(Community.is_default.is_(True)))
    if row is None:
        row = db.scalar(select(Community).where(Community.code == code))
        if row is None:
            row = Community(code=code, follows_profile_file=True)
            db.add(row)
        row.is_default = True
    if row.follows_profile_file:
        parse_profile(profile_data)  # a broken file stops here with a clear message, not at the first answer
        row.profile = dict(profile_data or {})
        row.name = str((profile_data or {}).get("name") or row.name or "")[:NAME_MAX_CHARS]
    db.flush()
    return row


def import_community(db: Session, code: str, profile_data: dict[str, Any], *, street: str = "",
                     district: str = "", make_default: bool = False) -> tuple[Community, bool]:
    """Adds or updates a community from a profile (the example YAML's format); returns it and whether it is new."""
    if not valid_code(code):
        raise CommunityError(CODE_HELP)
    if not isinstance(profile_data, dict):
        raise CommunityError("社区信息文件应当是“项目: 内容”的格式，请对照 community_profile.example.yaml")
    profile = parse_profile(profile_data)
    row = db.scalar(select(Community).where(Community.code == code))
    created = row is None
    if row is None:
        row = Community(code=code)
        db.add(row)
    row.profile = dict(profile_data)
    row.name = (profile.name or row.name or "")[:NAME_MAX_CHARS]
    row.street = (street or str(profile_data.get("street") or "") or row.street or "")[:NAME_MAX_CHARS]
    row.district = (district or str(profile_data.get("district") or "") or row.district or "")[:NAME_MAX_CHARS]
    row.follows_profile_file = False  # imported: its own file, not SHEQU_COMMUNITY_PROFILE
    row.active = True
    if make_default:
        for other in db.scalars(select(Community).where(Community.is_default.is_(True), Community.code != code)):
            other.is_default = False
        row.is_default = True
    bump_revision(db)  # every node rebuilds its knowledge base, so answers use this profile within seconds
    db.flush()
    return row, created


def list_communities(db: Session) -> list[CommunityInfo]:
    rows = db.scalars(select(Community).order_by(Community.is_default.desc(), Community.district,
                                                 Community.street, Community.code))
    return [info(row) for row in rows]


class CommunityDirectory:
    """The city's communities as requests need them: resolving a code, the default, a community's profile."""

    def __init__(self, sessions: sessionmaker[Session], ttl_seconds: float = CODES_TTL_SECONDS) -> None:
        self.sessions = sessions
        self.ttl_seconds = ttl_seconds
        self._lock = threading.Lock()
        self._by_code: dict[str, CommunityInfo] = {}
        self._default: str = DEFAULT_CODE
        self._read_at = float("-inf")

    def _reload(self) -> None:
        with session_scope(self.sessions) as db:
            communities = list_communities(db)
        with self._lock:
            self._by_code = {c.code: c for c in communities}
            self._default = next((c.code for c in communities if c.is_default), DEFAULT_CODE)
            self._read_at = time.monotonic()

    def _fresh(self) -> dict[str, CommunityInfo]:
        if time.monotonic() - self._read_at > self.ttl_seconds:
            self._reload()
        return self._by_code

    def invalidate(self) -> None:
        self._read_at = float("-inf")

    @property
    def default_code(self) -> str:
        self._fresh()
        return self._default

    def resolve(self, code: str | None) -> str:
        """The code of the community a request names (the default one when it names none); an unknown or
        closed community is refused with ``UnknownCommunity``."""
        if code is None or not code.strip():
            return self.default_code
        code = code.strip()
        found = self._fresh().get(code)
        if found is None and valid_code(code):
            self._reload()  # imported a moment ago, perhaps on another node
            found = self._by_code.get(code)
        if found is None or not found.active:
            raise UnknownCommunity(code)
        return found.code

    def get(self, code: str | None) -> CommunityInfo | None:
        communities = self._fresh()
        return communities.get(code or self._default)

    def all(self) -> list[CommunityInfo]:
        return sorted(self._fresh().values(), key=lambda c: (not c.is_default, c.district, c.street, c.code))


# --- records inherit their conversation's community -------------------------------------------------------

def _conversation_community(db: Session, session_id: str | None) -> str | None:
    if not session_id:
        return None
    from assistant.storage.models import ChatSession

    with db.no_autoflush:
        return db.scalar(select(ChatSession.community_code).where(ChatSession.id == session_id))


def _default_community(db: Session) -> str:
    with db.no_autoflush:
        code = db.scalar(select(Community.code).where(Community.is_default.is_(True)))
    return code or DEFAULT_CODE


STAMPED_TABLES = frozenset({"handoff_requests", "work_orders", "alerts", "unanswered_queries"})
TURN_COMMUNITY = "shequ.turn_community"  # Session.info key: the community of the turn this session handles


def stamp_community(db: Session, _context: Any = None, _instances: Any = None) -> None:
    """Before a flush: a new handoff, work order, alert or unanswered question without a community takes
    its conversation's (or the default one). One rule in one place, instead of at every constructor.
    A conversation's first turn may raise an alert before its row is written: the turn's community, left in
    ``db.info[TURN_COMMUNITY]`` by ``open_turn``, answers then."""
    for obj in list(db.new):
        # Only what residents start: a session gets its community when it is opened, staff without one see
        # the city, KB rows without one are the city's.
        if getattr(obj, "__tablename__", None) not in STAMPED_TABLES or getattr(obj, "community_code", None):
            continue
        code = _conversation_community(db, getattr(obj, "session_id", None)) or db.info.get(TURN_COMMUNITY)
        obj.community_code = code or _default_community(db)


def install_stamping() -> None:
    """Registers ``stamp_community`` for every ORM session (idempotent)."""
    if not event.contains(Session, "before_flush", stamp_community):
        event.listen(Session, "before_flush", stamp_community)
