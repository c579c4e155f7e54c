"""End to end: a battery of personal-data formats goes through the real chat API, and no clear value is left in
the database (turns, unanswered questions, work orders), the console's CSV/XLSX exports or the log.

Each case is a realistic resident message with the value inside: IDs spaced, dotted, hyphenated, full-width, in
Chinese numerals, with X, old 15-digit ones; mobiles with +86/0086, separators, full width, 幺三八…; landlines
(0771)5551234, 0771-5551234, 5551234 with 电话 or 转; names after 我叫/我妈叫/联系人 incl. compound surnames;
addresses of several shapes. A few are 报修 conversations that file a work order.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass

import pytest
from console_testkit import console_client, signed_in
from openpyxl import load_workbook
from sqlalchemy import text

from assistant.logging_setup import LOG_FORMAT, PersonalDataFilter, PersonalDataFormatter
from pii.numbers import fold

ID = "450103194003120021"
ID_X = "45010319900101123X"
OLD_ID = "450103400312002"
MOBILE = "13812345678"
LANDLINE = "07715551234"
MIN_FORMATS = 60
SHORTEST_LEAK = 7  # seven digits of a number in a row are a leak, in any spacing or width


@dataclass(frozen=True)
class Case:
    message: str
    secrets: tuple[str, ...]  # what must not appear anywhere: the value as typed and canonical
    digits: str = ""  # a number's canonical digits: no 7 of them in a row may remain


def number(message: str, typed: str, canonical: str) -> Case:
    assert typed in message
    return Case(message, (typed, canonical), canonical)


def name(message: str, *names: str) -> Case:
    return Case(message, names)


def address(message: str, *parts: str) -> Case:
    return Case(message, parts)


BATTERY: list[Case] = [
    # --- resident ID numbers
    number(f"我的身份证号是{ID}，想查社保", ID, ID),
    number("身份证 4501 0319 4003 1200 21 能办居住证吗", "4501 0319 4003 1200 21", ID),
    number("身份证号 450103 19400312 0021 丢了", "450103 19400312 0021", ID),
    number("身份证4501-0319-4003-1200-21怎么补办", "4501-0319-4003-1200-21", ID),
    number("身份证4501.0319.4003.1200.21过期了", "4501.0319.4003.1200.21", ID),
    number("身份证4501/0319/4003/1200/21", "4501/0319/4003/1200/21", ID),
    number("身份证4501、0319、4003、1200、21", "4501、0319、4003、1200、21", ID),
    number("身份证号：４５０１０３１９４００３１２００２１", "４５０１０３１９４００３１２００２１", ID),
    number("身份证 ４５０１ ０３１９ ４００３ １２００ ２１", "４５０１ ０３１９ ４００３ １２００ ２１", ID),
    number("身份证号四五零一零三一九四零零三一二零零二一", "四五零一零三一九四零零三一二零零二一", ID),
    number("身份证四五〇一〇三一九四〇〇三一二〇〇二一", "四五〇一〇三一九四〇〇三一二〇〇二一", ID),
    number(f"身份证{ID_X}丢了怎么补", ID_X, ID_X),
    number(f"我妈身份证{ID_X.lower()}", ID_X.lower(), ID_X),
    number("身份证 450103 19900101 123X", "450103 19900101 123X", ID_X),
    number("身份证４５０１０３１９９００１０１１２３Ｘ", "４５０１０３１９９００１０１１２３Ｘ", ID_X),
    number(f"老身份证号{OLD_ID}还能用吗", OLD_ID, OLD_ID),
    number("旧身份证 450103 400312 002", "450103 400312 002", OLD_ID),
    number(f"唉我跟你说我身份证是{ID}上次办医保用过", ID, ID),
    # --- mobile numbers
    number(f"电话{MOBILE}", MOBILE, MOBILE),
    number("我手机138 1234 5678", "138 1234 5678", MOBILE),
    number("手机138.1234.5678有事打", "138.1234.5678", MOBILE),
    number("手机138-1234-5678", "138-1234-5678", MOBILE),
    number("+86 138 1234 5678 是我电话", "+86 138 1234 5678", MOBILE),
    number("+8613812345678", "+8613812345678", MOBILE),
    number("0086 13812345678", "0086 13812345678", MOBILE),
    number("手机１３８１２３４５６７８", "１３８１２３４５６７８", MOBILE),
    number("＋８６ １３８ １２３４ ５６７８", "＋８６ １３８ １２３４ ５６７８", MOBILE),
    number("我手机是幺三八幺二三四五六七八", "幺三八幺二三四五六七八", MOBILE),
    number("电话一三八 一二三四 五六七八", "一三八 一二三四 五六七八", MOBILE),
    number("电话138/1234/5678", "138/1234/5678", MOBILE),
    number("手机138，1234，5678", "138，1234，5678", MOBILE),
    number("打1381 2345 678找我", "1381 2345 678", MOBILE),
    number("(+86)13812345678", "13812345678", MOBILE),
    number("联系方式15977123456", "15977123456", "15977123456"),
    # --- landlines
    number("电话(0771)5551234", "(0771)5551234", LANDLINE),
    number("电话（0771）5551234", "（0771）5551234", LANDLINE),
    number("座机0771-5551234", "0771-5551234", LANDLINE),
    number("家里电话0771 555 1234", "0771 555 1234", LANDLINE),
    number("电话5551234", "5551234", "5551234"),
    number("5551234转8", "5551234", "5551234"),
    number("座机010-87654321", "010-87654321", "01087654321"),
    number("电话0771—5551234", "0771—5551234", LANDLINE),
    number("电话０７７１－５５５１２３４", "０７７１－５５５１２３４", LANDLINE),
    number("家里座机号码是 0771.5551234", "0771.5551234", LANDLINE),
    # --- bank and other card numbers
    number("银行卡号6222021234567890123", "6222021234567890123", "6222021234567890123"),
    number("社保卡账号 6222 0212 3456 7890", "6222 0212 3456 7890", "6222021234567890"),
    # --- names
    name("我叫张三，想问低保怎么申请", "张三"),
    name("我叫王小明今年80岁", "王小明"),
    name("我妈叫覃秀英，今年八十了，能领高龄补贴吗", "覃秀英"),
    name("我妈李秀英今年80岁，想办老人证", "李秀英"),
    name("老人叫欧阳娜娜，九十岁了", "欧阳娜娜"),
    name("我女儿叫司马倩，想给她办医保", "司马倩"),
    name("联系人：黄丽，帮我问下居住证", "黄丽"),
    name("姓名：韦小宝，查一下社保", "韦小宝"),
    name("我是王建国，想问养老金", "王建国"),
    name("我老伴刘建国住院了能报销多少", "刘建国"),
    name("我爸叫蒙桂林，身份证丢了", "蒙桂林"),
    name("名字叫陈伟，社保卡丢了", "陈伟"),
    name("我儿子叫诸葛明想办居住证", "诸葛明"),
    name("我叫韦丽", "韦丽"),
    # --- addresses
    address("我家住在东葛路118号青秀万达A座1203室，想问高龄补贴", "东葛路118号", "1203室"),
    address("住幸福小区3栋2单元501，问一下低保", "3栋2单元501", "2单元501"),
    address("我住民族大道100号，老人证去哪办", "民族大道100号"),
    address("地址是三栋二单元五零一", "二单元五零一"),
    address("我住5楼502，能申请公租房吗", "5楼502"),
    address("我家在朝阳路28号3栋1单元602室", "朝阳路28号", "602室"),
    # --- everything at once
    Case(f"我叫张三，身份证{ID}，电话{MOBILE}，住幸福小区3栋2单元501", ("张三", ID, MOBILE, "3栋2单元501")),
]

# 报修 conversations: the last messages carry the personal data; a work order is filed from them.
REPORTS: list[tuple[list[str], tuple[str, ...]]] = [
    (["我要反映问题", "幸福小区3栋楼道灯坏了，我叫张三", "电话138 1234 5678"], ("张三", MOBILE, "138 1234 5678")),
    (["我要反映问题", "3栋2单元楼道灯坏了，我身份证4501 0319 4003 1200 21", "电话0771-5551234"],
     (ID, "4501 0319 4003 1200 21", LANDLINE, "0771-5551234")),
    (["我要反映问题", "路灯不亮了，在幸福小区门口", "我妈叫覃秀英 手机幺三八幺二三四五六七八"],
     ("覃秀英", MOBILE, "幺三八幺二三四五六七八")),
]

# Every column that holds residents' or staff's words (not ids, not ciphertext).
COLUMNS = {
    "turns": ("user_text", "reply_text"),
    "unanswered_queries": ("query", "normalized"),
    "work_orders": ("description", "contact_masked"),
    "work_order_events": ("note",),
    "handoff_requests": ("left_message",),
    "alerts": ("text",),
}
# A work order's place stays in clear for whoever goes there (exports mask it): only numbers and names are
# checked in it.
ORDER_PLACE = ("work_orders", "location")


def _stored(context, table: str, columns: tuple[str, ...]) -> str:
    with context.engine.connect() as connection:
        rows = connection.execute(text(f"SELECT {', '.join(columns)} FROM {table}")).all()
    return "\n".join(str(value) for row in rows for value in row if value)


def _digits_view(blob: str) -> str:
    """The text with separators gone and full-width/Chinese digits as ASCII, to find numbers in any form."""
    return re.sub(r"[\s.\-—/、，,()（）+＋]", "", fold(blob))


def _leaks(blob: str, cases: list[Case]) -> list[str]:
    view = _digits_view(blob)
    found = []
    for case in cases:
        found += [f"{case.message!r}: {s!r}" for s in case.secrets if s in blob]
        digits = case.digits.rstrip("X")
        windows = {digits[i:i + SHORTEST_LEAK] for i in range(len(digits) - SHORTEST_LEAK + 1)}
        found += [f"{case.message!r}: digits {w}" for w in sorted(windows) if w in view]
    return found


@pytest.fixture
def masked_log(caplog: pytest.LogCaptureFixture):
    """The test's log capture with the project's filter and formatter, as every real handler has them."""
    caplog.handler.addFilter(PersonalDataFilter())
    caplog.handler.setFormatter(PersonalDataFormatter(LOG_FORMAT))
    caplog.set_level(logging.DEBUG)
    yield caplog
    caplog.handler.removeFilter(caplog.handler.filters[-1])


def test_personal_data_battery_leaves_no_clear_value(settings, masked_log) -> None:
    assert len(BATTERY) >= MIN_FORMATS
    report_cases = [Case(" / ".join(messages), secrets) for messages, secrets in REPORTS]
    with console_client(settings) as (client, context):
        for case in BATTERY:
            reply = client.post("/api/v1/chat",
                                json={"session_id": None, "text": case.message, "channel": "web"})
            assert reply.status_code == 200, reply.text
            logging.getLogger("tests.battery").info("resident said %s", case.message)  # the filter's own check
        tickets = []
        for messages, _secrets in REPORTS:
            session_id = None
            for message in messages:
                answer = client.post("/api/v1/chat", json={"session_id": session_id, "text": message,
                                                           "channel": "web"}).json()
                session_id = answer["session_id"]
            tickets.append(answer.get("ticket"))
        assert all(t and t.get("number") for t in tickets), tickets  # every 报修 conversation filed an order

        everything = BATTERY + report_cases
        leaks = []
        for table, columns in COLUMNS.items():
            leaks += [f"{table}: {leak}" for leak in _leaks(_stored(context, table, columns), everything)]
        place_cases = [c for c in everything if c.digits or not any("号" in s or "单元" in s for s in c.secrets)]
        places = _stored(context, ORDER_PLACE[0], ORDER_PLACE[1:])
        leaks += [f"work_orders.location: {leak}" for leak in _leaks(places, place_cases)]
        unanswered = _stored(context, "unanswered_queries", ("query",))
        assert unanswered.count("\n") + 1 >= len(BATTERY) // 4, "too few unanswered rows to check"

        signed_in(client, "admin")
        for name in ("unanswered", "work_orders"):
            csv_text = client.get(f"/staff/export/{name}.csv").content.decode("utf-8-sig")
            workbook = load_workbook(io.BytesIO(client.get(f"/staff/export/{name}.xlsx").content))
            cells = "\n".join(str(c.value) for row in workbook.active.iter_rows() for c in row if c.value)
            assert "居民" in csv_text or "诉求" in csv_text
            leaks += [f"{name}.csv: {leak}" for leak in _leaks(csv_text, everything)]
            leaks += [f"{name}.xlsx: {leak}" for leak in _leaks(cells, everything)]

    logged = masked_log.text
    assert "resident said" in logged
    leaks += [f"log: {leak}" for leak in _leaks(logged, everything)]
    print(f"\npersonal-data battery: {len(BATTERY)} formats in single messages + {len(REPORTS)} 报修 "
          f"conversations; {len(leaks)} leaks")
    assert not leaks, "\n".join(leaks[:40])


def test_the_log_formatter_masks_exception_text_and_traceback() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(PersonalDataFormatter(LOG_FORMAT))
    logger = logging.getLogger("tests.battery.formatter")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError(f"bad input 我叫张三 {ID} 电话138 1234 5678")
        except ValueError:
            logger.exception("failed for %s", "身份证4501 0319 4003 1200 21")
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue()
    assert "Traceback" in line and "ValueError" in line
    assert _leaks(line, [Case("", ("张三",), ID), Case("", (), MOBILE)]) == []


def test_database_and_key_files_are_owner_only(settings, tmp_path) -> None:
    import os
    import stat

    from assistant.auth.secret import server_secret
    from assistant.security.crypto import PersonalDataCipher
    from assistant.storage.db import make_engine

    database = tmp_path / "old.db"
    database.write_bytes(b"")
    database.chmod(0o644)  # a file from before this change
    engine = make_engine(f"sqlite:///{database.as_posix()}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x TEXT)"))
        connection.execute(text("INSERT INTO t VALUES ('a')"))
    modes = {p.name: stat.S_IMODE(p.stat().st_mode)
             for p in tmp_path.iterdir() if p.name.startswith("old.db")}
    engine.dispose()
    assert set(modes) >= {"old.db", "old.db-wal"} and set(modes.values()) == {0o600}, modes
    fresh = tmp_path / "new" / "fresh.db"
    make_engine(f"sqlite:///{fresh.as_posix()}").dispose()  # created before SQLite opens it
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600

    key = settings.var_dir / "encryption.key"
    PersonalDataCipher.from_settings("", settings.var_dir)
    key.chmod(0o644)
    PersonalDataCipher.from_settings("", settings.var_dir)
    secret = settings.var_dir / "secret.key"
    secret.write_text("x" * 64)
    os.chmod(secret, 0o644)
    server_secret(settings.model_copy(update={"secret_key": ""}))
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_agent_replies_are_stored_and_read_back_masked(app_context) -> None:
    import datetime as dt

    from assistant.handoff import conversation
    from assistant.storage.db import session_scope
    from assistant.storage.models import ChatSession

    now = dt.datetime.now(dt.UTC)
    with session_scope(app_context.sessions) as db:
        chat = ChatSession(id="agent-reply", channel="web", created_at=now)
        db.add(chat)
        db.flush()
        conversation.post(db, chat, "agent", f"王建国先生您好，您留的电话{MOBILE}和身份证{ID}已登记，"
                                             "地址东葛路118号1203室，请拨12345咨询，街道办电话0771-5551234", now)
    with session_scope(app_context.sessions) as db:
        shown = conversation.messages(db, "agent-reply")
    assert [m["from"] for m in shown] == ["agent"]
    reply = shown[0]["text"]
    assert _leaks(reply, [Case("", ("王建国", "118号", "1203室"), MOBILE), Case("", (), ID)]) == []
    assert "138****5678" in reply and "王**先生" in reply and "拨12345咨询" in reply
    assert "0771-5551234" in reply  # an office landline the agent gives stays callable
    assert reply == _stored(app_context, "turns", ("reply_text",))
