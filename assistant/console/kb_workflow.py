"""Knowledge-base editing with review: draft → submitted → approved → published, rollback and archive.

Roles: staff (and admin) edit and submit; approvers (and admin) approve, publish, roll back and archive.
Nobody approves a change they submitted themselves. Publication goes through
``kb_repository.save_entry``, which writes a new version and bumps the KB revision, so every worker serves
the new answer within its revision check interval.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.auth.deps import StaffUser
from assistant.clock import today_china
from assistant.communities.scope import community_of
from assistant.console import FormInvalid, WorkflowError
from assistant.console.entry_form import publishable_errors
from assistant.console.models import KbDraft
from assistant.storage import kb_repository
from assistant.storage.models import AuditLog, KbEntryRow, KbEntryVersion
from knowledge_base.models import EntryStatus, KbEntry

log = logging.getLogger(__name__)

OPEN_STATES = ("draft", "submitted", "approved")
STATE_LABELS = {"draft": "草稿", "submitted": "待审核", "approved": "已审核待发布", "published": "已发布",
                "withdrawn": "已撤销"}
EDITORS = ("staff",)
REVIEWERS = ("approver",)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _audit(session: Session, user: StaffUser, action: str, target: str, detail: str = "") -> None:
    session.add(AuditLog(actor=user.username, action=action, target=target[:120], detail=detail[:2000]))


def _require(user: StaffUser, roles: tuple[str, ...], what: str) -> None:
    if not user.has_role(*roles):
        raise WorkflowError(f"您的角色不能{what}")


def _require_scope(session: Session, user: StaffUser, entry_id: str) -> None:
    """Community staff change only their own community's rows (its overrides and local entries): a city entry
    is what every community's residents get, so only city staff change it (issue 15)."""
    own = community_of(user)
    if own is None:
        return
    row = live_row(session, entry_id)
    owner = row.community if row is not None else None
    if owner is None:
        raise WorkflowError("全市共用的条目只能由市里的工作人员新建或修改，您的角色只能改本社区自己的条目")
    if owner != own:
        raise WorkflowError("这是别的社区的条目，您的角色不能改")


def visible_to(user: StaffUser, row: KbEntryRow) -> bool:
    """City entries and the user's own community's rows; another community's rows are not shown."""
    own = community_of(user)
    return own is None or row.community in (None, own)


def live_row(session: Session, entry_id: str) -> KbEntryRow | None:
    return session.get(KbEntryRow, entry_id)


def open_draft(session: Session, entry_id: str) -> KbDraft | None:
    return session.scalar(select(KbDraft).where(KbDraft.entry_id == entry_id, KbDraft.state.in_(OPEN_STATES))
                          .order_by(KbDraft.id.desc()))


def get_draft(session: Session, draft_id: int) -> KbDraft:
    draft = session.get(KbDraft, draft_id)
    if draft is None:
        raise WorkflowError("找不到这份草稿")
    return draft


def draft_entry(draft: KbDraft, status: EntryStatus = EntryStatus.draft) -> KbEntry:
    """The draft as a valid entry, or FormInvalid naming what is missing."""
    try:
        return KbEntry.model_validate({**draft.data, "status": status})
    except ValidationError as exc:
        fields = {str(e["loc"][0]) if e.get("loc") else "id" for e in exc.errors()}
        raise FormInvalid({f: "请先补全并保存" for f in fields}) from exc


def new_entry_id(session: Session) -> str:
    while True:
        candidate = f"new-{today_china():%Y%m%d}-{secrets.token_hex(2)}"
        if live_row(session, candidate) is None and open_draft(session, candidate) is None:
            return candidate


def start_edit(session: Session, entry_id: str, user: StaffUser) -> KbDraft:
    """The open draft of an entry (one at a time, so two editors never diverge), or a new one."""
    _require(user, EDITORS, "修改条目")
    _require_scope(session, user, entry_id)
    existing = open_draft(session, entry_id)
    if existing is not None:
        return existing
    row = live_row(session, entry_id)
    if row is None:
        raise WorkflowError("找不到这个条目")
    draft = KbDraft(entry_id=entry_id, base_version=row.version, data=dict(row.data), state="draft",
                    source="edit", created_by=user.username, note="")
    session.add(draft)
    session.flush()
    return draft


def new_draft(session: Session, data: dict[str, Any], user: StaffUser, source: str = "new",
              note: str = "") -> KbDraft:
    _require(user, EDITORS, "新建条目")
    entry_id = str(data.get("id") or "") or new_entry_id(session)
    _require_scope(session, user, entry_id)
    if live_row(session, entry_id) is not None or open_draft(session, entry_id) is not None:
        raise FormInvalid({"id": "这个编号已被使用"})
    draft = KbDraft(entry_id=entry_id, base_version=None, data={**data, "id": entry_id, "status": "draft"},
                    state="draft", source=source, created_by=user.username, note=note[:500])
    session.add(draft)
    session.flush()
    _audit(session, user, "kb.draft.create", entry_id, f"draft #{draft.id} from {source}")
    return draft


def save_draft(session: Session, draft: KbDraft, entry: KbEntry, user: StaffUser, note: str = "") -> None:
    _require(user, EDITORS, "修改条目")
    _require_scope(session, user, draft.entry_id)
    if draft.state not in OPEN_STATES:
        raise WorkflowError("这份草稿已发布或撤销，不能再改")
    if entry.id != draft.entry_id:
        if draft.base_version is not None:
            raise FormInvalid({"id": "已发布条目的编号不能修改"})
        if live_row(session, entry.id) is not None or open_draft(session, entry.id) is not None:
            raise FormInvalid({"id": "这个编号已被使用"})
        draft.entry_id = entry.id
    draft.data = entry.model_copy(update={"status": EntryStatus.draft}).model_dump(mode="json")
    if draft.state != "draft":
        log.info("draft %s edited during review: back to draft", draft.id)
    draft.state = "draft"  # any edit needs a fresh review
    draft.approved_by = None
    draft.note = note[:500]
    _audit(session, user, "kb.draft.save", draft.entry_id, f"draft #{draft.id}")


def submit(session: Session, draft: KbDraft, user: StaffUser) -> None:
    _require(user, EDITORS, "提交审核")
    _require_scope(session, user, draft.entry_id)
    if draft.state != "draft":
        raise WorkflowError("只有草稿可以提交审核")
    errors = publishable_errors(draft_entry(draft))
    if errors:
        raise FormInvalid(errors)
    draft.state, draft.submitted_by, draft.submitted_at = "submitted", user.username, _now()
    _audit(session, user, "kb.draft.submit", draft.entry_id, f"draft #{draft.id}")


def approve(session: Session, draft: KbDraft, user: StaffUser) -> None:
    _require(user, REVIEWERS, "审核")
    _require_scope(session, user, draft.entry_id)
    if draft.state != "submitted":
        raise WorkflowError("只有待审核的修改可以审核通过")
    if user.username == draft.submitted_by:
        raise WorkflowError("不能审核自己提交的修改，请另一位审核人审核")
    draft.state, draft.approved_by, draft.approved_at = "approved", user.username, _now()
    _audit(session, user, "kb.draft.approve", draft.entry_id, f"draft #{draft.id}")


def reject(session: Session, draft: KbDraft, user: StaffUser, reason: str) -> None:
    _require(user, REVIEWERS, "退回")
    _require_scope(session, user, draft.entry_id)
    if draft.state not in ("submitted", "approved"):
        raise WorkflowError("只有待审核或已审核的修改可以退回")
    draft.state, draft.approved_by, draft.note = "draft", None, f"退回：{reason.strip()[:480]}"
    _audit(session, user, "kb.draft.reject", draft.entry_id, f"draft #{draft.id}: {reason.strip()[:200]}")


def withdraw(session: Session, draft: KbDraft, user: StaffUser) -> None:
    _require(user, EDITORS, "撤销草稿")
    _require_scope(session, user, draft.entry_id)
    if draft.state not in OPEN_STATES:
        raise WorkflowError("这份草稿已经结束")
    draft.state = "withdrawn"
    _audit(session, user, "kb.draft.withdraw", draft.entry_id, f"draft #{draft.id}")


def publish(session: Session, draft: KbDraft, user: StaffUser) -> KbEntry:
    _require(user, REVIEWERS, "发布")
    _require_scope(session, user, draft.entry_id)
    if draft.state != "approved":
        raise WorkflowError("审核通过后才能发布")
    row = live_row(session, draft.entry_id)
    live_version = row.version if row is not None else None
    if live_version != draft.base_version:
        raise WorkflowError("这个条目在您编辑期间已被更新（或回滚），请撤销这份草稿后重新编辑")
    entry = draft_entry(draft, EntryStatus.published)
    saved = kb_repository.save_entry(session, entry, user.username, note=f"发布草稿 #{draft.id}")
    draft.state, draft.published_by, draft.published_at = "published", user.username, _now()
    draft.published_version = saved.version
    _audit(session, user, "kb.publish", saved.id, f"v{saved.version} from draft #{draft.id}")
    return saved


def versions(session: Session, entry_id: str) -> list[KbEntryVersion]:
    return list(session.scalars(select(KbEntryVersion).where(KbEntryVersion.entry_id == entry_id)
                                .order_by(KbEntryVersion.version.desc(), KbEntryVersion.id.desc())))


def version_data(session: Session, entry_id: str, version: int) -> dict[str, Any]:
    row = session.scalar(select(KbEntryVersion).where(KbEntryVersion.entry_id == entry_id,
                                                      KbEntryVersion.version == version)
                         .order_by(KbEntryVersion.id.desc()))
    if row is None:
        raise WorkflowError(f"找不到第 {version} 版")
    return dict(row.data)


@dataclass(frozen=True)
class RollbackPreview:
    title: str
    live_version: int
    live: dict[str, Any]
    target: dict[str, Any]  # what would be published


def rollback_preview(session: Session, entry_id: str, version: int) -> RollbackPreview:
    """The live content and the earlier version a rollback would publish (nothing is changed)."""
    row = live_row(session, entry_id)
    if row is None:
        raise WorkflowError("找不到这个条目")
    if version >= row.version:
        raise WorkflowError("只能回滚到更早的版本")
    target = {**version_data(session, entry_id, version), "status": EntryStatus.published.value}
    return RollbackPreview(str(row.data.get("title", entry_id)), row.version, dict(row.data), target)


def rollback(session: Session, entry_id: str, version: int, user: StaffUser) -> KbEntry:
    """Publishes the content of an earlier version as a new version (history is never rewritten)."""
    _require(user, REVIEWERS, "回滚")
    _require_scope(session, user, entry_id)
    data = rollback_preview(session, entry_id, version).target
    entry = KbEntry.model_validate({**data, "status": EntryStatus.published})
    saved = kb_repository.save_entry(session, entry, user.username, note=f"回滚到第 {version} 版")
    _audit(session, user, "kb.rollback", entry_id, f"v{version} → v{saved.version}")
    return saved


def archive(session: Session, entry_id: str, user: StaffUser) -> KbEntry:
    _require(user, REVIEWERS, "下线条目")
    _require_scope(session, user, entry_id)
    row = live_row(session, entry_id)
    if row is None or row.status != EntryStatus.published.value:
        raise WorkflowError("只有已发布的条目可以下线")
    entry = KbEntry.model_validate({**row.data, "status": EntryStatus.archived})
    saved = kb_repository.save_entry(session, entry, user.username, note="下线")
    _audit(session, user, "kb.archive", entry_id, f"v{saved.version}")
    return saved


def review_queue(session: Session) -> list[KbDraft]:
    return list(session.scalars(select(KbDraft).where(KbDraft.state.in_(("submitted", "approved")))
                                .order_by(KbDraft.submitted_at)))


def my_drafts(session: Session) -> list[KbDraft]:
    return list(session.scalars(select(KbDraft).where(KbDraft.state == "draft").order_by(KbDraft.updated_at.desc())))
