"""The entry model and the YAML loader: valid content loads, every problem is located at ``file:line``."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base.errors import Problem, ValidationFailed
from knowledge_base.loader import check_catalog, collect_entries, load_entries, load_entry_file
from knowledge_base.models import MAX_ANSWER_CHARS, MIN_QUESTIONS, EntryStatus, KbEntry, check_publishable

QUESTIONS = [f"社保卡问题{i}怎么办" for i in range(MIN_QUESTIONS)]


def entry_yaml(entry_id: str, *, extra: str = "", questions: list[str] | None = None, answer: str | None = None,
               department: str | None = "人社", status: str = "published") -> str:
    """One entry as YAML text (indented for the ``entries:`` list), so tests know every line."""
    lines = [f"  - id: {entry_id}", f"    title: {entry_id}的标准问题", f"    status: {status}"]
    if department is not None:
        lines.append(f"    department: {department}")
    lines.append("    questions:")
    lines += [f"      - {q}" for q in (QUESTIONS if questions is None else questions)]
    lines.append(f"    answer: {answer or '带身份证到社保窗口办理，咨询电话12333。'}")
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


def write_file(directory: Path, name: str, *entries: str, category: str = "shebao") -> Path:
    path = directory / "entries" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {name}\ncategory: {category}\nentries:\n" + "".join(entries), encoding="utf-8")
    return path


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    """1-based line number of the ``occurrence``-th line containing ``needle``."""
    found = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line]
    return found[occurrence - 1]


def only_problem(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


# ---------------------------------------------------------------- valid content

def test_the_tiny_knowledge_base_loads(tiny_kb_dir: Path, tiny_kb_data: dict) -> None:
    entries = load_entries(tiny_kb_dir)
    expected = {e["id"]: name for name, f in tiny_kb_data["entries"].items() for e in f["entries"]}
    assert sorted(e.id for e in entries) == sorted(expected)
    by_id = {e.id: e for e in entries}
    # the file's category applies to every entry in it
    assert {by_id[i].category for i, name in expected.items() if name == "shebao.yaml"} == {"shebao"}
    assert {by_id[i].category for i, name in expected.items() if name == "yanglao.yaml"} == {"yanglao"}
    assert all(e.status == EntryStatus.published and len(e.questions) >= MIN_QUESTIONS for e in entries)
    assert by_id["social-security-card-apply"].aspects.present()["materials"] == "本人身份证；小孩带户口簿。"


def test_questions_are_stripped_and_deduplicated(tmp_path: Path) -> None:
    questions = [*QUESTIONS, f"'  {QUESTIONS[0]}  '", QUESTIONS[1], "'   '"]
    path = write_file(tmp_path, "shebao.yaml", entry_yaml("card-apply", questions=questions))
    entries, problems = load_entry_file(path)
    assert problems == []
    assert entries[0].questions == QUESTIONS


def test_an_entry_may_override_the_file_category(tmp_path: Path) -> None:
    path = write_file(tmp_path, "mixed.yaml", entry_yaml("canteen", extra="    category: yanglao"))
    entries, problems = load_entry_file(path)
    assert problems == []
    assert entries[0].category == "yanglao"


def test_a_draft_may_have_few_questions(tmp_path: Path) -> None:
    path = write_file(tmp_path, "shebao.yaml", entry_yaml("card-draft", questions=QUESTIONS[:2], status="draft"))
    entries, problems = load_entry_file(path)
    assert problems == []
    assert entries[0].status == EntryStatus.draft


def test_content_hash_ignores_bookkeeping_but_sees_content() -> None:
    entry = KbEntry(id="card-apply", category="shebao", title="社保卡怎么办", questions=QUESTIONS,
                    answer="带身份证去办。", department="人社")
    assert entry.content_hash() == entry.model_copy(update={"version": 7, "updated_by": "staff"}).content_hash()
    assert entry.content_hash() != entry.model_copy(update={"answer": "带户口本去办。"}).content_hash()
    assert entry.content_hash() != entry.model_copy(update={"questions": QUESTIONS[:-1]}).content_hash()


def test_check_publishable_counts_questions_and_dates() -> None:
    import datetime as dt

    entry = KbEntry(id="card-apply", category="shebao", title="社保卡怎么办", questions=QUESTIONS[:3],
                    answer="带身份证去办。", department="人社", effective_from=dt.date(2026, 1, 1),
                    review_by=dt.date(2025, 1, 1))
    problems = check_publishable(entry)
    assert len(problems) == 2
    assert any(f"at least {MIN_QUESTIONS}" in p for p in problems)
    assert any("review_by" in p for p in problems)
    assert check_publishable(entry.model_copy(update={"questions": QUESTIONS, "review_by": None})) == []


# ---------------------------------------------------------------- located problems

def test_malformed_yaml_reports_the_line(tmp_path: Path) -> None:
    path = write_file(tmp_path, "shebao.yaml", entry_yaml("card-apply"),
                      entry_yaml("card-loss").replace("title: card-loss的标准问题", "title: 社保卡: 丢了: 怎么办"))
    with pytest.raises(ValidationFailed) as caught:
        load_entry_file(path)
    problem = only_problem(caught.value.problems)
    assert problem.location == f"{path}:{line_of(path, '社保卡: 丢了')}"
    assert "YAML" in problem.message


def test_malformed_yaml_in_one_file_is_collected_with_its_line(tmp_path: Path) -> None:
    write_file(tmp_path, "a_good.yaml", entry_yaml("card-apply"))
    bad = write_file(tmp_path, "b_bad.yaml", entry_yaml("card-loss", extra="    policy: [unclosed, list"))
    _, problems = collect_entries(tmp_path)
    problem = only_problem(problems)
    # PyYAML reports an unclosed flow list where it notices it: at the end of the file, or on the line itself
    assert problem.location.startswith(f"{bad}:")
    assert int(problem.location.rsplit(":", 1)[1]) >= line_of(bad, "unclosed")


def test_unknown_category_reports_the_category_line(tmp_path: Path) -> None:
    path = write_file(tmp_path, "shebao.yaml", entry_yaml("card-apply"),
                      entry_yaml("card-loss", extra="    category: nosuch"))
    _, problems = load_entry_file(path)
    problem = only_problem(problems)
    assert problem.location == f"{path}:{line_of(path, 'category: nosuch')}"
    assert "card-loss" in problem.message and "nosuch" in problem.message


def test_unknown_file_category_reports_the_entry(tmp_path: Path) -> None:
    path = write_file(tmp_path, "weird.yaml", entry_yaml("card-apply"), category="nosuch")
    _, problems = load_entry_file(path)
    problem = only_problem(problems)
    assert problem.location == f"{path}:{line_of(path, 'id: card-apply')}"
    assert "category" in problem.message


def test_too_long_answer_reports_the_answer_line(tmp_path: Path) -> None:
    path = write_file(tmp_path, "shebao.yaml", entry_yaml("card-apply"),
                      entry_yaml("card-loss", answer="长" * (MAX_ANSWER_CHARS + 1)))
    _, problems = load_entry_file(path)
    problem = only_problem(problems)
    assert problem.location == f"{path}:{line_of(path, 'answer: 长长')}"
    assert "answer" in problem.message


def test_too_long_aspect_reports_the_aspect_line(tmp_path: Path) -> None:
    path = write_file(tmp_path, "shebao.yaml",
                      entry_yaml("card-apply", extra="    aspects:\n      eligibility: 有条件\n"
                                                      f"      materials: {'材' * 401}"))
    _, problems = load_entry_file(path)
    problem = only_problem(problems)
    assert problem.location == f"{path}:{line_of(path, 'materials: 材材')}"
    assert "aspects.materials" in problem.message


def test_missing_required_field_reports_the_entry_line(tmp_path: Path) -> None:
    path = write_file(tmp_path, "shebao.yaml", entry_yaml("card-apply"), entry_yaml("card-loss", department=None))
    _, problems = load_entry_file(path)
    problem = only_problem(problems)
    assert problem.location == f"{path}:{line_of(path, 'id: card-loss')}"
    assert "department" in problem.message


def test_unknown_field_reports_its_line(tmp_path: Path) -> None:
    path = write_file(tmp_path, "shebao.yaml", entry_yaml("card-apply", extra="    phone_number: 12333"))
    _, problems = load_entry_file(path)
    assert only_problem(problems).location == f"{path}:{line_of(path, 'phone_number')}"


def test_bad_question_reports_the_question_line(tmp_path: Path) -> None:
    path = write_file(tmp_path, "shebao.yaml", entry_yaml("card-apply", questions=[*QUESTIONS[:4], "{a: b}",
                                                                                    *QUESTIONS[4:]]))
    _, problems = load_entry_file(path)
    problem = only_problem(problems)
    assert problem.location.startswith(f"{path}:")
    assert line_of(path, "questions:") <= int(problem.location.rsplit(":", 1)[1]) <= line_of(path, "{a: b}")


def test_bad_id_reports_the_id_line(tmp_path: Path) -> None:
    path = write_file(tmp_path, "shebao.yaml", entry_yaml("card-apply"), entry_yaml("Card_Loss"))
    _, problems = load_entry_file(path)
    assert only_problem(problems).location == f"{path}:{line_of(path, 'id: Card_Loss')}"


def test_duplicate_id_across_files_reports_the_second_occurrence(tmp_path: Path) -> None:
    first = write_file(tmp_path, "a.yaml", entry_yaml("card-apply"))
    second = write_file(tmp_path, "b.yaml", entry_yaml("card-loss"), entry_yaml("card-apply"))
    _, problems = collect_entries(tmp_path)
    problem = only_problem(problems)
    assert problem.location == f"{second}:{line_of(second, 'id: card-apply')}"
    assert "card-apply" in problem.message and str(first) in problem.message


def test_duplicate_id_within_one_file_is_reported(tmp_path: Path) -> None:
    path = write_file(tmp_path, "a.yaml", entry_yaml("card-apply"), entry_yaml("card-apply"))
    _, problems = collect_entries(tmp_path)
    assert only_problem(problems).location == f"{path}:{line_of(path, 'id: card-apply', occurrence=2)}"


def test_too_few_questions_for_published_reports_the_questions_line(tmp_path: Path) -> None:
    path = write_file(tmp_path, "shebao.yaml", entry_yaml("card-apply"),
                      entry_yaml("card-loss", questions=QUESTIONS[: MIN_QUESTIONS - 1]))
    _, problems = load_entry_file(path)
    problem = only_problem(problems)
    assert problem.location == f"{path}:{line_of(path, 'questions:', occurrence=2)}"
    assert "card-loss" in problem.message and str(MIN_QUESTIONS) in problem.message


def test_a_file_without_entries_list_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "entries" / "empty.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("category: shebao\nentries: 3\n", encoding="utf-8")
    _, problems = load_entry_file(path)
    assert only_problem(problems).location == f"{path}:1"


def test_non_utf8_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "entries" / "gbk.yaml"
    path.parent.mkdir(parents=True)
    path.write_bytes("category: shebao\nentries: []\ntitle: 社保\n".encode("gbk"))
    _, problems = collect_entries(tmp_path)
    assert "UTF-8" in only_problem(problems).message


def test_an_empty_directory_is_a_problem(tmp_path: Path) -> None:
    entries, problems = collect_entries(tmp_path)
    assert entries == []
    assert len(problems) == 1


# ---------------------------------------------------------------- all or nothing

def test_loading_is_all_or_nothing_and_reports_every_problem(tmp_path: Path) -> None:
    good = write_file(tmp_path, "a_good.yaml", entry_yaml("card-apply"), entry_yaml("card-loss"))
    bad1 = write_file(tmp_path, "b_bad.yaml", entry_yaml("pension-claim", extra="    category: nosuch"))
    bad2 = write_file(tmp_path, "c_bad.yaml", entry_yaml("pension-enroll", questions=QUESTIONS[:1]))
    with pytest.raises(ValidationFailed) as caught:
        load_entries(tmp_path)
    locations = sorted(p.location.rsplit(":", 1)[0] for p in caught.value.problems)
    assert locations == [str(bad1), str(bad2)]
    assert str(good) not in str(caught.value)
    # the valid entries are still collected for reporting tools, but load_entries returned nothing
    _, problems = collect_entries(tmp_path)
    assert len(problems) == 2


def test_one_bad_entry_blocks_the_whole_knowledge_base(tiny_kb_dir: Path) -> None:
    path = tiny_kb_dir / "entries" / "yanglao.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("department: 社区", "department: ''", 1), encoding="utf-8")
    with pytest.raises(ValidationFailed) as caught:
        load_entries(tiny_kb_dir)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].location.startswith(f"{path}:")


# ---------------------------------------------------------------- the catalog

def test_catalog_check_finds_a_missing_topic(tiny_kb_dir: Path, tmp_path: Path) -> None:
    entries = load_entries(tiny_kb_dir)
    catalog = tmp_path / "services.yaml"
    catalog.write_text(
        "topics:\n"
        "  - {id: senior-age-allowance, category: yanglao, department: 民政, title: 高龄津贴怎么申请}\n"
        "  - {id: nursing-home-admission, category: yanglao, department: 民政, title: 怎么入住公办养老院}\n",
        encoding="utf-8",
    )
    problem = only_problem(check_catalog(entries, catalog))
    assert "nursing-home-admission" in problem.message
    assert problem.location == str(catalog)


def test_catalog_check_finds_wrong_category_and_unpublished(tiny_kb_dir: Path, tmp_path: Path) -> None:
    entries = load_entries(tiny_kb_dir)
    entries = [e.model_copy(update={"status": EntryStatus.draft}) if e.id == "home-care-service" else e
               for e in entries]
    catalog = tmp_path / "services.yaml"
    catalog.write_text(
        "topics:\n"
        "  - {id: senior-age-allowance, category: shebao}\n"
        "  - {id: home-care-service, category: yanglao}\n"
        "  - {id: social-security-card-apply, category: shebao}\n",
        encoding="utf-8",
    )
    problems = check_catalog(entries, catalog)
    assert len(problems) == 2
    assert any("senior-age-allowance" in p.message and "category" in p.message for p in problems)
    assert any("home-care-service" in p.message and "not published" in p.message for p in problems)
