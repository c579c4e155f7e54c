"""Spreadsheet import/export: lossless round trips, and every bad input located by row and column."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter

from knowledge_base.errors import ValidationFailed
from knowledge_base.models import ASPECTS, CATEGORIES, EntryStatus, KbEntry
from knowledge_base.spreadsheet import (
    COLUMNS,
    HELP_SHEET_NAME,
    SHEET_NAME,
    export_csv,
    export_xlsx,
    import_spreadsheet,
)

HEADERS = [c.label for c in COLUMNS]


def make_entry(entry_id: str = "senior-age-allowance", **overrides: Any) -> KbEntry:
    fields: dict[str, Any] = {
        "id": entry_id,
        "category": "yanglao",
        "title": "高龄津贴怎么申请",
        "questions": [f"老人补贴问法{i}" for i in range(8)],
        "answer": "80岁以上的老人可以到社区申请高龄津贴。",
        "department": "民政",
        "aspects": {"eligibility": "80岁以上广西户籍老人", "contact": "{社区电话}"},
        "effective_from": dt.date(2025, 1, 1),
        "review_by": dt.date(2027, 6, 30),
    }
    fields.update(overrides)
    return KbEntry.model_validate(fields)


def tricky_entries() -> list[KbEntry]:
    return [
        make_entry(),
        make_entry(
            "multi-line",
            category="shebao",
            title='标题，带逗号和"引号"',
            questions=["=SUM(A1:A3)", "+86 电话", "-减号开头", "@某人", "'单引号开头", "普通, 逗号", "问\"引号\"", "第八个"],
            answer="第一行。\n第二行，带逗号，\"引号\"。\n\n第四行",
            aspects={name: f"{label}：甲；乙\n下一行" for name, label in ASPECTS.items()},
            department="人社",
            region="南宁市",
            status=EntryStatus.draft,
            version=3,
            updated_by="张三",
        ),
        make_entry(
            "formula-like",
            title="=HYPERLINK(\"http://x\")",
            answer="-1+1 不是公式，是文字",
            aspects={"fees": "+10元", "online": "@广西人社 App", "materials": "=1+1"},
            department="@部门",
            updated_by="=cmd|' /C calc'!A0",
        ),
        make_entry("no-aspects-no-dates", aspects={}, effective_from=None, review_by=None, questions=[], status="archived"),
    ]


def write_xlsx(path: Path, rows: list[list[Any]]) -> Path:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    wb.save(path)
    return path


def write_csv(path: Path, rows: list[list[Any]], encoding: str = "utf-8-sig") -> Path:
    with open(path, "w", encoding=encoding, newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def good_row(entry_id: str = "senior-age-allowance", **cells: Any) -> list[Any]:
    """A valid row in HEADERS order; ``cells`` overrides by Chinese header."""
    values: dict[str, Any] = {
        "编号": entry_id, "分类": "yanglao", "标题": "高龄津贴怎么申请",
        "相似问法": "\n".join(f"问法{i}" for i in range(8)), "答案": "80岁以上老人可以申请高龄津贴。",
        "主管部门": "民政", "生效日期": "2025-01-01", "状态": "published",
    }
    values.update(cells)
    return [values.get(h, "") for h in HEADERS]


def problems_of(path: Path) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        import_spreadsheet(path)
    return [(p.location, p.message) for p in caught.value.problems]


def locations(path: Path) -> list[str]:
    return [loc for loc, _ in problems_of(path)]


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("export", [export_xlsx, export_csv])
def test_round_trip_is_lossless(tmp_path: Path, export: Any) -> None:
    entries = tricky_entries()
    path = tmp_path / ("kb.xlsx" if export is export_xlsx else "kb.csv")
    export(entries, path)
    assert import_spreadsheet(path) == entries


def test_csv_is_utf8_with_bom_and_escapes_formulas(tmp_path: Path) -> None:
    path = tmp_path / "kb.csv"
    export_csv(tricky_entries(), path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines(keepends=True)))
    assert rows[0] == HEADERS
    cells = [cell for row in rows[1:] for cell in row]
    assert "'=HYPERLINK(\"http://x\")" in cells
    assert "'-1+1 不是公式，是文字" in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)


def test_xlsx_stores_formula_like_text_as_text(tmp_path: Path) -> None:
    path = tmp_path / "kb.xlsx"
    export_xlsx(tricky_entries(), path)
    ws = load_workbook(path)[SHEET_NAME]
    cells = {c.value: c for row in ws.iter_rows(min_row=2) for c in row if isinstance(c.value, str)}
    for text in ('=HYPERLINK("http://x")', "-1+1 不是公式，是文字", "+10元", "@广西人社 App", "=1+1"):
        assert cells[text].data_type == "s"
        assert cells[text].quotePrefix
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)


def test_xlsx_layout(tmp_path: Path) -> None:
    path = tmp_path / "kb.xlsx"
    export_xlsx([make_entry()], path)
    wb = load_workbook(path)
    assert wb.sheetnames == [SHEET_NAME, HELP_SHEET_NAME]
    ws = wb[SHEET_NAME]
    assert [c.value for c in ws[1]] == HEADERS
    assert HEADERS[:5] == ["编号", "分类", "标题", "相似问法", "答案"]
    assert HEADERS[5:14] == list(ASPECTS.values())
    assert ws.freeze_panes == "B2"
    assert all(c.font.bold for c in ws[1])
    assert all(c.alignment.wrap_text for c in ws[2])
    assert ws.column_dimensions["E"].width == 50  # 答案
    assert ws["D2"].value.count("\n") == 7  # one question per line
    assert ws.cell(2, HEADERS.index("生效日期") + 1).value == dt.datetime(2025, 1, 1)
    help_text = {c.value for row in wb[HELP_SHEET_NAME].iter_rows() for c in row if c.value}
    assert set(HEADERS) | set(CATEGORIES) | set(CATEGORIES.values()) <= help_text
    assert {s.value for s in EntryStatus} <= help_text


def test_english_headers_and_lenient_values(tmp_path: Path) -> None:
    header = ["id", "category", "title", "questions", "answer", "aspects.fees", "contact", "department",
              "effective_from", "review_by", "status", "version", "备注（内部）"]
    row = ["a-b", "养老服务", "标题文字", "问一\r\n问二\n\n问一", "答案文字够长", 100, 12345, "民政",
           dt.datetime(2025, 3, 1), "2026/7/1", "草稿", 2.0, "随便写"]
    entries = import_spreadsheet(write_xlsx(tmp_path / "en.xlsx", [header, row, [None] * len(header)]))
    assert entries == [KbEntry(
        id="a-b", category="yanglao", title="标题文字", questions=["问一", "问二"], answer="答案文字够长",
        aspects={"fees": "100", "contact": "12345"}, department="民政", effective_from=dt.date(2025, 3, 1),
        review_by=dt.date(2026, 7, 1), status="draft", version=2,
    )]


@pytest.mark.parametrize("text", ["2025-01-05", "2025/1/5", "2025年1月5日", "2025.01.05", "20250105", "2025-01-05 00:00:00"])
def test_date_spellings(tmp_path: Path, text: str) -> None:
    path = write_csv(tmp_path / "d.csv", [HEADERS, good_row(生效日期=text)])
    assert import_spreadsheet(path)[0].effective_from == dt.date(2025, 1, 5)


def test_gbk_csv_is_decoded(tmp_path: Path) -> None:
    # What Excel on a Chinese Windows writes for plain "CSV (逗号分隔)".
    path = write_csv(tmp_path / "gbk.csv", [HEADERS, good_row()], encoding="gbk")
    assert import_spreadsheet(path)[0].answer == "80岁以上老人可以申请高龄津贴。"


def test_tab_separated_utf16_is_read(tmp_path: Path) -> None:
    path = tmp_path / "unicode.csv"
    with open(path, "w", encoding="utf-16", newline="") as handle:
        csv.writer(handle, delimiter="\t").writerows([HEADERS, good_row()])
    assert import_spreadsheet(path)[0].id == "senior-age-allowance"


# ---------------------------------------------------------------- bad input


def test_missing_required_column(tmp_path: Path) -> None:
    index = HEADERS.index("答案")
    rows = [[v for i, v in enumerate(r) if i != index] for r in (HEADERS, good_row())]
    assert problems_of(write_csv(tmp_path / "m.csv", rows)) == [("第1行", "缺少必填列 答案(answer)")]


def test_unknown_header_is_reported_but_notes_and_blank_columns_are_ignored(tmp_path: Path) -> None:
    rows = [[*HEADERS, "办理条见", "备注", "", "#内部"], [*good_row(), "x", "随便", "", "y"]]
    problems = problems_of(write_csv(tmp_path / "u.csv", rows))
    assert len(problems) == 1
    assert problems[0][0] == f"第1行 {get_column_letter(len(HEADERS) + 1)}列"
    assert "办理条见" in problems[0][1]


def test_unlabelled_column_with_content_and_duplicate_column(tmp_path: Path) -> None:
    rows = [[*HEADERS, "", "answer"], [*good_row(), "有内容", "又一个答案"]]
    after = [get_column_letter(len(HEADERS) + i) for i in (1, 2)]
    assert locations(write_csv(tmp_path / "x.csv", rows)) == [f"第1行 {after[0]}列", f"第1行 {after[1]}列"]


def test_every_bad_cell_is_reported_at_once(tmp_path: Path) -> None:
    rows = [
        HEADERS,
        good_row("ok-1"),
        good_row("empty-answer", 答案=""),
        good_row("bad-date", 生效日期="2025-13-01", 复核日期="明年"),
        good_row("bad-category", 分类="养老"),
        good_row("bad-status", 状态="online"),
        good_row("ok-1"),
        good_row("Bad_ID"),
        good_row("no-status", 状态=""),
        good_row("bad-version", 版本="v2"),
        good_row("too-few", 相似问法="只有一个问法"),
        good_row("long-answer", 答案="长" * 200),
    ]
    problems = problems_of(write_csv(tmp_path / "bad.csv", rows))
    assert [loc for loc, _ in problems] == [
        "第3行 答案(answer)",
        "第4行 生效日期(effective_from)",
        "第4行 复核日期(review_by)",
        "第5行 分类(category)",
        "第6行 状态(status)",
        "第7行 编号(id)",
        "第8行 编号(id)",
        "第9行 状态(status)",
        "第10行 版本(version)",
        "第11行 相似问法(questions)",
        "第12行 答案(answer)",
    ]
    messages = dict(problems)
    assert messages["第3行 答案(answer)"] == "不能为空"
    assert "2025-13-01" in messages["第4行 生效日期(effective_from)"]
    assert "yanglao(养老服务)" in messages["第5行 分类(category)"]
    assert "online" in messages["第6行 状态(status)"]
    assert "重复" in messages["第7行 编号(id)"] and "第2行" in messages["第7行 编号(id)"]
    assert "太长" in messages["第12行 答案(answer)"]


def test_nothing_is_half_imported(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "half.csv", [HEADERS, good_row("fine"), good_row("broken", 分类="??")])
    with pytest.raises(ValidationFailed) as caught:
        import_spreadsheet(path)
    assert len(caught.value.problems) == 1


def test_extremely_long_cells(tmp_path: Path) -> None:
    # openpyxl (like Excel) cuts a cell at 32767 characters, still far beyond an aspect's limit.
    path = write_xlsx(tmp_path / "long.xlsx", [HEADERS, good_row(办理条件="很" * 40000)])
    assert problems_of(path) == [("第2行 办理条件(eligibility)", "太长（32767 个字，最多 400 个字）")]
    path = write_csv(tmp_path / "long.csv", [HEADERS, good_row(答案="长" * 40000)])
    [(where, message)] = problems_of(path)
    assert where == "第2行 答案(answer)"
    assert message.startswith("单元格太长")


def test_csv_field_beyond_reader_limit(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "huge.csv", [HEADERS, good_row("a"), good_row("b", 答案="长" * 200_000)])
    [(where, message)] = problems_of(path)
    assert where == "第3行"
    assert "CSV" in message


def test_formula_cell_in_xlsx_is_reported(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "f.xlsx", [HEADERS, good_row(答案="=A1&B1")])
    [(where, message)] = problems_of(path)
    assert where == "第2行 答案(answer)"
    assert "公式" in message


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("fake.xlsx", "编号,分类\n".encode(), "不是有效的 Excel .xlsx 文件"),
        ("old.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "旧版 .xls"),
        ("zip.csv", b"PK\x03\x04rest", "扩展名改回 .xlsx"),
        ("empty.csv", b"", "文件是空的"),
        ("bom-only.csv", b"\xef\xbb\xbf\r\n", "文件是空的"),
        ("kb.txt", b"abc", "只能导入 .xlsx 或 .csv"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    [(where, message)] = problems_of(path)
    assert where == name
    assert expected in message


def test_empty_xlsx_and_header_only(tmp_path: Path) -> None:
    assert problems_of(write_xlsx(tmp_path / "e.xlsx", [])) == [("e.xlsx", "表格是空的")]
    [(where, message)] = problems_of(write_csv(tmp_path / "h.csv", [HEADERS]))
    assert where == "h.csv"
    assert "没有任何条目" in message


def test_export_refuses_cells_excel_cannot_hold(tmp_path: Path) -> None:
    entry = make_entry(questions=[f"{i}" * 100 for i in range(400)])
    with pytest.raises(ValidationFailed) as caught:
        export_xlsx([entry], tmp_path / "big.xlsx")
    assert caught.value.problems[0].location == "第2行 相似问法(questions)"
    assert not (tmp_path / "big.xlsx").exists()
