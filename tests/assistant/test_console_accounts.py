"""Administering staff accounts: disable/enable, reset password, change role, safe defaults, audit rows."""

from __future__ import annotations

import re

from console_testkit import (
    PASSWORD,
    USERS,
    console_client,
    csrf_from,
    form_post,
    login,
    signed_in,
    users_command,
)
from fastapi.testclient import TestClient
from sqlalchemy import select

from assistant.auth.models import StaffAccount, StaffSession
from assistant.auth.service import LEAST_PRIVILEGE_ROLE, ROLES_BY_PRIVILEGE
from assistant.storage.db import session_scope
from assistant.storage.models import AuditLog


def _audit(context, action: str) -> list[AuditLog]:
    with session_scope(context.sessions) as session:
        rows = list(session.scalars(select(AuditLog).where(AuditLog.action == action)))
        session.expunge_all()
        return rows


def _account(context, username: str) -> StaffAccount:
    with session_scope(context.sessions) as session:
        account = session.scalar(select(StaffAccount).where(StaffAccount.username == username))
        session.expunge(account)
        return account


def _second_browser(client: TestClient, role: str) -> TestClient:
    other = TestClient(client.app, base_url="https://testserver", follow_redirects=False)
    assert login(other, role).status_code == 303
    assert other.get("/staff/kb", headers={"accept": "text/html"}).status_code == 200
    return other


def _confirm(client: TestClient, page: str, action: str, data: dict[str, str] | None = None):
    """Posts the account page's form, checks a confirmation page comes back, then confirms it."""
    first = form_post(client, page, action, data)
    assert first.status_code == 200 and 'name="confirmed" value="1"' in first.text, first.text[:300]
    return client.post(action, data={"csrf_token": csrf_from(first.text), "confirmed": "1", **(data or {})})


def test_disable_ends_open_sessions_and_blocks_sign_in_until_enabled(settings):
    with console_client(settings) as (client, context):
        staff_browser = _second_browser(client, "staff")
        signed_in(client, "admin")
        page = f"/staff/users/{USERS['staff']}"
        action = f"{page}/disable"

        first = form_post(client, page, action)  # only the confirmation: nothing changes yet
        assert first.status_code == 200 and "确认停用" in first.text
        assert _account(context, USERS["staff"]).active
        assert staff_browser.get("/staff/kb", headers={"accept": "text/html"}).status_code == 200

        done = client.post(action, data={"csrf_token": csrf_from(first.text), "confirmed": "1"})
        assert done.status_code == 303 and "user_disabled" in done.headers["location"]
        assert not _account(context, USERS["staff"]).active
        # The open browser is signed out on its very next request; no session row is left.
        kicked = staff_browser.get("/staff/kb", headers={"accept": "text/html"})
        assert kicked.status_code == 303 and kicked.headers["location"].startswith("/staff/login")
        with session_scope(context.sessions) as session:
            account_id = _account(context, USERS["staff"]).id
            assert session.scalar(select(StaffSession).where(StaffSession.account_id == account_id)) is None
        assert login(TestClient(client.app, base_url="https://testserver"), "staff").status_code == 401
        assert "已停用" in client.get("/staff/users").text

        enabled = form_post(client, page, f"{page}/enable")
        assert enabled.status_code == 303 and _account(context, USERS["staff"]).active
        assert login(TestClient(client.app, base_url="https://testserver", follow_redirects=False),
                     "staff").status_code == 303
        disable_rows, enable_rows = _audit(context, "user.disable"), _audit(context, "user.enable")
        assert [(r.actor, r.target) for r in disable_rows] == [(USERS["admin"], USERS["staff"])]
        assert [(r.actor, r.target) for r in enable_rows] == [(USERS["admin"], USERS["staff"])]


def test_admin_cannot_disable_themselves_or_remove_the_last_admin(settings):
    with console_client(settings) as (client, context):
        signed_in(client, "admin")
        me = f"/staff/users/{USERS['admin']}"
        refused = _confirm(client, me, f"{me}/disable")
        assert refused.status_code == 409 and "不能停用自己" in refused.text
        demoted = _confirm(client, me, f"{me}/role", {"role": "staff", "department": ""})
        assert demoted.status_code == 409 and "最后一个" in demoted.text
        assert _account(context, USERS["admin"]).role == "admin" and _account(context, USERS["admin"]).active

        # With a second administrator, the first may be demoted (by the second) and the second then is the last.
        promoted = _confirm(client, f"/staff/users/{USERS['approver']}", f"/staff/users/{USERS['approver']}/role",
                            {"role": "admin", "department": ""})
        assert promoted.status_code == 303 and _account(context, USERS["approver"]).role == "admin"
        signed_in(client, "approver")
        ok = _confirm(client, me, f"{me}/role", {"role": "staff", "department": ""})
        assert ok.status_code == 303 and _account(context, USERS["admin"]).role == "staff"
        last = f"/staff/users/{USERS['approver']}"
        assert _confirm(client, last, f"{last}/role", {"role": "staff", "department": ""}).status_code == 409
        rows = _audit(context, "user.role")
        assert [(r.actor, r.target) for r in rows] == [(USERS["admin"], USERS["approver"]),
                                                       (USERS["approver"], USERS["admin"])]
        assert rows[1].detail.startswith("admin") and rows[1].detail.endswith("→ staff")


def test_role_change_to_department_takes_a_listed_department(settings):
    with console_client(settings) as (client, context):
        signed_in(client, "admin")
        page = f"/staff/users/{USERS['staff']}"
        html = client.get(page).text
        assert re.search(r'<select name="department">.*<option value="物业">物业</option>', html, re.S)
        typo = form_post(client, page, f"{page}/role", {"role": "department", "department": "物业公"})
        assert typo.status_code == 422 and "列表" in typo.text
        assert _account(context, USERS["staff"]).role == "staff"
        done = _confirm(client, page, f"{page}/role", {"role": "department", "department": "物业"})
        assert done.status_code == 303
        account = _account(context, USERS["staff"])
        assert (account.role, account.department) == ("department", "物业")


def test_reset_password_generated_once_and_sessions_end(settings):
    with console_client(settings) as (client, context):
        staff_browser = _second_browser(client, "staff")
        signed_in(client, "admin")
        page = f"/staff/users/{USERS['staff']}"
        shown = form_post(client, page, f"{page}/password", {"password": ""})
        assert shown.status_code == 200 and "只显示这一次" in shown.text
        new_password = re.search(r'<code class="password">([^<]+)</code>', shown.text).group(1)
        assert new_password not in client.get(page).text  # never shown again
        assert staff_browser.get("/staff/kb", headers={"accept": "text/html"}).status_code == 303
        fresh = TestClient(client.app, base_url="https://testserver", follow_redirects=False)
        assert login(fresh, "staff").status_code == 401  # the old password no longer works
        assert login(fresh, "staff", new_password).status_code == 303

        typed = form_post(client, page, f"{page}/password", {"password": "another-long-password"})
        assert typed.status_code == 303 and "password_reset" in typed.headers["location"]
        short = form_post(client, page, f"{page}/password", {"password": "short"})
        assert short.status_code == 422 and "至少要 12 位" in short.text
        rows = _audit(context, "user.reset_password")
        assert [(r.actor, r.target) for r in rows] == [(USERS["admin"], USERS["staff"])] * 2
        for row in rows:  # the password itself is never written down
            assert new_password not in f"{row.detail}{row.target}" and "another-long" not in f"{row.detail}"


def test_new_account_defaults_to_the_least_privilege(settings):
    with console_client(settings) as (client, context):
        signed_in(client, "admin")
        html = client.get("/staff/users").text
        form = re.search(r'<form method="post" action="/staff/users".*?</form>', html, re.S).group(0)
        selected = re.findall(r'<option value="(\w+)" selected>', form)
        assert selected == [LEAST_PRIVILEGE_ROLE] == ["department"]
        order = re.findall(r'<option value="(admin|staff|approver|department)"', form)
        assert tuple(order) == ROLES_BY_PRIVILEGE and order[-1] == "admin"
        # A department handler without a department would see no order at all: refused with a message.
        missing = form_post(client, "/staff/users", "/staff/users",
                            {"username": "newbie", "role": "department", "department": "", "password": PASSWORD})
        assert missing.status_code == 422 and "部门" in missing.text
        created = form_post(client, "/staff/users", "/staff/users",
                            {"username": "newbie", "role": "department", "department": "城管", "password": PASSWORD})
        assert created.status_code == 303
        account = _account(context, "newbie")
        assert (account.role, account.department) == ("department", "城管")


def test_account_changes_need_admin_and_csrf(settings):
    with console_client(settings) as (client, context):
        signed_in(client, "admin")
        page = f"/staff/users/{USERS['staff']}"
        token = csrf_from(client.get(page).text)
        no_token = client.post(f"{page}/disable", data={"confirmed": "1"})
        assert no_token.status_code == 403 and _account(context, USERS["staff"]).active
        signed_in(client, "approver")
        refused = client.post(f"{page}/disable", data={"confirmed": "1", "csrf_token": token})
        assert refused.status_code == 403 and _account(context, USERS["staff"]).active
        assert client.get("/staff/users/nobody-here").status_code == 403  # not even a 404 for non-admins
        signed_in(client, "admin")
        assert client.get("/staff/users/nobody-here").status_code == 404


def test_users_command_disable_role_and_generated_password(settings, monkeypatch):
    from assistant.commands.users import users

    with users_command(settings, monkeypatch) as runner:
        no_role = runner.invoke(users, ["create", "--username", "li", "--password-stdin"], input=PASSWORD + "\n")
        assert no_role.exit_code != 0 and "--role" in no_role.output  # never an administrator by omission
        made = runner.invoke(users, ["create", "--username", "boss", "--role", "admin", "--password-stdin"],
                             input=PASSWORD + "\n")
        assert made.exit_code == 0, made.output
        last = runner.invoke(users, ["disable", "--username", "boss"])
        assert last.exit_code == 1 and "最后一个" in last.output and "Traceback" not in last.output
        typo = runner.invoke(users, ["create", "--username", "dep", "--role", "department", "--department", "物业公",
                                     "--password-stdin"], input=PASSWORD + "\n")
        assert typo.exit_code == 1 and "物业" in typo.output
        assert runner.invoke(users, ["create", "--username", "dep", "--role", "staff", "--password-stdin"],
                             input=PASSWORD + "\n").exit_code == 0
        moved = runner.invoke(users, ["role", "--username", "dep", "--role", "department", "--department", "物业"])
        assert moved.exit_code == 0, moved.output
        generated = runner.invoke(users, ["passwd", "--username", "dep", "--generate"])
        assert generated.exit_code == 0 and "shown once" in generated.output
        assert runner.invoke(users, ["disable", "--username", "dep"]).exit_code == 0
        listed = runner.invoke(users, ["list"]).output
        assert "dep\tdepartment\t物业\tdisabled" in listed
