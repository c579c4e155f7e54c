"""The shipped knowledge base (``knowledge_base/data``): valid, complete against the catalog, and free of
invented local phone numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from knowledge_base.engine import CALIBRATION_FILE, DATA_DIR
from knowledge_base.loader import check_catalog, collect_entries, parse_yaml_file
from knowledge_base.models import MIN_QUESTIONS, EntryStatus, KbEntry
from knowledge_base.normalize import normalize, strip_fillers
from knowledge_base.profile import load_profile, placeholders_in
from knowledge_base.retrieval.fusion import Calibration
from knowledge_base.synonyms import load_synonyms

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO.parent / "shared" / "catalog" / "services.yaml"
MAX_SPOKEN_ANSWER = 120  # the content guide's limit for the spoken answer
# National service numbers (docs/kb_format.md): the referral entries name the ones of other departments.
NATIONAL_HOTLINES = {"12345", "12333", "12393", "12385", "120", "110", "119", "122", "12315", "12348", "12366",
                     "12368", "12367", "12378", "12356", "12369", "12123"}
SIMPLE_PLACEHOLDERS = {"社区名称", "社区地址", "办公时间", "社区电话"}

# a run of digits, possibly split by dashes or spaces (0771-1234567, 400 123 4567)
_NUMBER = re.compile(r"(?<![\d.])\d{3,}(?:[-－ ]\d{3,})*(?![\d.])")
_PHONE_CONTEXT = re.compile(r"(电话|热线|拨打|拨|打|致电|联系)[^，。；、]{0,6}$")
# source links in `policy` (ASCII up to the next Chinese character or space): their digit runs are not phones
_URL = re.compile(r"https?://[\x21-\x7e]+")


def suspicious_numbers(text: str) -> list[str]:
    """Numbers that look like phone numbers and are not national hotlines."""
    found = []
    text = _URL.sub(" ", text)
    for match in _NUMBER.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if digits in NATIONAL_HOTLINES:
            continue
        mobile = len(digits) == 11 and digits.startswith("1")
        landline = (len(digits) in (7, 8) and not digits.startswith(("19", "20"))) or (
            digits.startswith("0") and 10 <= len(digits) <= 12)
        service = len(digits) == 10 and digits.startswith(("400", "800"))
        called = bool(_PHONE_CONTEXT.search(text[: match.start()]))
        if mobile or landline or service or called:
            found.append(match.group())
    return found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("有疑问打12333，或拨打{社区电话}", []),
        ("急病打120，着火打119，交通事故打122", []),
        ("2025年起每月90元，最高800元，100元到2000元共12档", []),
        ("联系人电话13812345678", ["13812345678"]),
        ("民政局0771-5551234", ["0771-5551234"]),
        ("办公室5551234", ["5551234"]),
        ("客服400-123-4567", ["400-123-4567"]),
        ("服务热线96333", ["96333"]),
        ("拨打 12349 养老热线", ["12349"]),
        ("来源：https://english.www.gov.cn/content_WS5f65fea8c6d0f7257693c491.html （2020年）", []),
        ("来源：https://x.cn/a.html ；电话5551234", ["5551234"]),
    ],
)
def test_the_phone_number_detector(text: str, expected: list[str]) -> None:
    assert suspicious_numbers(text) == expected


@pytest.fixture(scope="module")
def shipped_entries() -> list[KbEntry]:
    entries, problems = collect_entries(DATA_DIR)
    assert problems == [], "\n".join(map(str, problems))
    return entries


@pytest.fixture(scope="module")
def catalog() -> dict:
    if not CATALOG.exists():
        pytest.skip(f"service catalog not found at {CATALOG}")
    return yaml.safe_load(CATALOG.read_text(encoding="utf-8"))


def resident_texts(entry: KbEntry) -> list[tuple[str, str]]:
    return [("answer", entry.answer), *entry.aspects.present().items()]


def test_shipped_entries_have_no_problems(shipped_entries: list[KbEntry]) -> None:
    assert len(shipped_entries) >= 1
    assert all(e.status == EntryStatus.published for e in shipped_entries)


def test_catalog_check_passes(shipped_entries: list[KbEntry], catalog: dict) -> None:
    assert check_catalog(shipped_entries, CATALOG) == []


def test_every_catalog_topic_is_a_complete_published_entry(shipped_entries: list[KbEntry], catalog: dict) -> None:
    by_id = {e.id: e for e in shipped_entries}
    failures = []
    for topic in catalog["topics"]:
        entry = by_id.get(topic["id"])
        if entry is None:
            failures.append(f"{topic['id']}: missing")
            continue
        if entry.status != EntryStatus.published:
            failures.append(f"{entry.id}: status {entry.status}")
        if entry.category != topic["category"]:
            failures.append(f"{entry.id}: category {entry.category} != {topic['category']}")
        unique = {strip_fillers(normalize(q)) for q in entry.questions}
        if len(unique) < MIN_QUESTIONS:
            failures.append(f"{entry.id}: {len(unique)} unique questions")
        if len(entry.answer) > MAX_SPOKEN_ANSWER:
            failures.append(f"{entry.id}: answer has {len(entry.answer)} characters")
    assert failures == []


def test_no_invented_local_phone_numbers(shipped_entries: list[KbEntry]) -> None:
    failures = [f"{e.id}.{name}: {number}" for e in shipped_entries for name, text in resident_texts(e)
                for number in suspicious_numbers(text)]
    assert failures == []


def test_placeholders_are_ones_the_profile_knows(shipped_entries: list[KbEntry]) -> None:
    profile = load_profile(DATA_DIR / "community_profile.example.yaml")
    failures = []
    for entry in shipped_entries:
        for name, text in resident_texts(entry):
            for key, argument in placeholders_in(text):
                known = (
                    (key in SIMPLE_PLACEHOLDERS and argument is None)
                    or (key == "部门电话" and argument in profile.department_phones)
                    or (key == "地点" and argument in profile.places)
                )
                if not known:
                    failures.append(f"{entry.id}.{name}: {{{key}{':' + argument if argument else ''}}}")
            rendered = profile.render(text)
            if re.search(r"\{[^{}]*\}", rendered):
                failures.append(f"{entry.id}.{name}: unrendered braces in {rendered!r}")
    assert failures == []


def test_no_question_belongs_to_two_entries(shipped_entries: list[KbEntry]) -> None:
    owner: dict[str, str] = {}
    clashes = []
    for entry in shipped_entries:
        for question in entry.searchable_texts():
            key = strip_fillers(normalize(question))
            if owner.setdefault(key, entry.id) != entry.id:
                clashes.append(f"{question!r}: {owner[key]} and {entry.id}")
    assert clashes == []


def test_synonyms_have_at_least_200_mappings() -> None:
    synonyms = load_synonyms(DATA_DIR / "synonyms.yaml")  # raises on a variant under two canonicals
    assert len(synonyms.mapping) >= 200


def test_synonym_variants_are_not_words_of_their_own_canonical() -> None:
    # 养老: [养老金] would rewrite 养老金 into 养老 and lose the word; the file's own rules forbid it
    synonyms = load_synonyms(DATA_DIR / "synonyms.yaml")
    bad = [f"{variant} → {canonical}" for variant, canonical in synonyms.mapping.items()
           if variant in canonical]
    assert bad == []


def test_shipped_calibration_matches_the_features() -> None:
    calibration = Calibration.load(CALIBRATION_FILE)  # raises when fitted for other features
    assert all(isinstance(w, float) for w in calibration.weights)


def test_calibration_negatives_are_not_knowledge_base_questions(shipped_entries: list[KbEntry]) -> None:
    data, _ = parse_yaml_file(DATA_DIR / "calibration_negatives.yaml")
    questions = {strip_fillers(normalize(q)) for e in shipped_entries for q in e.searchable_texts()}
    assert data["negatives"]
    assert [n for n in data["negatives"] if strip_fillers(normalize(n)) in questions] == []
