"""Import/export of the whole knowledge base as Excel (.xlsx) or CSV, for staff who edit answers in Excel.

One row per entry with Chinese headers (``COLUMNS``); English field names are accepted as headers too.
Import is all-or-nothing like the YAML loader: every problem is collected, located as ``第5行 答案(answer)``
(the row Excel shows; header = row 1), and ValidationFailed is raised before any entry is returned.

Choices (also told to staff on the 说明 sheet):
- An unknown header is an error: a misspelt aspect header would otherwise silently drop that content.
  Columns headed ``备注…``/``#…`` (staff notes) and columns with neither header nor content are ignored.
- A CSV that is not UTF-8 is decoded as GB18030 (superset of GBK): Excel on Chinese Windows writes that for
  "CSV (逗号分隔)". UTF-16 with BOM, tab-separated ("Unicode 文本") is read too.
- Formula injection: text starting with = + - @ (or tab/CR) is exported as a text cell with Excel's quote
  prefix (.xlsx) or behind an apostrophe (CSV; import removes one leading apostrophe from every CSV cell, so
  text already starting with one is escaped too). An .xlsx formula cell is reported on import, never used.
- Line breaks inside cells are stored as "\\n" (.xlsx cannot keep "\\r").
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation
from pydantic import ValidationError

from knowledge_base.errors import Problem, ValidationFailed
from knowledge_base.models import (
    ASPECTS,
    CATEGORIES,
    MAX_ASPECT_CHARS,
    EntryStatus,
    KbEntry,
    check_publishable,
)

log = logging.getLogger(__name__)

SHEET_NAME = "知识库"
HELP_SHEET_NAME = "说明"
MAX_CELL_CHARS = 32767  # Excel's limit for one cell
NOTE_PREFIXES = ("备注", "#")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_DATE = re.compile(r"^(\d{4})(?:[-/.年]\s*(\d{1,2})[-/.月]\s*(\d{1,2})日?|(\d{2})(\d{2}))(?:[ T]0?0:00(?::00)?)?$")

STATUS_LABELS: dict[str, str] = {
    EntryStatus.draft: "草稿（居民看不到）",
    EntryStatus.submitted: "待审核",
    EntryStatus.approved: "已审核，待发布",
    EntryStatus.published: "已发布（居民可以看到）",
    EntryStatus.archived: "已归档（不再使用）",
}


@dataclass(frozen=True)
class Column:
    field: str  # KbEntry field, or an aspect name for kind "aspect"
    label: str  # the Chinese header
    kind: str  # text | lines | aspect | date | int | category | status
    required: bool
    width: int
    help: str

    def where(self, row: int) -> str:
        return f"第{row}行 {self.label}({self.field})"


COLUMNS: tuple[Column, ...] = (
    Column("id", "编号", "text", True, 24, "固定编号，小写字母、数字和连字符，如 senior-age-allowance；不要改动已有编号"),
    Column("category", "分类", "category", True, 10, "分类代码或分类名称，见下表"),
    Column("title", "标题", "text", True, 30, "标准问法"),
    Column("questions", "相似问法", "lines", False, 40, "居民的各种问法，一行一个（单元格内换行：Alt+Enter）"),
    Column("answer", "答案", "text", True, 50, "简短口语化，第一句直接回答问题"),
    *(Column(name, label, "aspect", False, 30, f"{label}，不适用就留空") for name, label in ASPECTS.items()),
    Column("department", "主管部门", "text", True, 12, "如 民政、人社、医保"),
    Column("region", "适用地区", "text", False, 10, "留空即 广西"),
    Column("effective_from", "生效日期", "date", False, 12, "日期，如 2025-01-01，可留空"),
    Column("review_by", "复核日期", "date", False, 12, "到这天之前要重新核对内容，可留空"),
    Column("status", "状态", "status", True, 10, "状态代码或名称，见下表"),
    Column("version", "版本", "int", False, 6, "正整数，留空即 1"),
    Column("updated_by", "更新人", "text", False, 12, "最后修改的人"),
)
_BY_FIELD = {c.field: c for c in COLUMNS}


def _header_key(text: str) -> str:
    return re.sub(r"\s+", "", text).replace("（", "(").replace("）", ")").lower()


_HEADERS = {
    _header_key(name): c for c in COLUMNS for name in (c.label, c.field, f"{c.label}({c.field})", f"aspects.{c.field}")
}


# ---------------------------------------------------------------- export


def _cells(entry: KbEntry) -> list[Any]:
    fields = {**entry.model_dump(exclude={"aspects"}), **entry.aspects.model_dump()}
    fields.update(questions="\n".join(entry.questions), status=entry.status.value)
    values = [fields[c.field] for c in COLUMNS]
    if any(isinstance(v, str) and ILLEGAL_CHARACTERS_RE.search(v) for v in values):
        # Control characters mean nothing here and .xlsx cannot store them; drop them in both formats alike.
        log.warning("entry %s: dropping control characters that Excel cannot store", entry.id)
    return [_LINE_BREAK.sub("\n", ILLEGAL_CHARACTERS_RE.sub("", v)) if isinstance(v, str) else v for v in values]


def _rows_or_fail(entries: Iterable[KbEntry]) -> list[list[Any]]:
    rows, problems = [], []
    for index, entry in enumerate(entries, start=2):
        row = _cells(entry)
        for column, value in zip(COLUMNS, row, strict=True):
            if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
                problems.append(Problem(column.where(index), f"{entry.id}: 超过 Excel 单元格上限 {MAX_CELL_CHARS} 字"))
        rows.append(row)
    if problems:
        raise ValidationFailed(problems)
    return rows


def export_xlsx(entries: Iterable[KbEntry], path: Path | str) -> None:
    """Writes the entries to one sheet (知识库) plus a 说明 sheet describing the columns."""
    rows = _rows_or_fail(entries)
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_NAME
    _header_row(ws, [c.label for c in COLUMNS])
    wrap = Alignment(wrap_text=True, vertical="top")
    for row_index, row in enumerate(rows, start=2):
        for col_index, (column, value) in enumerate(zip(COLUMNS, row, strict=True), start=1):
            cell = ws.cell(row=row_index, column=col_index, value=value)
            cell.alignment = wrap
            if column.kind == "date":
                cell.number_format = "yyyy-mm-dd"
            elif isinstance(value, str):
                # Text format and quote prefix keep Excel from reading "=..." as a formula, now and when edited.
                cell.data_type = "s"
                cell.number_format = "@"
                cell.quotePrefix = value.startswith(_FORMULA_START)
    for index, column in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = column.width
    ws.freeze_panes = "B2"  # header row and the id column stay visible
    ws.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{max(len(rows) + 1, 2)}"
    for field, choices in (("category", list(CATEGORIES)), ("status", list(EntryStatus))):
        letter = get_column_letter(COLUMNS.index(_BY_FIELD[field]) + 1)  # a drop-down, with room for new rows
        choice_list, cells = f'"{",".join(choices)}"', f"{letter}2:{letter}2000"
        ws.add_data_validation(DataValidation(type="list", formula1=choice_list, allow_blank=True, sqref=cells))
    _write_help_sheet(wb.create_sheet(HELP_SHEET_NAME))
    wb.save(path)
    log.info("exported %d entries to %s", len(rows), path)


def _header_row(ws: Any, labels: list[str]) -> None:
    ws.append(labels)
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")


_NOTES = (
    "第一行是列名，不要改；也可以写英文字段名（如 answer）。不认识的列名会报错。",
    "自己的备注请放在列名以“备注”或“#”开头的列里，导入时忽略。",
    "日期写成 2025-01-01（也可 2025/1/1、2025年1月1日）。",
    "单元格不要写公式；以 = + - @ 开头的内容按文字保存。",
    "导入时检查全部行：有任何错误就一条也不导入，并列出每个错误的行和列。",
    "另存为 CSV 时请选“CSV UTF-8(逗号分隔)”；普通 CSV（GBK）也能导入。",
)


def _write_help_sheet(ws: Any) -> None:
    _header_row(ws, ["列名", "字段", "必填", "说明"])
    for column in COLUMNS:
        ws.append([column.label, column.field, "是" if column.required else "", column.help])
    _header_row(ws, ["分类(category) 可填", "名称"])
    for key, name in CATEGORIES.items():
        ws.append([key, name])
    _header_row(ws, ["状态(status) 可填", "含义"])
    for key, label in STATUS_LABELS.items():
        ws.append([str(key), label])
    _header_row(ws, ["注意"])
    for note in _NOTES:
        ws.append([note])
    for letter, width in zip("ABCD", (22, 18, 6, 70), strict=True):
        ws.column_dimensions[letter].width = width


def export_csv(entries: Iterable[KbEntry], path: Path | str) -> None:
    """UTF-8 with BOM, so Excel on Windows shows the Chinese correctly."""
    rows = _rows_or_fail(entries)
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([c.label for c in COLUMNS])
        for row in rows:
            writer.writerow([_csv_value(v) for v in row])
    log.info("exported %d entries to %s", len(rows), path)


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith((*_FORMULA_START, "'")) else text


# ---------------------------------------------------------------- import


@dataclass(frozen=True)
class _Unreadable:
    """A cell whose content cannot be used (a formula, an Excel error value, an over-long CSV field)."""

    reason: str


def import_spreadsheet(path: Path | str) -> list[KbEntry]:
    """Every entry of an .xlsx or .csv file; raises ValidationFailed listing every problem in it."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise ValidationFailed([Problem(path.name, "只能导入 .xlsx 或 .csv 文件")])
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationFailed([Problem(path.name, f"无法读取文件：{exc.strerror}")]) from exc
    if not data.strip(b"\xef\xbb\xbf \t\r\n"):
        raise ValidationFailed([Problem(path.name, "文件是空的")])
    rows = _read_xlsx(path, data) if suffix == ".xlsx" else _read_csv(path, data)
    if all(_blank(v) for row in rows for v in row):
        raise ValidationFailed([Problem(path.name, "表格是空的")])
    entries, problems = _parse(rows)
    problems += [] if entries or problems else [Problem(path.name, "文件里没有任何条目（只有表头或全是空行）")]
    if problems:
        log.warning("import of %s failed with %d problem(s)", path, len(problems))
        raise ValidationFailed(problems)
    log.info("imported %d entries from %s", len(entries), path)
    return entries


def _read_xlsx(path: Path, data: bytes) -> list[list[Any]]:
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ValidationFailed([Problem(path.name, "这是旧版 .xls 文件，请在 Excel 中另存为 .xlsx")])
    try:
        wb = load_workbook(io.BytesIO(data), data_only=False)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, TypeError) as exc:
        log.info("cannot open %s as xlsx: %r", path, exc)
        raise ValidationFailed(
            [Problem(path.name, "不是有效的 Excel .xlsx 文件（可能是改了扩展名的其他文件），请在 Excel 中另存为 .xlsx")]
        ) from exc
    names = [n for n in wb.sheetnames if n != HELP_SHEET_NAME] or wb.sheetnames
    ws = wb[SHEET_NAME] if SHEET_NAME in wb.sheetnames else wb[names[0]]
    return [[_xlsx_value(cell) for cell in row] for row in ws.iter_rows()]


def _xlsx_value(cell: Any) -> Any:
    if cell.data_type == "f":
        return _Unreadable("是公式；请直接写文字，或在开头加单引号 '")
    return _Unreadable(f"是 Excel 错误值 {cell.value}") if cell.data_type == "e" else cell.value


def _decode(path: Path, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if data.startswith(b"PK\x03\x04"):
        raise ValidationFailed([Problem(path.name, "这是 Excel .xlsx 文件，请把扩展名改回 .xlsx")])
    if b"\x00" in data:
        raise ValidationFailed([Problem(path.name, "不是文本 CSV 文件（含二进制内容）")])
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding != "utf-8-sig":
            log.warning("%s is not UTF-8; read it as GBK/GB18030 (Excel's CSV on Chinese Windows)", path)
        return text
    raise ValidationFailed([Problem(path.name, "无法识别文件编码；请在 Excel 中另存为“CSV UTF-8(逗号分隔)”")])


def _read_csv(path: Path, data: bytes) -> list[list[Any]]:
    text = _decode(path, data)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[Any]] = []
    try:
        rows.extend([v[1:] if v.startswith("'") else v for v in record] for record in reader)
    except csv.Error as exc:
        # Stop there: after a broken record the csv module cannot tell where the next one starts.
        rows.append([_Unreadable(f"CSV 格式错误（单元格太长或引号不配对）：{exc}")])
    return rows


def _parse(rows: list[list[Any]]) -> tuple[list[KbEntry], list[Problem]]:
    columns, problems = _map_headers(rows[0], rows[1:])
    present = {c.field for c in columns.values()}
    entries: list[KbEntry] = []
    first_row_of: dict[str, int] = {}
    for row_number, values in enumerate(rows[1:], start=2):
        if len(values) == 1 and isinstance(values[0], _Unreadable):
            problems.append(Problem(f"第{row_number}行", values[0].reason))
            continue
        if all(_blank(v) for v in values):  # Excel leaves formatted empty rows behind
            continue
        raw, failed, row_problems = _row_fields(row_number, values, columns)
        problems.extend(row_problems)
        entry_id = raw.get("id")
        if entry_id in first_row_of:
            message = f"编号 {entry_id!r} 重复（第{first_row_of[entry_id]}行已有）"
            problems.append(Problem(_BY_FIELD["id"].where(row_number), message))
        elif entry_id:
            first_row_of[entry_id] = row_number
        try:
            entry = KbEntry.model_validate(raw)
        except ValidationError as exc:
            for error in exc.errors():
                loc = error["loc"][1:] if error["loc"][:1] == ("aspects",) else error["loc"]
                column = _BY_FIELD.get(str(loc[0])) if loc else None
                if column and (column.field in failed or column.field not in present):
                    continue  # already reported for the cell or as a missing column
                where = column.where(row_number) if column else f"第{row_number}行"
                problems.append(Problem(where, _message(error)))
            continue
        for message in check_publishable(entry) if entry.status == EntryStatus.published else []:
            field = "questions" if "question" in message else "review_by"
            problems.append(Problem(_BY_FIELD[field].where(row_number), f"已发布的条目：{message}"))
        entries.append(entry)
    return entries, problems


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _map_headers(header: Sequence[Any], body: list[list[Any]]) -> tuple[dict[int, Column], list[Problem]]:
    columns: dict[int, Column] = {}
    problems: list[Problem] = []
    for index, value in enumerate(header):
        where = f"第1行 {get_column_letter(index + 1)}列"
        if isinstance(value, _Unreadable):
            problems.append(Problem(where, value.reason))
            continue
        text = "" if value is None else str(value).strip()
        if not text:
            if any(index < len(r) and not _blank(r[index]) for r in body):
                problems.append(Problem(where, "这一列有内容但没有列名"))
            continue
        if text.startswith(NOTE_PREFIXES):
            log.info("ignoring notes column %r", text)
            continue
        column = _HEADERS.get(_header_key(text))
        if column is None:
            problems.append(Problem(where, f"不认识的列名 {text!r}；列名见“说明”表，备注列请以“备注”开头"))
        elif column in columns.values():
            problems.append(Problem(where, f"列 {column.label}({column.field}) 重复出现"))
        else:
            columns[index] = column
    for column in COLUMNS:
        if column.required and column not in columns.values():
            problems.append(Problem("第1行", f"缺少必填列 {column.label}({column.field})"))
    return columns, problems


def _row_fields(
    row: int, values: list[Any], columns: dict[int, Column]
) -> tuple[dict[str, Any], set[str], list[Problem]]:
    """The raw KbEntry fields of one row, the fields whose cell could not be read, and the cell problems."""
    raw: dict[str, Any] = {}
    aspects: dict[str, Any] = {}
    failed: set[str] = set()
    problems: list[Problem] = []
    for index, column in columns.items():
        value = values[index] if index < len(values) else None
        try:
            converted = _convert(column, value)
        except ValueError as exc:
            problems.append(Problem(column.where(row), str(exc)))
            failed.add(column.field)
            continue
        if converted is None:
            if column.required:  # status is required here although the model has a default: publishing is a choice
                problems.append(Problem(column.where(row), "不能为空"))
                failed.add(column.field)
            continue
        (aspects if column.kind == "aspect" else raw)[column.field] = converted
    if aspects:
        raw["aspects"] = aspects
    return raw, failed, problems


def _convert(column: Column, value: Any) -> Any:
    """The cell as a KbEntry field value, None when empty; ValueError with a message for staff."""
    if isinstance(value, _Unreadable):
        raise ValueError(value.reason)
    if column.kind == "date":
        return _as_date(value)
    if column.kind == "int":
        return _as_int(value)
    text = _as_text(value)
    if text is None:
        return None
    if len(text) > MAX_CELL_CHARS:
        raise ValueError(f"单元格太长（{len(text)} 字，最多 {MAX_CELL_CHARS} 字）")
    if column.kind == "aspect" and len(text) > MAX_ASPECT_CHARS:
        raise ValueError(f"太长（{len(text)} 个字，最多 {MAX_ASPECT_CHARS} 个字）")
    if column.kind == "lines":
        return [line for line in text.split("\n") if line.strip()]
    if column.kind == "category":
        key = text.lower() if text.lower() in CATEGORIES else {n: k for k, n in CATEGORIES.items()}.get(text)
        if key is None:
            raise ValueError(f"不认识的分类 {text!r}；可填 {'、'.join(f'{k}({n})' for k, n in CATEGORIES.items())}")
        return key
    if column.kind == "status":
        by_label = {label.split("（")[0]: key for key, label in STATUS_LABELS.items()}
        key = text.lower() if text.lower() in set(EntryStatus) else by_label.get(text)
        if key is None:
            raise ValueError(f"不认识的状态 {text!r}；可填 {'、'.join(s.value for s in EntryStatus)}")
        return EntryStatus(key)
    return text


def _as_text(value: Any) -> str | None:
    # A number or a date typed into a text column is fine: Excel turns 12345 or 2025-01-01 into one.
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    elif isinstance(value, dt.datetime) and value.time() == dt.time():
        value = value.date()
    text = _LINE_BREAK.sub("\n", value.isoformat() if isinstance(value, dt.date) else str(value)).strip()
    return text or None


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 <= value < 2958466:
        return from_excel(value).date()  # a date cell that lost its date format shows Excel's day number
    text = _as_text(value)
    if text is None:
        return None
    match = _DATE.match(text)
    if match:
        year, month, day = match.group(1), match.group(2) or match.group(4), match.group(3) or match.group(5)
        try:
            return dt.date(int(year), int(month), int(day))
        except ValueError:
            pass
    raise ValueError(f"不是有效日期 {text[:40]!r}；请写成 2025-01-01 这样的格式")


def _as_int(value: Any) -> int | None:
    text = _as_text(value)  # 2.0 from Excel becomes "2"
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"应是正整数，不是 {text[:40]!r}")
    return int(text)


def _message(error: Any) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return "不能为空"
    if kind == "string_too_short":
        return f"太短（至少 {ctx.get('min_length')} 个字）"
    if kind == "string_too_long":
        return f"太长（{len(error['input'])} 个字，最多 {ctx.get('max_length')} 个字）"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return str(error["msg"])
