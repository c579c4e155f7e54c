"""Knowledge-base rows in the database: idempotent loading of shipped content that keeps staff edits.

Rules of ``sync_shipped`` for each shipped entry:
- not in the database → inserted as shipped;
- unchanged since the last sync → nothing happens (so running it twice changes nothing);
- changed in the YAML and never touched by staff → updated, with a new version in the history;
- changed in the YAML but edited by staff → the staff version stays; the shipped one is parked in
  ``pending_shipped`` and reported, for staff to merge.

Community overlays (issue 15) are rows too, so drafts, review, publishing, versions and audit apply to them
unchanged: a local entry has ``community`` set and a namespaced id (``CODE--entry``); an override also names
the city entry it replaces (``overrides``), and of its data only the answer and the aspects it sets count.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from assistant.storage.models import AuditLog, KbDocument, KbEntryRow, KbEntryVersion, KbState
from knowledge_base.models import EntryStatus, KbEntry
from knowledge_base.overlays import Overlay, Override, split_id

log = logging.getLogger(__name__)

SHIPPED = "shipped"


@dataclass
class SyncReport:
    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_staff_edit: list[str] = field(default_factory=list)
    documents_changed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.updated or self.documents_changed)

    def summary(self) -> str:
        return (f"inserted {len(self.inserted)}, updated {len(self.updated)}, unchanged {len(self.unchanged)}, "
                f"kept staff edits {len(self.kept_staff_edit)}, documents changed {len(self.documents_changed)}")


def _document_hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()


def entry_to_row_data(entry: KbEntry) -> dict[str, Any]:
    return entry.model_dump(mode="json")


def row_to_entry(row: KbEntryRow) -> KbEntry:
    return KbEntry.model_validate(row.data)


def current_revision(session: Session) -> int:
    state = session.get(KbState, 1)
    return state.revision if state else 0


def bump_revision(session: Session) -> int:
    state = session.get(KbState, 1)
    if state is None:
        state = KbState(id=1, revision=0)
        session.add(state)
        session.flush()
    # One UPDATE, so concurrent writers on PostgreSQL each add one instead of overwriting.
    session.execute(update(KbState).where(KbState.id == 1).values(revision=KbState.revision + 1))
    session.flush()
    session.refresh(state)
    return state.revision


def _add_version(session: Session, entry: KbEntry, actor: str, note: str) -> None:
    session.add(KbEntryVersion(entry_id=entry.id, version=entry.version, status=str(entry.status),
                               data=entry_to_row_data(entry), created_by=actor, note=note))


def sync_shipped(
    session: Session,
    entries: list[KbEntry],
    documents: dict[str, Any] | None = None,
) -> SyncReport:
    report = SyncReport()
    existing = {row.id: row for row in session.scalars(select(KbEntryRow))}
    for entry in entries:
        # Content and status in one digest: the column holds 64 characters (PostgreSQL enforces it).
        shipped_hash = hashlib.sha256(f"{entry.content_hash()}:{entry.status}".encode()).hexdigest()
        row = existing.get(entry.id)
        if row is None:
            session.add(KbEntryRow(id=entry.id, category=entry.category, status=str(entry.status),
                                   version=entry.version, data=entry_to_row_data(entry),
                                   content_hash=entry.content_hash(), shipped_hash=shipped_hash,
                                   updated_by=SHIPPED))
            _add_version(session, entry, SHIPPED, "shipped")
            report.inserted.append(entry.id)
        elif row.shipped_hash == shipped_hash:
            report.unchanged.append(entry.id)
        elif row.staff_modified:
            if row.pending_shipped != entry_to_row_data(entry):
                row.pending_shipped = entry_to_row_data(entry)
                log.warning("shipped update for %s not applied: staff edited it", entry.id)
            report.kept_staff_edit.append(entry.id)
        else:
            updated = entry.model_copy(update={"version": row.version + 1, "updated_by": SHIPPED})
            row.data = entry_to_row_data(updated)
            row.version = updated.version
            row.status = str(updated.status)
            row.category = updated.category
            row.content_hash = updated.content_hash()
            row.shipped_hash = shipped_hash
            row.updated_by = SHIPPED
            _add_version(session, updated, SHIPPED, "shipped update")
            report.updated.append(entry.id)
    for name, data in (documents or {}).items():
        if _sync_document(session, name, data):
            report.documents_changed.append(name)
    if report.changed:
        bump_revision(session)
        session.add(AuditLog(actor=SHIPPED, action="kb.sync", detail=report.summary()))
    return report


def _sync_document(session: Session, name: str, data: Any) -> bool:
    shipped_hash = _document_hash(data)
    row = session.get(KbDocument, name)
    if row is None:
        session.add(KbDocument(name=name, data=data, shipped_hash=shipped_hash, updated_by=SHIPPED))
        return True
    if row.shipped_hash == shipped_hash or row.staff_modified:
        return False
    row.data = data
    row.shipped_hash = shipped_hash
    return True


def published_entries(session: Session) -> list[KbEntry]:
    """The published city entries (no community's overlay)."""
    rows = session.scalars(select(KbEntryRow).where(KbEntryRow.status == EntryStatus.published.value,
                                                    KbEntryRow.community.is_(None))
                           .order_by(KbEntryRow.id))
    return [row_to_entry(row) for row in rows]


def published_overlays(session: Session) -> list[Overlay]:
    """Every community's published overrides and local entries."""
    rows = session.scalars(select(KbEntryRow).where(KbEntryRow.status == EntryStatus.published.value,
                                                    KbEntryRow.community.is_not(None))
                           .order_by(KbEntryRow.community, KbEntryRow.id))
    rows = list(rows)
    city_answers = _city_answers(session, {row.overrides for row in rows if row.overrides})
    overrides: dict[str, dict[str, Override]] = defaultdict(dict)
    local: dict[str, list[KbEntry]] = defaultdict(list)
    for row in rows:
        entry = row_to_entry(row)
        code = str(row.community)
        if row.overrides:
            # An override row holds an answer even when the community changed only aspects: the city's of
            # that day. Any city wording, old or current, means "not overridden", so a later city change shows.
            answer = None if entry.answer in city_answers.get(row.overrides, ()) else entry.answer
            overrides[code][row.overrides] = Override(answer, entry.aspects.present())
        else:
            local[code].append(entry)
    return [Overlay(code, overrides.get(code, {}), tuple(local.get(code, ())))
            for code in sorted(set(overrides) | set(local))]


def _city_answers(session: Session, entry_ids: set[str]) -> dict[str, set[str]]:
    """Every answer each of these city entries has had (its versions)."""
    answers: dict[str, set[str]] = defaultdict(set)
    if entry_ids:
        for entry_id, data in session.execute(select(KbEntryVersion.entry_id, KbEntryVersion.data)
                                              .where(KbEntryVersion.entry_id.in_(entry_ids))):
            answers[entry_id].add(str((data or {}).get("answer", "")))
    return answers


def overlay_rows(session: Session, code: str) -> list[KbEntryRow]:
    """A community's overlay rows, any status: overrides first, then local entries."""
    return list(session.scalars(select(KbEntryRow).where(KbEntryRow.community == code)
                                .order_by(KbEntryRow.overrides.is_(None), KbEntryRow.id)))


def save_overlay(session: Session, overlay: Overlay, actor: str, note: str = "") -> list[str]:
    """Saves a community's overrides and local entries as published rows (a new version each, only where
    something changed); returns the ids saved. Each override row holds the city entry with the community's
    answer and only the aspects it replaces, so the console shows exactly what the community changed."""
    saved: list[str] = []
    for city_id, override in overlay.overrides.items():
        city_row = session.get(KbEntryRow, city_id)
        if city_row is None or city_row.community is not None:
            raise KeyError(city_id)
        city = row_to_entry(city_row)
        entry = city.model_copy(update={
            "id": f"{overlay.code}--{city_id}", "answer": override.answer or city.answer,
            "aspects": city.aspects.model_validate(dict(override.aspects)), "status": EntryStatus.published})
        if _changed(session, entry):
            save_entry(session, entry, actor, note)
            saved.append(entry.id)
    for entry in overlay.entries:
        if _changed(session, entry):
            save_entry(session, entry, actor, note)
            saved.append(entry.id)
    return saved


def _changed(session: Session, entry: KbEntry) -> bool:
    row = session.get(KbEntryRow, entry.id)
    return row is None or row.content_hash != entry.content_hash() or row.status != str(entry.status)


def _place_overlay_row(session: Session, row: KbEntryRow) -> None:
    """A new row with a namespaced id belongs to that community: an override when the rest of its id is
    a city entry's, else a local entry (so one made in the console or by `kb import` lands where it should)."""
    code, rest = split_id(row.id)
    if code is None:
        return
    row.community = code
    city = session.get(KbEntryRow, rest)
    row.overrides = rest if city is not None and city.community is None else None


def all_entries(session: Session) -> list[KbEntry]:
    return [row_to_entry(row) for row in session.scalars(select(KbEntryRow).order_by(KbEntryRow.id))]


def get_document(session: Session, name: str) -> Any | None:
    row = session.get(KbDocument, name)
    return row.data if row else None


def save_entry(session: Session, entry: KbEntry, actor: str, note: str = "") -> KbEntry:
    """A staff edit: a new version, marked as staff-modified; bumps the revision if residents see it."""
    row = session.get(KbEntryRow, entry.id)
    was_published = row is not None and row.status == EntryStatus.published.value
    version = (row.version + 1) if row else 1
    saved = entry.model_copy(update={"version": version, "updated_by": actor})
    if row is None:
        row = KbEntryRow(id=entry.id, shipped_hash=None)
        _place_overlay_row(session, row)
        session.add(row)
    row.category = saved.category
    row.status = str(saved.status)
    row.version = version
    row.data = entry_to_row_data(saved)
    row.content_hash = saved.content_hash()
    row.staff_modified = True
    row.updated_by = actor
    _add_version(session, saved, actor, note or "staff edit")
    session.add(AuditLog(actor=actor, action="kb.entry.save", target=entry.id, detail=f"v{version} {saved.status}"))
    if was_published or saved.status == EntryStatus.published:
        bump_revision(session)
    return saved


def save_document(session: Session, name: str, data: Any, actor: str) -> None:
    row = session.get(KbDocument, name)
    if row is None:
        row = KbDocument(name=name, data=data)
        session.add(row)
    row.data = data
    row.staff_modified = True
    row.updated_by = actor
    session.add(AuditLog(actor=actor, action=f"kb.document.{name}", target=name))
    bump_revision(session)
