"""TOTP second factor with recovery codes (issue 18): set-up, the second sign-in step, replay and parallel
submissions, lockout, the half-signed-in state, the required-role set-up, the administrator's reset.

Codes are real pyotp codes of the stored secret. ``totp.clock`` is moved by whole 30-second steps where a
test needs "the next code" (a code is never accepted twice, so the set-up code cannot sign in).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest
from console_testkit import PASSWORD, USERS, console_client, csrf_from, form_post, login, signed_in
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from assistant.auth import AccountLocked, InvalidAccount, InvalidCode, totp
from assistant.auth.models import PendingSignIn, RecoveryCode, StaffAccount
from assistant.auth.service import LockoutPolicy, authenticate, create_account, get_account
from assistant.security.crypto import PersonalDataCipher
from assistant.storage.db import make_engine, make_session_factory, migrate, session_scope
from assistant.storage.models import AuditLog

T0 = 1_800_000_000.0  # a fixed moment, on a step boundary (divisible by 30)
STEP = totp.STEP_SECONDS
SECRET_ON_PAGE = re.compile(r'id="totp-secret">([A-Z2-7 ]+)<')
RECOVERY_ON_PAGE = re.compile(r"<code>([2-9A-Z]{5}-[2-9A-Z]{5})</code>")


@pytest.fixture
def moment(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The clock of the TOTP module: ``moment[0] += STEP`` is the next code."""
    now = [T0]
    monkeypatch.setattr(totp, "clock", lambda: now[0])
    return now


def _code(secret: str, at: float) -> str:
    return pyotp.TOTP(secret).at(at)


def _audit(context, action: str) -> list[AuditLog]:
    with session_scope(context.sessions) as session:
        rows = list(session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))
        session.expunge_all()
        return rows


# ---------------------------------------------------------------- the service, on SQLite and PostgreSQL

@pytest.fixture
def enrolled(db_url: str):  # type: ignore[no-untyped-def]
    """(session factory, cipher, secret, recovery codes) for user "olga" (admin) with TOTP set up at T0."""
    engine = make_engine(db_url)
    migrate(engine)
    factory = make_session_factory(engine)
    cipher = PersonalDataCipher(Fernet.generate_key())
    with session_scope(factory) as session:
        account = create_account(session, "olga", "admin", PASSWORD, actor="test")
        secret = totp.begin_setup(session, account, cipher)
        codes = totp.confirm_setup(session, account, cipher, _code(secret, T0), actor="olga", at=T0)
    try:
        yield factory, cipher, secret, codes
    finally:
        engine.dispose()


def _verify(factory, cipher, text: str, at: float, policy: LockoutPolicy | None = None) -> str:  # type: ignore[no-untyped-def]
    with session_scope(factory) as session:
        account = get_account(session, "olga")
        try:
            return totp.verify_sign_in_code(session, account, text, policy or LockoutPolicy(50, 15), cipher, at=at)
        except (InvalidCode, AccountLocked) as exc:
            return type(exc).__name__  # the block ends normally: the count and audit row are committed


def test_secret_is_encrypted_and_recovery_codes_are_argon2_hashes(enrolled) -> None:  # type: ignore[no-untyped-def]
    factory, cipher, secret, codes = enrolled
    assert len(codes) == totp.RECOVERY_CODE_COUNT == len(set(codes))
    with session_scope(factory) as session:
        account = get_account(session, "olga")
        assert account.totp_secret and secret not in account.totp_secret
        assert cipher.decrypt(account.totp_secret) == secret
        assert account.totp_pending_secret is None and account.totp_enabled_at is not None
        hashes = session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(hashes) == 10 and all(h.startswith("$argon2id$") for h in hashes)
    assert not any(c.replace("-", "") in h for c in codes for h in hashes)


def test_setup_is_only_confirmed_by_a_current_code(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        factory = make_session_factory(engine)
        cipher = PersonalDataCipher(Fernet.generate_key())
        with session_scope(factory) as session:
            account = create_account(session, "pia", "staff", PASSWORD, actor="test")
            secret = totp.begin_setup(session, account, cipher)
            assert totp.begin_setup(session, account, cipher) == secret  # a reload shows the same QR code
            for wrong in (_code(secret, T0 - 3 * STEP), _code(secret, T0 + 2 * STEP)):
                with pytest.raises(InvalidCode, match="验证码不对"):
                    totp.confirm_setup(session, account, cipher, wrong, actor="pia", at=T0)
            assert not totp.is_enabled(account)  # a mistyped set-up changes nothing
            with pytest.raises(InvalidCode, match="6 位数字"):
                totp.confirm_setup(session, account, cipher, "ABCDE-23456", actor="pia", at=T0)
            totp.confirm_setup(session, account, cipher, _code(secret, T0 - STEP), actor="pia", at=T0)
            assert totp.is_enabled(account)
    finally:
        engine.dispose()


def test_window_is_one_step_and_a_code_is_never_accepted_twice(enrolled) -> None:  # type: ignore[no-untyped-def]
    factory, cipher, secret, _codes = enrolled
    at = T0 + 10 * STEP
    assert _verify(factory, cipher, _code(secret, at + 2 * STEP), at) == "InvalidCode"  # too far ahead
    assert _verify(factory, cipher, _code(secret, at - 2 * STEP), at) == "InvalidCode"  # too old
    assert _verify(factory, cipher, _code(secret, at - STEP), at) == totp.TOTP  # 30 s behind: accepted
    assert _verify(factory, cipher, _code(secret, at - STEP), at) == "InvalidCode"  # replayed
    assert _verify(factory, cipher, _code(secret, at), at) == totp.TOTP
    assert _verify(factory, cipher, _code(secret, at), at + 5) == "InvalidCode"  # same step, replayed
    assert _verify(factory, cipher, _code(secret, T0), T0) == "InvalidCode"  # the set-up code itself
    assert _verify(factory, cipher, _code(secret, at + STEP), at) == totp.TOTP  # 30 s ahead: accepted


@pytest.mark.parametrize("parallel", [2, 8])
def test_parallel_submissions_of_one_code_let_exactly_one_through(enrolled, parallel: int) -> None:  # type: ignore[no-untyped-def]
    factory, cipher, secret, codes = enrolled
    at = T0 + 5 * STEP
    start = threading.Barrier(parallel)

    def submit(text: str) -> str:
        start.wait(timeout=30)
        try:
            return _verify(factory, cipher, text, at)
        except Exception as exc:  # a database error must show in the assertion
            return f"error: {type(exc).__name__}: {exc}"[:200]

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        outcomes = list(pool.map(submit, [_code(secret, at)] * parallel))
    assert outcomes.count(totp.TOTP) == 1 and outcomes.count("InvalidCode") == parallel - 1, outcomes

    start = threading.Barrier(parallel)
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        outcomes = list(pool.map(submit, [codes[0]] * parallel))
    assert outcomes.count(totp.RECOVERY) == 1 and outcomes.count("InvalidCode") == parallel - 1, outcomes
    with session_scope(factory) as session:
        used = session.scalars(select(RecoveryCode.used_at).where(RecoveryCode.used_at.is_not(None))).all()
    assert len(used) == 1


def test_a_recovery_code_works_once_in_any_spelling(enrolled) -> None:  # type: ignore[no-untyped-def]
    factory, cipher, _secret, codes = enrolled
    spelled = " ".join(codes[3].lower().replace("-", ""))  # "a b c d …": spaces, lower case, no dash
    assert _verify(factory, cipher, spelled, T0) == totp.RECOVERY
    assert _verify(factory, cipher, codes[3], T0) == "InvalidCode"
    assert _verify(factory, cipher, codes[4], T0) == totp.RECOVERY
    with session_scope(factory) as session:
        assert totp.unused_recovery_codes(session, get_account(session, "olga")) == 8
        actions = session.scalars(select(AuditLog.action).where(AuditLog.action.like("auth.login%"))).all()
    assert actions.count("auth.login.recovery") == 2


def test_wrong_codes_count_toward_the_password_lockout(enrolled) -> None:  # type: ignore[no-untyped-def]
    factory, cipher, secret, _codes = enrolled
    policy = LockoutPolicy(max_failures=4, lock_minutes=15)
    at = T0 + 20 * STEP
    with session_scope(factory) as session:  # the password is right: a code is still to come, nothing resets
        authenticate(session, "olga", PASSWORD, policy)
    outcomes = [_verify(factory, cipher, "000000" if _code(secret, at) != "000000" else "111111", at, policy)
                for _ in range(3)]
    assert outcomes == ["InvalidCode"] * 3  # attempts 2, 3 and 4 (the 4th sets the lock)
    assert _verify(factory, cipher, _code(secret, at), at, policy) == "AccountLocked"  # even the right code
    with session_scope(factory) as session:
        details = session.scalars(select(AuditLog.detail).where(AuditLog.action == "auth.login.fail")
                                   .order_by(AuditLog.id)).all()
        with pytest.raises(AccountLocked):
            authenticate(session, "olga", PASSWORD, policy)
    assert details == ["code failure 2", "code failure 3", "code failure 4, locked"]


def test_password_then_code_resets_the_count_but_the_password_alone_does_not(enrolled) -> None:  # type: ignore[no-untyped-def]
    factory, cipher, secret, _codes = enrolled
    policy = LockoutPolicy(max_failures=5, lock_minutes=15)
    at = T0 + 30 * STEP
    for _ in range(2):  # password, wrong code: twice. Were the count reset by the password, this never locks.
        with session_scope(factory) as session:
            authenticate(session, "olga", PASSWORD, policy)
        _verify(factory, cipher, "999999" if _code(secret, at) != "999999" else "888888", at, policy)
    with session_scope(factory) as session:
        assert get_account(session, "olga").failed_attempts == 4
    assert _verify(factory, cipher, _code(secret, at), at, policy) == totp.TOTP  # attempt 5: lifts the lock
    with session_scope(factory) as session:
        account = get_account(session, "olga")
        assert account.failed_attempts == 0 and account.locked_until is None


@pytest.mark.parametrize(("text", "message"), [
    ("", "请输入手机验证器上的 6 位数字"), ("   ", "请输入手机验证器上的 6 位数字"),
    ("abcdef", "验证码是 6 位数字"), ("1" * 50, "验证码是 6 位数字"), ("12345", "验证码是 6 位数字"),
    ("x" * 500, "验证码是 6 位数字"), ("12345６", None), ("123 456", None), ("ABCDE-2345O", "验证码是 6 位数字"),
])
def test_parse_code(text: str, message: str | None) -> None:
    if message is None:
        assert totp.parse_code(text) == (totp.TOTP, re.sub(r"\D", "", text.replace("６", "6")))
        return
    with pytest.raises(InvalidCode, match=message):
        totp.parse_code(text)


def test_required_roles_setting() -> None:
    from assistant.settings import Settings

    def roles(value: str) -> frozenset[str]:
        return totp.required_roles(Settings(_env_file=None, staff_totp_required_roles=value))

    assert roles("") == frozenset()
    assert roles("admin") == {"admin"}
    assert roles("admin, approver，nobody") == {"admin", "approver"}


# ---------------------------------------------------------------- over HTTP

def _enable_from_account_page(client: TestClient, context) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    """Turns TOTP on for the signed-in browser through the pages; (secret, recovery codes)."""
    account = client.get("/staff/account")
    assert account.status_code == 200 and "两步验证" in account.text and "未开启" in account.text
    page = client.get("/staff/account/totp")
    assert page.status_code == 200 and 'src="data:image/svg+xml;base64,' in page.text
    grouped = SECRET_ON_PAGE.search(page.text)
    assert grouped, page.text[:2000]
    assert all(len(group) == 4 for group in grouped.group(1).split())  # shown in groups of 4
    secret = grouped.group(1).replace(" ", "")
    wrong = client.post("/staff/account/totp", data={"csrf_token": csrf_from(page.text), "code": "123abc"})
    assert wrong.status_code == 422 and "请输入手机验证器上的 6 位数字" in wrong.text
    again = SECRET_ON_PAGE.search(wrong.text)
    assert again and again.group(1).replace(" ", "") == secret  # the same secret: the phone need not rescan
    done = client.post("/staff/account/totp", data={"csrf_token": csrf_from(page.text),
                                                    "code": _code(secret, totp.clock())})
    assert done.status_code == 200 and "备用码" in done.text, done.text[:500]
    codes = RECOVERY_ON_PAGE.findall(done.text)
    assert len(codes) == 10
    assert 'download="备用码.txt"' in done.text
    assert "已开启" in client.get("/staff/account").text
    return secret, codes


def _password_step(client: TestClient, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    client.cookies.clear()
    page = client.get("/staff/login")
    return client.post("/staff/login", data={"username": username, "password": password, "next": "/staff/kb",
                                             "csrf_token": csrf_from(page.text)})


def _code_step(client: TestClient, code: str):  # type: ignore[no-untyped-def]
    page = client.get("/staff/login")
    assert page.status_code == 200 and "两步验证" in page.text, page.text[:300]
    return client.post("/staff/login", data={"step": "code", "code": code, "next": "/staff/kb",
                                             "csrf_token": csrf_from(page.text)})


def test_set_up_then_sign_in_needs_the_code(settings, moment) -> None:  # type: ignore[no-untyped-def]
    with console_client(settings) as (client, context):
        signed_in(client, "staff")
        secret, codes = _enable_from_account_page(client, context)
        assert [a.actor for a in _audit(context, "auth.totp.enable")] == [USERS["staff"]]

        first = _password_step(client, USERS["staff"])
        assert first.status_code == 303 and first.headers["location"].startswith("/staff/login?next=")
        assert "shequ_staff" not in first.headers.get("set-cookie", "").replace("shequ_staff_2fa", "")
        moment[0] += STEP
        signed = _code_step(client, _code(secret, moment[0]))
        assert signed.status_code == 303 and signed.headers["location"] == "/staff/kb"
        assert client.get("/staff/kb", headers={"accept": "text/html"}).status_code == 200
        assert len(_audit(context, "auth.login.password")) == 1

        # The same code again, in a fresh sign-in within its 90 seconds: refused.
        assert _password_step(client, USERS["staff"]).status_code == 303
        replay = _code_step(client, _code(secret, moment[0]))
        assert replay.status_code == 401 and "验证码不对或已经用过" in replay.text
        assert client.get("/staff/kb", headers={"accept": "text/html"}).status_code == 303

        # A recovery code instead: once.
        recovered = _code_step(client, codes[0])
        assert recovered.status_code == 303
        assert [a.actor for a in _audit(context, "auth.login.recovery")] == [USERS["staff"]]
        assert _password_step(client, USERS["staff"]).status_code == 303
        assert _code_step(client, codes[0]).status_code == 401


def test_the_half_signed_in_state_grants_nothing_and_expires(settings, moment) -> None:  # type: ignore[no-untyped-def]
    with console_client(settings) as (client, context):
        signed_in(client, "admin")
        secret, _codes = _enable_from_account_page(client, context)
        assert _password_step(client, USERS["admin"]).status_code == 303
        for path in ("/staff/", "/staff/account", "/staff/users", "/staff/audit", "/staff/kb"):
            page = client.get(path, headers={"accept": "text/html"})
            assert page.status_code == 303 and page.headers["location"].startswith("/staff/login"), path
            assert client.get(path, headers={"accept": "application/json"}).status_code == 401, path
        # Forms of signed-in pages refuse it too (no session: the CSRF token and the role check both fail).
        token = csrf_from(client.get("/staff/login").text)
        refused = client.post("/staff/users", data={"csrf_token": token, "username": "mallory", "role": "admin",
                                                     "password": "a-very-long-password-1"},
                              headers={"accept": "application/json"})
        assert refused.status_code in (401, 403)

        with session_scope(context.sessions) as session:  # the few minutes have passed
            session.execute(update(PendingSignIn).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        moment[0] += STEP
        page = client.get("/staff/login")
        assert "登录已超时" in page.text and "两步验证" not in page.text.split("<main>")[1][:200]
        late = client.post("/staff/login", data={"step": "code", "code": _code(secret, moment[0]),
                                                  "csrf_token": csrf_from(page.text)})
        assert late.status_code == 401 and "登录已超时" in late.text
        assert client.get("/staff/", headers={"accept": "text/html"}).status_code == 303


def test_bad_code_input_gets_a_chinese_message(settings, moment) -> None:  # type: ignore[no-untyped-def]
    with console_client(settings) as (client, context):
        signed_in(client, "staff")
        _enable_from_account_page(client, context)
        assert _password_step(client, USERS["staff"]).status_code == 303
        for text, message in [("", "请输入手机验证器上的 6 位数字"), ("abcdef", "验证码是 6 位数字"),
                              ("1" * 50, "验证码是 6 位数字"), ("１２３", "验证码是 6 位数字")]:
            answer = _code_step(client, text)
            assert answer.status_code == 422 and message in answer.text, (text, answer.status_code)
        huge = client.post("/staff/login", data={"step": "code", "code": "9" * 5000,
                                                  "csrf_token": csrf_from(client.get("/staff/login").text)})
        assert huge.status_code == 422  # the form limit: refused, not a 500
        with session_scope(context.sessions) as session:  # malformed input is a typo, not a guess: not counted
            assert get_account(session, USERS["staff"]).failed_attempts == 1  # the password step only


def test_wrong_codes_over_http_lock_the_account(settings, moment) -> None:  # type: ignore[no-untyped-def]
    with console_client(settings, staff_lockout_failures=3) as (client, context):
        signed_in(client, "staff")
        secret, _codes = _enable_from_account_page(client, context)
        moment[0] += STEP
        wrong = "000000" if _code(secret, moment[0]) != "000000" else "111111"
        assert _password_step(client, USERS["staff"]).status_code == 303  # attempt 1
        assert _code_step(client, wrong).status_code == 401  # attempt 2
        locked = _code_step(client, wrong)  # attempt 3: locks, back to the password form
        assert locked.status_code == 401
        right = client.post("/staff/login", data={"step": "code", "code": _code(secret, moment[0]),
                                                   "csrf_token": csrf_from(client.get("/staff/login").text)})
        assert right.status_code == 423 and "锁定" in right.text
        assert _password_step(client, USERS["staff"]).status_code == 423


def test_required_role_sets_up_totp_before_any_page(settings, moment) -> None:  # type: ignore[no-untyped-def]
    with console_client(settings, staff_totp_required_roles="admin") as (client, _context):
        first = _password_step(client, USERS["admin"])
        assert first.status_code == 303 and first.headers["location"].startswith("/staff/login?next=")
        assert client.get("/staff/", headers={"accept": "text/html"}).status_code == 303  # nothing opens yet
        page = client.get("/staff/login?next=/staff/kb")
        assert page.status_code == 200 and "必须开启两步验证" in page.text and "data:image/svg+xml" in page.text
        secret = SECRET_ON_PAGE.search(page.text).group(1).replace(" ", "")
        bad = client.post("/staff/login", data={"step": "setup", "code": "12", "next": "/staff/kb",
                                                 "csrf_token": csrf_from(page.text)})
        assert bad.status_code == 422 and "6 位数字" in bad.text
        done = client.post("/staff/login", data={"step": "setup", "code": _code(secret, moment[0]),
                                                  "next": "/staff/kb", "csrf_token": csrf_from(page.text)})
        assert done.status_code == 200 and len(RECOVERY_ON_PAGE.findall(done.text)) == 10
        assert 'href="/staff/kb"' in done.text
        assert client.get("/staff/kb", headers={"accept": "text/html"}).status_code == 200  # signed in now
        account = client.get("/staff/account")
        assert "不能关闭" in account.text
        refused = form_post(client, "/staff/account", "/staff/account/totp/disable",
                            {"code": _code(secret, moment[0] + STEP)})
        assert refused.status_code == 422 and "必须使用两步验证" in refused.text
        # The next sign-in asks for a code, not for a set-up; other roles are not affected.
        moment[0] += STEP
        assert _password_step(client, USERS["admin"]).status_code == 303
        assert _code_step(client, _code(secret, moment[0])).status_code == 303
        assert login(client, "staff").status_code == 303
        assert client.get("/staff/kb", headers={"accept": "text/html"}).status_code == 200


def test_admin_reset_is_audited_and_confirmed(settings, moment) -> None:  # type: ignore[no-untyped-def]
    with console_client(settings) as (client, context):
        signed_in(client, "staff")
        _enable_from_account_page(client, context)
        signed_in(client, "admin")
        page = f"/staff/users/{USERS['staff']}"
        assert "重置两步验证" in client.get(page).text
        first = form_post(client, page, f"{page}/totp-reset")
        assert first.status_code == 200 and 'name="confirmed" value="1"' in first.text
        assert not _audit(context, "auth.totp_reset")
        done = client.post(f"{page}/totp-reset", data={"csrf_token": csrf_from(first.text), "confirmed": "1"})
        assert done.status_code == 200 and "两步验证已重置" in done.text
        rows = _audit(context, "auth.totp_reset")
        assert [(r.actor, r.target) for r in rows] == [(USERS["admin"], USERS["staff"])]
        with session_scope(context.sessions) as session:
            account = get_account(session, USERS["staff"])
            assert account.totp_secret is None
            assert not session.scalars(select(RecoveryCode).where(RecoveryCode.account_id == account.id)).all()
        assert login(client, "staff").status_code == 303  # the password alone again
        assert client.get("/staff/kb", headers={"accept": "text/html"}).status_code == 200
        # Not their own (that is on "my account"), and only administrators.
        signed_in(client, "admin")
        own = client.post(f"/staff/users/{USERS['admin']}/totp-reset",
                          data={"csrf_token": csrf_from(client.get("/staff/account").text), "confirmed": "1"})
        assert own.status_code == 409 and "我的账号" in own.text
        signed_in(client, "approver")
        refused = client.post(f"/staff/users/{USERS['staff']}/totp-reset",
                              data={"csrf_token": csrf_from(client.get("/staff/account").text), "confirmed": "1"})
        assert refused.status_code == 403


def test_new_recovery_codes_and_turning_off_need_a_current_code(settings, moment) -> None:  # type: ignore[no-untyped-def]
    with console_client(settings) as (client, context):
        signed_in(client, "approver")
        secret, old_codes = _enable_from_account_page(client, context)
        moment[0] += STEP
        wrong = form_post(client, "/staff/account", "/staff/account/totp/recovery-codes", {"code": "abc"})
        assert wrong.status_code == 422 and "6 位数字" in wrong.text
        fresh = form_post(client, "/staff/account", "/staff/account/totp/recovery-codes",
                          {"code": _code(secret, moment[0])})
        assert fresh.status_code == 200
        new_codes = RECOVERY_ON_PAGE.findall(fresh.text)
        assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
        assert len(_audit(context, "auth.totp.recovery_codes")) == 1
        replay = form_post(client, "/staff/account", "/staff/account/totp/disable", {"code": _code(secret, moment[0])})
        assert replay.status_code == 422 and "已经用过" in replay.text
        moment[0] += STEP
        off = form_post(client, "/staff/account", "/staff/account/totp/disable", {"code": _code(secret, moment[0])})
        assert off.status_code == 200 and "两步验证已关闭" in off.text and "未开启" in off.text
        assert len(_audit(context, "auth.totp.disable")) == 1
        assert login(client, "approver").status_code == 303
        assert client.get("/staff/kb", headers={"accept": "text/html"}).status_code == 200


def test_disable_refused_for_a_required_role_at_the_service(settings) -> None:  # type: ignore[no-untyped-def]
    with (console_client(settings, staff_totp_required_roles="admin") as (_client, context),
          session_scope(context.sessions) as session):
        account = get_account(session, USERS["admin"])
        cipher = PersonalDataCipher(Fernet.generate_key())
        secret = totp.begin_setup(session, account, cipher)
        totp.confirm_setup(session, account, cipher, _code(secret, time.time()), actor="x")
        with pytest.raises(InvalidAccount, match="必须使用两步验证"):
            totp.disable(session, account, cipher, "123456", LockoutPolicy(), context.settings)
        assert session.scalar(select(StaffAccount.totp_secret).where(StaffAccount.id == account.id))


def test_command_line_reset_is_the_way_back_for_the_last_administrator(settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from console_testkit import users_command

    from assistant.commands.users import users
    from assistant.context import create_context

    context = create_context(settings, load_shipped=False)
    try:
        with session_scope(context.sessions) as session:
            account = create_account(session, "root-admin", "admin", PASSWORD, actor="test")
            secret = totp.begin_setup(session, account, totp.cipher_for(settings))
            totp.confirm_setup(session, account, totp.cipher_for(settings), _code(secret, time.time()),
                               actor="root-admin")
        with users_command(settings, monkeypatch) as runner:
            done = runner.invoke(users, ["reset-totp", "--username", "root-admin"])
            again = runner.invoke(users, ["reset-totp", "--username", "root-admin"])
            nobody = runner.invoke(users, ["reset-totp", "--username", "ghost"])
        assert done.exit_code == 0, done.output
        assert again.exit_code != 0 and "Traceback" not in again.output  # nothing left to reset: a clear message
        assert nobody.exit_code != 0 and "ghost" in nobody.output
        with session_scope(context.sessions) as session:
            assert not totp.is_enabled(get_account(session, "root-admin"))
        assert [row.actor for row in _audit(context, "auth.totp_reset")] == ["cli"]
    finally:
        context.close()
