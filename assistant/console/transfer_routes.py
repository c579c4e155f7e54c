"""Excel/CSV import and export of the knowledge base, and the synonym dictionary editor."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from assistant.auth.deps import StaffUser
from assistant.console import FormInvalid
from assistant.console import kb_workflow as wf
from assistant.console.templating import render
from assistant.console.web import CSRF, Editor, FormFields, Reader, app_context, redirect
from assistant.kb_runtime import DIALECT_DOC, SYNONYMS_DOC
from assistant.storage import kb_repository
from assistant.storage.db import session_scope
from assistant.storage.models import AuditLog
from knowledge_base.dialect import validate_rows as validate_dialect_rows
from knowledge_base.errors import ValidationFailed
from knowledge_base.models import EntryStatus, KbEntry
from knowledge_base.spreadsheet import export_csv, export_xlsx, import_spreadsheet
from knowledge_base.synonyms import validate_groups

log = logging.getLogger(__name__)

router = APIRouter(prefix="/staff", include_in_schema=False)
_MEDIA = {"csv": "text/csv; charset=utf-8",
          "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
MAX_SYNONYM_LINES = 5000


@router.get("/kb/transfer")
def transfer_page(request: Request, user: Reader) -> Response:
    return render(request, "staff/kb_transfer.html", {"problems": [], "result": None})


@router.get("/kb/export.{fmt}")
def export_kb(request: Request, fmt: str, user: Reader) -> Response:
    if fmt not in _MEDIA:
        return render(request, "staff/error.html", {"message": "只能导出 xlsx 或 csv", "back": "/staff/kb/transfer"},
                      status_code=404)
    with session_scope(app_context(request).sessions) as session:
        entries = kb_repository.all_entries(session)
        session.add(AuditLog(actor=user.username, action="kb.export", detail=f"{len(entries)} entries as {fmt}"))
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"kb.{fmt}"
        (export_xlsx if fmt == "xlsx" else export_csv)(entries, path)
        body = path.read_bytes()
    return Response(body, media_type=_MEDIA[fmt], headers={
        "Content-Disposition": f'attachment; filename="knowledge-base.{fmt}"', "Cache-Control": "no-store"})


@router.post("/kb/import", dependencies=CSRF)
async def import_kb(request: Request, user: Editor) -> Response:
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _import_page(request, ["请选择要导入的 .xlsx 或 .csv 文件"])
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        return _import_page(request, ["只能导入 .xlsx 或 .csv 文件"])
    limit = app_context(request).settings.staff_upload_max_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        return _import_page(request, [f"文件太大（最多 {limit // (1024 * 1024)} MB）"])
    try:
        entries = await run_in_threadpool(_read_upload, data, suffix)
    except ValidationFailed as exc:
        return _import_page(request, [str(p) for p in exc.problems[:200]])
    return await run_in_threadpool(stage_import, request, entries, user)


def _read_upload(data: bytes, suffix: str) -> list[KbEntry]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"upload{suffix}"
        path.write_bytes(data)
        return import_spreadsheet(path)


def stage_import(request: Request, entries: list[KbEntry], user: StaffUser) -> Response:
    """Changed and new entries become drafts submitted for review; unchanged ones are skipped."""
    created, unchanged, busy = [], [], []
    with session_scope(app_context(request).sessions) as session:
        for entry in entries:
            row = wf.live_row(session, entry.id)
            if row is not None and row.content_hash == entry.content_hash() and row.status == str(entry.status):
                unchanged.append(entry.id)
                continue
            if wf.open_draft(session, entry.id) is not None:
                busy.append(entry.id)
                continue
            data = entry.model_copy(update={"status": EntryStatus.draft}).model_dump(mode="json")
            if row is None:
                draft = wf.new_draft(session, data, user, source="import", note="表格导入")
            else:
                draft = wf.start_edit(session, entry.id, user)
                draft.data, draft.source, draft.note = data, "import", "表格导入"
            created.append(draft.entry_id)
        session.add(AuditLog(actor=user.username, action="kb.import",
                             detail=f"{len(created)} drafts, {len(unchanged)} unchanged, {len(busy)} busy"))
    result = {"created": created, "unchanged": unchanged, "busy": busy}
    return render(request, "staff/kb_transfer.html", {"problems": [], "result": result})


def _import_page(request: Request, problems: list[str]) -> Response:
    return render(request, "staff/kb_transfer.html", {"problems": problems, "result": None}, status_code=422)


# ---------------------------------------------------------------- synonyms

def groups_to_text(groups: dict[str, list[str]]) -> str:
    return "\n".join(f"{canonical}: {'，'.join(variants)}" for canonical, variants in sorted(groups.items()))


def parse_synonyms(text: str) -> dict[str, list[str]]:
    """``标准词: 说法1，说法2`` per line; raises FormInvalid with the line numbers of every problem."""
    groups: dict[str, list[str]] = {}
    problems: list[str] = []
    lines = text.replace("\r\n", "\n").split("\n")
    if len(lines) > MAX_SYNONYM_LINES:
        raise FormInvalid({"synonyms": f"最多 {MAX_SYNONYM_LINES} 行"})
    owner: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        canonical, sep, rest = line.replace("：", ":").partition(":")
        canonical = canonical.strip()
        variants = [v.strip() for v in rest.replace("，", ",").replace("、", ",").split(",") if v.strip()]
        if not sep or not canonical or not variants:
            problems.append(f"第{number}行：格式应为「标准词: 说法1，说法2」")
        elif canonical in groups:
            problems.append(f"第{number}行：标准词「{canonical}」重复出现，请合并到一行")
        elif any(len(v) > 20 for v in [canonical, *variants]):
            problems.append(f"第{number}行：每个词不超过 20 个字")
        else:
            groups[canonical] = variants
            owner.update({v: (canonical, number) for v in variants if v not in owner})
    for variant, (canonical, number) in owner.items():
        if variant in groups:
            problems.append(f"第{number}行：说法「{variant}」本身是标准词，不能再作为「{canonical}」的说法")
    for canonical, variants in groups.items():
        for variant in variants:
            first = owner[variant][0]
            if first != canonical:
                problems.append(f"说法「{variant}」同时属于「{first}」和「{canonical}」")
    if not problems:
        problems += [p.message for p in validate_groups(groups, "synonyms")]  # the loader's own rules
    if problems:
        raise FormInvalid({"synonyms": "；".join(problems[:30])})
    return groups


@router.get("/synonyms")
def synonyms_page(request: Request, user: Reader) -> Response:
    groups = _stored_document(request, SYNONYMS_DOC) or {}
    return render(request, "staff/synonyms.html", {"text": groups_to_text(groups), "error": "",
                                                    "count": sum(len(v) for v in groups.values())})


def _stored_document(request: Request, name: str) -> Any:
    with session_scope(app_context(request).sessions) as session:
        return kb_repository.get_document(session, name)


@router.post("/synonyms", dependencies=CSRF)
def save_synonyms(request: Request, user: Editor, form: FormFields) -> Response:
    return _save_document(request, user, form, SYNONYMS_DOC, parse_synonyms)


def _save_document(request: Request, user: StaffUser, form: dict[str, str], name: str,
                   parse: Callable[[str], Any]) -> Response:
    """Saves a staff-edited KB document (synonyms, dialect) from its text form; every worker serves it next.

    The form field, the page ``staff/<name>.html`` and its URL are all called ``name``."""
    text = form.get(name, "")
    try:
        value = parse(text)
    except FormInvalid as exc:
        return render(request, f"staff/{name}.html", {"text": text, "error": exc.errors[name], "count": 0},
                      status_code=422)
    with session_scope(app_context(request).sessions) as session:
        kb_repository.save_document(session, name, value, user.username)
    app_context(request).kb.refresh()
    return redirect(f"/staff/{name}", f"{name}_saved")


# ---------------------------------------------------------------- dialect lexicon

def dialect_to_text(rows: list[dict[str, str]]) -> str:
    return "\n".join(f"{r['form']} = {r['mandarin']}" + (f"（{r['region']}）" if r.get("region") else "")
                     for r in rows)


def parse_dialect(text: str) -> list[dict[str, str]]:
    """``方言说法 = 普通话（地区）`` per line; raises FormInvalid with the line numbers of every problem."""
    rows: list[dict[str, str]] = []
    problems: list[str] = []
    lines = text.replace("\r\n", "\n").split("\n")
    if len(lines) > MAX_SYNONYM_LINES:
        raise FormInvalid({"dialect": f"最多 {MAX_SYNONYM_LINES} 行"})
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        form, sep, rest = line.replace("＝", "=").partition("=")
        rest = rest.replace("(", "（").replace(")", "）")
        mandarin, _, region = rest.partition("（")
        region = region.rstrip("）").strip() or "通用"
        if not sep or not form.strip() or not mandarin.strip():
            problems.append(f"第{number}行：格式应为「方言说法 = 普通话（地区）」")
            continue
        rows.append({"form": form.strip(), "mandarin": mandarin.strip(), "region": region})
    if not problems:
        problems += [p.message for p in validate_dialect_rows(rows, "dialect")]  # the loader's own rules
    if problems:
        raise FormInvalid({"dialect": "；".join(problems[:30])})
    return rows


@router.get("/dialect")
def dialect_page(request: Request, user: Reader) -> Response:
    rows = _stored_document(request, DIALECT_DOC) or []
    return render(request, "staff/dialect.html", {"text": dialect_to_text(rows), "error": "", "count": len(rows)})


@router.post("/dialect", dependencies=CSRF)
def save_dialect(request: Request, user: Editor, form: FormFields) -> Response:
    return _save_document(request, user, form, DIALECT_DOC, parse_dialect)
