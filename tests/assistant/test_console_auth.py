"""Staff accounts: argon2 hashes, lockout, rate limit, cookies, CSRF and the users command."""

from __future__ import annotations

from console_testkit import PASSWORD, USERS, console_client, csrf_from, login
from sqlalchemy import select

from assistant.auth.models import StaffAccount
from assistant.storage.db import session_scope


def test_login_sets_a_hardened_cookie_and_logout_ends_the_session(settings):
    with console_client(settings) as (client, _context):
        anonymous = client.get("/staff/welcome", headers={"accept": "text/html"})
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/staff/login")
        page = client.get("/staff/login")
        response = client.post("/staff/login", data={"username": "sam", "password": PASSWORD,
                                                     "csrf_token": csrf_from(page.text)})
        assert response.status_code == 303
        cookie = [h for h in response.headers.get_list("set-cookie") if h.startswith("shequ_staff=")][0]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        assert client.get("/staff/welcome").status_code == 200
        home = client.get("/staff/welcome")
        logout = client.post("/staff/logout", data={"csrf_token": csrf_from(home.text)})
        assert logout.status_code == 303
        assert client.get("/staff/welcome").status_code == 401
