"""Fixtures shared by every test package.

Names are stable; other test authors rely on them.

Settings and databases
- ``settings`` — an ``assistant.settings.Settings`` isolated from the developer's environment (no ``SHEQU_*``
  variable and no ``.env`` file is read): ``var_dir`` is the test's ``tmp_path``, the database is the SQLite
  file ``tmp_path/shequ.db``, the index goes to ``tmp_path/index`` and ``kb_data_dir`` is ``tiny_kb_dir``.
  Change a field with ``settings.model_copy(update={...})``.
- ``db_url`` — parametrised: ``sqlite`` (a file in ``tmp_path``) and ``postgres`` (marked ``postgres``).
  The PostgreSQL case runs only when ``SHEQU_TEST_DATABASE_URL`` is set and the server answers; otherwise it
  is skipped with the reason. Each PostgreSQL test gets its own empty schema (``search_path`` in the URL's
  ``options``), dropped with ``CASCADE`` afterwards, so tests never see each other's rows.
- ``db_settings`` — ``settings`` with ``database_url=db_url``: use it to run a test on both databases.

Knowledge-base content
- ``tiny_kb_data`` (session) — the tiny knowledge base as plain data:
  ``{"entries": {file_name: {"category": …, "entries": [...]}}, "synonyms": {...}, "profile": {...}}``.
  Six published entries in two categories (``shebao``: 社保卡申领, 社保卡挂失补办, 居民养老金领取;
  ``yanglao``: 高龄津贴, 老年食堂, 居家养老上门服务), ten similar questions each. Its synonyms map
  退休金→养老金, 长寿金/老人补贴→高龄津贴, 老人饭堂→老年食堂 …, and deliberately *not* 社宝→社保, so
  homophone typos can only be found through pinyin.
- ``write_kb`` — ``write_kb(directory, data=None) -> Path`` writes ``entries/*.yaml``, ``synonyms.yaml`` and
  ``community_profile.example.yaml`` for ``data`` (default: a deep copy of ``tiny_kb_data``) and returns
  ``directory``; edit a copy of the data to write a variant.
- ``tiny_kb_dir`` — the tiny knowledge base written to ``tmp_path/kb`` (fresh per test; safe to edit).
- ``tiny_kb`` (session) — a ``KnowledgeBase`` built on the tiny knowledge base (jieba, trained static encoder,
  shipped calibration, retrieval defaults). Shared: do not mutate it.
- ``shipped_kb`` (session) — a ``KnowledgeBase`` on the shipped content in ``knowledge_base/data`` with the
  shipped calibration and the thresholds of the default ``Settings`` (as a deployment runs it). Takes a few
  seconds to build once; tests that use it should be marked ``slow``.

Application
- ``app_context`` — ``assistant.context.create_context(settings)`` on the tiny knowledge base (database
  migrated, shipped content synced); closed after the test.
"""

from __future__ import annotations

import copy
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from assistant.context import AppContext, create_context
from assistant.settings import PROJECT_ROOT, Settings

SHIPPED_DATA_DIR = PROJECT_ROOT / "knowledge_base" / "data"
TEST_DATABASE_ENV = "SHEQU_TEST_DATABASE_URL"
# The pretrained encoder's document vectors depend on the text alone: one file for every test and every server
# a test starts (they inherit the environment), so the shipped questions are embedded once per machine, not once
# per test's fresh var directory.
PRETRAINED_CACHE_ENV = "SHEQU_PRETRAINED_CACHE"
PRETRAINED_TEST_CACHE = Path(os.environ.setdefault(PRETRAINED_CACHE_ENV,
                                                  str(Path(tempfile.gettempdir()) / "shequ-tests-pretrained.npz")))


# ---------------------------------------------------------------- the tiny knowledge base

def _entry(entry_id: str, title: str, department: str, answer: str, questions: list[str],
           **aspects: str) -> dict[str, Any]:
    return {"id": entry_id, "title": title, "department": department, "status": "published",
            "questions": questions, "answer": answer, "aspects": aspects}


TINY_KB: dict[str, Any] = {
    "entries": {
        "shebao.yaml": {
            "category": "shebao",
            "entries": [
                _entry("social-security-card-apply", "社会保障卡怎么申领", "人社",
                       "带身份证到银行网点或社保窗口申领社保卡，也可以在广西人社app上申请。咨询电话12333。",
                       ["社保卡怎么办理", "第一次办社保卡去哪里", "新办社保卡要带什么材料", "怎么申请社保卡",
                        "社保卡在哪里领", "小孩可以办社保卡吗", "办社保卡要多久才能拿到", "社保卡申领流程",
                        "没有社保卡怎么办一张", "社保卡可以在手机上申请吗"],
                       materials="本人身份证；小孩带户口簿。", contact="12333；{社区电话}"),
                _entry("social-security-card-loss", "社保卡丢了怎么挂失和补办", "人社",
                       "先打12333或在广西人社app挂失，再带身份证到发卡银行网点补办社保卡。",
                       ["社保卡丢了怎么办", "社保卡不见了怎么挂失", "社保卡坏了怎么换卡", "补办社保卡要钱吗",
                        "社保卡被偷了怎么办", "社保卡掉了去哪里补", "社保卡挂失电话是多少", "补社保卡要带什么",
                        "社保卡补办要多久", "社保卡消磁了能换吗"],
                       process="先挂失，再到发卡银行网点补卡。"),
                _entry("resident-pension-claim", "城乡居民养老金满多少岁可以领，怎么申请", "人社",
                       "年满60周岁、累计缴费满15年的，可以到户籍所在地社保窗口申请按月领取城乡居民养老金。",
                       ["养老金几岁可以领", "居民养老金怎么申请领取", "满60岁了怎么领养老金",
                        "农村养老金要交够多少年才能领", "养老金每个月能领多少", "领养老金要办什么手续",
                        "我妈到60岁了养老金去哪里申请", "城乡居民养老金领取条件", "交满15年可以领养老金吗",
                        "养老金什么时候开始发"],
                       eligibility="年满60周岁，累计缴费满15年。"),
            ],
        },
        "yanglao.yaml": {
            "category": "yanglao",
            "entries": [
                _entry("senior-age-allowance", "高龄津贴怎么申请", "民政",
                       "年满80周岁的本地户籍老人，可以带身份证和户口簿到社区申请高龄津贴，电话{社区电话}。",
                       ["80岁老人有什么补贴", "高龄津贴在哪里申请", "八十岁以上老人补助怎么领",
                        "高龄津贴每个月多少钱", "高龄津贴要带什么材料", "老人满80岁可以领钱吗",
                        "高龄津贴什么时候发", "我爸85岁了有高龄津贴吗", "申请高龄津贴的条件",
                        "高龄津贴发到哪张卡"],
                       materials="老人身份证、户口簿和银行卡。", location="{地点:社区服务中心}"),
                _entry("community-elderly-canteen", "社区老年食堂怎么用餐", "社区",
                       "60岁以上老人带身份证到社区老年食堂登记后就可以用餐，部分老人有助餐补贴。",
                       ["老年食堂在哪里", "老年食堂怎么吃饭", "老年食堂一餐多少钱", "老年食堂有补贴吗",
                        "老人吃饭的食堂怎么登记", "老年食堂几点开饭", "老年食堂能送餐上门吗",
                        "老年食堂谁可以去吃", "社区助餐点怎么报名", "老年食堂要办卡吗"]),
                _entry("home-care-service", "怎么申请居家养老上门服务", "民政",
                       "独居、失能或高龄老人可以向社区提出申请，评估后由服务机构上门提供助洁、助浴等服务。",
                       ["居家养老服务怎么申请", "有人上门照顾老人吗", "老人在家没人照顾怎么办",
                        "上门帮老人洗澡的服务", "居家养老上门服务收费吗", "失能老人可以上门服务吗",
                        "怎么请人上门打扫老人家里", "居家养老服务包括哪些", "政府购买的居家养老服务",
                        "独居老人上门服务申请"]),
            ],
        },
    },
    "synonyms": {
        "养老金": ["退休金", "养老钱", "退休工资"],
        "高龄津贴": ["长寿金", "老人补贴", "高龄补贴", "高龄补助"],
        "社保卡": ["社会保障卡", "社保咔"],
        "老年食堂": ["老人饭堂", "长者饭堂"],
        "居家养老": ["上门养老"],
    },
    "profile": {
        "example": True,
        "name": "示例社区",
        "address": "",
        "hours": "",
        "phone": "",
        "department_phones": {"民政": "", "人社": ""},
        "places": {"社区服务中心": ""},
    },
}


def _dump(data: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def write_kb_files(directory: Path, data: dict[str, Any] | None = None) -> Path:
    data = copy.deepcopy(TINY_KB) if data is None else data
    for name, content in data["entries"].items():
        _dump(content, directory / "entries" / name)
    _dump({"synonyms": data["synonyms"]}, directory / "synonyms.yaml")
    _dump(data["profile"], directory / "community_profile.example.yaml")
    return directory


@pytest.fixture(scope="session")
def tiny_kb_data() -> dict[str, Any]:
    return copy.deepcopy(TINY_KB)


@pytest.fixture(scope="session")
def write_kb() -> Callable[..., Path]:
    return write_kb_files


@pytest.fixture
def tiny_kb_dir(tmp_path: Path) -> Path:
    return write_kb_files(tmp_path / "kb")


@pytest.fixture(scope="session")
def tiny_kb(tmp_path_factory: pytest.TempPathFactory):
    from knowledge_base.engine import KnowledgeBase
    from knowledge_base.loader import load_entries
    from knowledge_base.profile import load_profile
    from knowledge_base.synonyms import load_synonyms

    directory = write_kb_files(tmp_path_factory.mktemp("tiny_kb"))
    return KnowledgeBase.build(load_entries(directory), load_synonyms(directory / "synonyms.yaml"),
                               load_profile(directory / "community_profile.example.yaml"))


@pytest.fixture(scope="session")
def shipped_kb():
    from assistant.kb_runtime import retrieval_config
    from knowledge_base.dialect import load_dialect
    from knowledge_base.engine import KnowledgeBase
    from knowledge_base.loader import load_entries
    from knowledge_base.profile import load_profile
    from knowledge_base.synonyms import load_synonyms

    # defaults, no environment but the shared vector cache
    config = retrieval_config(Settings.model_construct(pretrained_cache=PRETRAINED_TEST_CACHE))
    return KnowledgeBase.build(load_entries(SHIPPED_DATA_DIR), load_synonyms(SHIPPED_DATA_DIR / "synonyms.yaml"),
                               load_profile(SHIPPED_DATA_DIR / "community_profile.example.yaml"), config=config,
                               dialect=load_dialect(SHIPPED_DATA_DIR / "dialect.yaml"))


# ---------------------------------------------------------------- settings and databases

@pytest.fixture
def settings(tmp_path: Path, tiny_kb_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in list(os.environ):
        if name.startswith("SHEQU_") and name not in (TEST_DATABASE_ENV, PRETRAINED_CACHE_ENV):
            monkeypatch.delenv(name)
    return Settings(_env_file=None, var_dir=tmp_path, database_url=f"sqlite:///{(tmp_path / 'shequ.db').as_posix()}",
                    kb_data_dir=tiny_kb_dir, index_dir=tmp_path / "index",
                    pretrained_cache=PRETRAINED_TEST_CACHE)


@lru_cache(maxsize=1)
def _postgres_unavailable() -> str | None:
    """None when the PostgreSQL test server answers, else the reason to skip."""
    url = os.environ.get(TEST_DATABASE_ENV, "")
    if not url:
        return f"{TEST_DATABASE_ENV} is not set"
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as exc:  # any driver or network failure means "not reachable"
        return f"PostgreSQL at {TEST_DATABASE_ENV} is not reachable: {type(exc).__name__}"
    return None


def _with_search_path(url: str, schema: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


@contextmanager
def _postgres_schema(prefix: str) -> Iterator[str]:
    """A fresh schema on the test server (skips when it is not reachable), dropped afterwards."""
    reason = _postgres_unavailable()
    if reason:
        pytest.skip(reason)
    from sqlalchemy import create_engine, text

    base_url = os.environ[TEST_DATABASE_ENV]
    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield _with_search_path(base_url, schema)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{(tmp_path / 'shequ-test.db').as_posix()}"
        return
    with _postgres_schema("test") as url:
        yield url


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def module_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``db_url`` for a whole module (an app built once per database): SQLite, then a PostgreSQL schema of
    the module's own, dropped afterwards (skipped when the server is not reachable)."""
    if request.param == "sqlite":
        yield f"sqlite:///{(tmp_path_factory.mktemp('module-db') / 'shequ.db').as_posix()}"
        return
    with _postgres_schema("module") as url:
        yield url


@pytest.fixture
def db_settings(settings: Settings, db_url: str) -> Settings:
    return settings.model_copy(update={"database_url": db_url})


@pytest.fixture
def app_context(settings: Settings) -> Iterator[AppContext]:
    context = create_context(settings)
    try:
        yield context
    finally:
        context.close()
