"""Every /staff route refuses anonymous visitors and signed-in users of the wrong role.

Routes are enumerated from ``app.routes``, so a route added later (by any feature) is covered too; a route
with no ``require_roles`` dependency must be listed in PUBLIC on purpose.
"""

from __future__ import annotations

import re

import pytest
from console_testkit import USERS, console_client, csrf_from, signed_in
from fastapi.routing import APIRoute

from assistant.auth import ROLES

PUBLIC = {("GET", "/staff/login"), ("POST", "/staff/login"), ("POST", "/staff/logout")}


def _all_routes(routes) -> list:
    """APIRoutes, also inside the lazily included routers of newer FastAPI versions (``_IncludedRouter``)."""
    found = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "effective_route_contexts"):
            found.extend(c for c in route.effective_route_contexts() if getattr(c, "dependant", None) is not None)
        elif hasattr(route, "routes"):
            found.extend(_all_routes(route.routes))
    return found


def _roles_of(route) -> tuple[str, ...] | None:
    """The roles a route requires, from its require_roles dependency; None when it has none."""
    stack = list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        roles = getattr(dependant.call, "roles", None)
        if roles is not None:
            return tuple(roles)
        stack.extend(dependant.dependencies)
    return None


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "1" if "id" in m.group(0) else "x", path)


def _staff_routes(app) -> list[tuple[str, str, tuple[str, ...] | None]]:
    found = []
    for route in _all_routes(app.routes):
        if route.path.startswith("/staff"):
            for method in sorted(set(route.methods) - {"HEAD"}):
                found.append((method, route.path, _roles_of(route)))
    return found


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    from tests_conftest_bridge import tiny_settings

    from assistant.settings import Settings

    settings: Settings = tiny_settings(tmp_path_factory.mktemp("routes"))
    with console_client(settings) as pair:
        yield pair


def test_every_staff_route_is_protected(console):
    client, _context = console
    routes = _staff_routes(client.app)
    assert len(routes) >= 25, routes  # the console's own pages are all there
    unprotected = [(m, p) for m, p, roles in routes if roles is None and (m, p) not in PUBLIC]
    assert not unprotected, f"routes without require_roles: {unprotected}"


def test_anonymous_visitors_are_refused_everywhere(console):
    client, _context = console
    client.cookies.clear()
    token = csrf_from(client.get("/staff/login").text)  # a valid pre-sign-in token: refusal must be by role
    for method, path, roles in _staff_routes(client.app):
        if roles is None:
            continue
        url = _concrete(path)
        api = client.request(method, url, headers={"X-CSRF-Token": token, "accept": "application/json"})
        assert api.status_code == 401, (method, path, api.status_code)
        assert api.json()["error"]["code"] == "staff_login"
        if method == "GET" and not path.startswith("/staff/api/"):  # APIs answer 401 even to browsers
            page = client.get(url, headers={"accept": "text/html"})
            assert page.status_code == 303 and page.headers["location"].startswith("/staff/login?next="), path


@pytest.mark.parametrize("role", [r for r in ROLES if r != "admin"])
def test_wrong_roles_are_refused_everywhere(console, role):
    client, _context = console
    signed_in(client, role)
    token = csrf_from(client.get("/staff/welcome").text)
    checked = 0
    for method, path, roles in _staff_routes(client.app):
        if roles is None or not roles or role in roles:
            continue
        url = _concrete(path)
        response = client.request(method, url, headers={"X-CSRF-Token": token, "accept": "text/html"})
        assert response.status_code == 403, (role, method, path, response.status_code)
        assert "没有这个权限" in response.text
        checked += 1
    assert checked >= 3 if role == "department" else checked >= 1


def test_admin_reaches_every_console_page(console):
    client, _context = console
    signed_in(client, "admin")
    for method, path, roles in _staff_routes(client.app):
        if method != "GET" or "{" in path or roles is None:
            continue
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        if "text/html" in response.headers["content-type"]:
            assert "content-security-policy" in response.headers


def test_users_fixture_covers_every_role():
    assert set(USERS) == set(ROLES)
