"""Staff accounts: argon2 hashes, lockout, sign-in rate limit, hardened cookies, CSRF, the users command."""

from __future__ import annotations

import datetime as dt

import pytest
from console_testkit import PASSWORD, console_client, csrf_from, form_post, login, signed_in, users_command
from sqlalchemy import select, update

from assistant.auth import AccountExists, InvalidAccount, RateLimited
from assistant.auth.models import StaffAccount, StaffSession
from assistant.auth.ratelimit import SharedRateLimiter
from assistant.auth.service import create_account, sign, signed_value, unsign
from assistant.storage.db import session_scope
from assistant.storage.models import AuditLog


def _audit(context, action: str) -> list[AuditLog]:
    with session_scope(context.sessions) as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


def test_sign_in_sets_a_hardened_cookie(settings):
    with console_client(settings) as (client, _context):
        page = client.get("/staff/login")
        response = client.post("/staff/login", data={"username": "sam", "password": PASSWORD,
                                                     "csrf_token": csrf_from(page.text)})
        assert response.status_code == 303 and response.headers["location"] == "/staff/"
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("shequ_staff="))
        lowered = cookie.lower()
        assert "httponly" in lowered and "samesite=strict" in lowered and "secure" in lowered
        assert "path=/" in lowered


def test_secure_flag_can_be_turned_off_for_plain_http_test_installs(settings):
    with console_client(settings, staff_cookie_secure=False) as (client, _context):
        response = login(client, "sam")
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("shequ_staff="))
        assert "secure" not in cookie.lower() and "httponly" in cookie.lower()


def test_sign_out_revokes_the_server_side_session(settings):
    with console_client(settings) as (client, context):
        signed_in(client, "staff")
        stolen = client.cookies.get("shequ_staff")
        assert client.get("/staff/welcome").status_code == 200
        response = form_post(client, "/staff/welcome", "/staff/logout")
        assert response.status_code == 303
        assert client.get("/staff/welcome").status_code == 401
        client.cookies.clear()
        client.cookies.set("shequ_staff", stolen)  # a copied cookie is worthless after sign-out
        assert client.get("/staff/welcome").status_code == 401
        assert _audit(context, "auth.logout")


def test_passwords_are_stored_as_argon2id_hashes(settings):
    with console_client(settings) as (_client, context), session_scope(context.sessions) as session:
        account = session.scalar(select(StaffAccount).where(StaffAccount.username == "sam"))
        assert account.password_hash.startswith("$argon2id$")
        assert PASSWORD not in account.password_hash


def test_wrong_password_and_unknown_user_get_the_same_answer(settings):
    with console_client(settings) as (client, _context):
        wrong = login(client, "sam", "not-the-password")
        unknown = login(client, "nobody-here", "not-the-password")
        assert wrong.status_code == unknown.status_code == 401
        assert "用户名或密码不对" in wrong.text and "用户名或密码不对" in unknown.text
        assert "shequ_staff" not in client.cookies


def test_account_locks_after_repeated_failures_and_admin_unlocks(db_settings):
    with console_client(db_settings, staff_lockout_failures=3) as (client, context):
        for _ in range(3):
            assert login(client, "sam", "wrong-password-x").status_code == 401
        locked = login(client, "sam")  # the right password no longer helps
        assert locked.status_code == 423 and "锁定" in locked.text
        assert _audit(context, "auth.login.locked")
        signed_in(client, "admin")
        users = client.get("/staff/users")
        assert "已锁定" in users.text
        assert form_post(client, "/staff/users", "/staff/users/unlock", {"username": "sam"}).status_code == 303
        assert login(client, "sam").status_code == 303


def test_lock_expires_by_itself(settings):
    with console_client(settings, staff_lockout_failures=2) as (client, context):
        for _ in range(2):
            login(client, "sam", "wrong-password-x")
        assert login(client, "sam").status_code == 423
        with session_scope(context.sessions) as session:
            session.execute(update(StaffAccount).where(StaffAccount.username == "sam")
                            .values(locked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        assert login(client, "sam").status_code == 303


def test_sign_in_is_rate_limited_per_address(settings):
    with console_client(settings, staff_login_rate_per_minute=3) as (client, _context):
        statuses = [login(client, "sam", "wrong-password-x").status_code for _ in range(3)]
        assert statuses == [401, 401, 401]
        limited = login(client, "sam")  # even the right password waits
        assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
        assert "尝试次数太多" in limited.text


def test_rate_limiter_window_slides(settings):
    with console_client(settings) as (_client, context):
        moment = [1_000_000.0]
        limiter = SharedRateLimiter(context.engine, b"k", clock=lambda: moment[0])
        limiter.hit("t", "1.2.3.4", 2, 60.0)
        limiter.hit("t", "1.2.3.4", 2, 60.0)
        limiter.hit("t", "5.6.7.8", 2, 60.0)  # other addresses are not affected
        with pytest.raises(RateLimited):
            limiter.hit("t", "1.2.3.4", 2, 60.0)
        moment[0] += 121  # a pause: the attempts (the refused one too) leave the window
        limiter.hit("t", "1.2.3.4", 2, 60.0)


def test_forms_without_a_valid_csrf_token_are_refused(settings):
    with console_client(settings) as (client, _context):
        page = client.get("/staff/login")
        token = csrf_from(page.text)
        missing = client.post("/staff/login", data={"username": "sam", "password": PASSWORD})
        forged = client.post("/staff/login", data={"username": "sam", "password": PASSWORD,
                                                   "csrf_token": token[:-2] + "xx"})
        assert missing.status_code == forged.status_code == 403
        signed_in(client, "staff")
        other_session_token = token  # a token from before sign-in belongs to another session
        edit = client.post("/staff/kb/entry/senior-age-allowance/edit", data={"csrf_token": other_session_token})
        assert edit.status_code == 403
        header = client.post("/staff/kb/entry/senior-age-allowance/edit",
                             headers={"X-CSRF-Token": csrf_from(client.get("/staff/kb").text)})
        assert header.status_code == 303


def test_tampered_or_expired_session_cookie_is_refused(settings):
    with console_client(settings) as (client, context):
        signed_in(client, "staff")
        value = client.cookies.get("shequ_staff")
        token, _, signature = value.rpartition(".")
        client.cookies.clear()
        client.cookies.set("shequ_staff", token[:-1] + ("A" if token[-1] != "A" else "B") + "." + signature)
        assert client.get("/staff/welcome").status_code == 401
        client.cookies.clear()
        client.cookies.set("shequ_staff", value)
        assert client.get("/staff/welcome").status_code == 200
        with session_scope(context.sessions) as session:
            session.execute(update(StaffSession).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))
        assert client.get("/staff/welcome").status_code == 401


def test_sign_in_never_redirects_off_site(settings):
    with console_client(settings) as (client, _context):
        for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "/api/v1/chat"):
            page = client.get("/staff/login", params={"next": target})
            response = client.post("/staff/login", data={"username": "sam", "password": PASSWORD,
                                                         "csrf_token": csrf_from(page.text), "next": target})
            assert response.headers["location"] == "/staff/", target
            client.cookies.clear()


def test_signing_helpers_reject_any_change():
    secret = b"k" * 32
    value = signed_value(secret, "session", "abc")
    assert unsign(secret, "session", value) == "abc"
    assert unsign(secret, "csrf", value) is None  # purposes do not mix
    assert unsign(b"other" * 8, "session", value) is None
    assert unsign(secret, "session", "abc." + sign(secret, "session", "abd")) is None
    assert unsign(secret, "session", None) is None and unsign(secret, "session", "no-dot") is None


def test_account_validation(app_context):
    with session_scope(app_context.sessions) as session:
        with pytest.raises(InvalidAccount):
            create_account(session, "a b", "staff", PASSWORD)
        with pytest.raises(InvalidAccount):
            create_account(session, "bob", "boss", PASSWORD)
        with pytest.raises(InvalidAccount):
            create_account(session, "bob", "staff", "short")
        create_account(session, "bob", "staff", PASSWORD)
        with pytest.raises(AccountExists):
            create_account(session, "bob", "admin", PASSWORD)


def test_users_command(settings, monkeypatch):
    from assistant.commands.users import users

    with users_command(settings, monkeypatch) as runner:
        ok = runner.invoke(users, ["create", "--username", "lin", "--role", "approver", "--password-stdin"],
                           input=PASSWORD + "\n")
        assert ok.exit_code == 0, ok.output
        assert "created lin" in ok.output
        again = runner.invoke(users, ["create", "--username", "lin", "--role", "staff", "--password-stdin"],
                              input=PASSWORD + "\n")
        weak = runner.invoke(users, ["create", "--username", "wu", "--role", "staff", "--password-stdin"],
                             input="short\n")
        prompted = runner.invoke(users, ["create", "--username", "zhao", "--role", "department", "--department", "社区"],
                                 input=f"{PASSWORD}\n{PASSWORD}\n")
        listed = runner.invoke(users, ["list"])
        for failed in (again, weak):
            assert failed.exit_code == 1
            assert "Traceback" not in failed.output
            assert len(failed.output.strip().splitlines()) == 1
        assert "已经有人用了" in again.output and "至少要 12 位" in weak.output
        assert prompted.exit_code == 0, prompted.output
        assert "lin\tapprover" in listed.output and "zhao\tdepartment" in listed.output
