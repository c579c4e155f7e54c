"""The staff console per community, through HTTP: a community worker of A sees A's handoffs, orders, alerts and
unanswered questions and nothing of B's (lists, counts, exports, pushed events; B's detail URLs are 404), city
staff see both, a department sees its routed orders of both; the dashboard's roll-up counts per community;
only a city administrator creates accounts or moves them between communities; ``/api/v1/communities``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from community_testkit import A, B, Seeded, add_accounts, add_communities, seed
from console_testkit import (
    PASSWORD,
    csrf_from,
    login,
    module_console_settings,
    remember_warm_cache,
    users_command,
)
from fastapi.testclient import TestClient
from sqlalchemy import select

from assistant.api.main import create_app
from assistant.api.routes import events as event_routes
from assistant.auth.models import StaffAccount
from assistant.context import AppContext, create_context
from assistant.handoff import push
from assistant.settings import Settings
from assistant.storage.db import session_scope

Client = tuple[TestClient, AppContext, Seeded]


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    settings = module_console_settings(tmp_path_factory.mktemp("community-console"))
    context = create_context(settings)
    add_communities(context)
    add_accounts(context)
    seeded = seed(context)
    try:
        with TestClient(create_app(context=context), base_url="https://testserver",
                        follow_redirects=False) as client:
            remember_warm_cache(settings)
            yield client, context, seeded
    finally:
        context.close()


def _as(client: TestClient, username: str) -> None:
    assert login(client, username).status_code == 303


def test_a_community_worker_sees_only_their_community(console: Client) -> None:
    client, _context, _seeded = console
    _as(client, "wa")
    queue = client.get("/staff/api/handoffs").json()
    assert [i["queue_number"] for i in queue["items"]] == ["A001"] and queue["counts"]["waiting"] == 1
    inbox = client.get("/staff/inbox", headers={"accept": "text/html"}).text
    assert "A001" in inbox and "B001" not in inbox
    orders = client.get("/staff/orders?view=all").text
    assert "GDA0001" in orders and "GDB0001" not in orders and 'class="community"' not in orders
    assert [a["text"] for a in client.get("/staff/api/alerts").json()["alerts"]] == ["竹溪楼道冒烟"]
    alerts_page = client.get("/staff/alerts").text
    assert "竹溪楼道冒烟" in alerts_page and "亭洪有人摔倒" not in alerts_page
    unanswered = client.get("/staff/unanswered").text
    assert "竹溪的路灯坏了找谁" in unanswered and "亭洪的垃圾站什么时候修" not in unanswered


def test_another_communitys_records_are_not_found_by_url(console: Client) -> None:
    client, _context, seeded = console
    _as(client, "wa")
    assert client.get(f"/staff/orders/{seeded.order[B]}").status_code == 404
    assert client.get(f"/staff/orders/{seeded.order[A]}").status_code == 200
    assert client.get(f"/staff/inbox/{seeded.handoff[B]}").status_code == 404
    assert client.get(f"/staff/api/handoffs/{seeded.handoff[B]}/messages").status_code == 404
    token = csrf_from(client.get("/staff/inbox").text)
    headers = {"X-CSRF-Token": token}
    assert client.post(f"/staff/api/handoffs/{seeded.handoff[B]}/claim", headers=headers).status_code == 404
    assert client.post(f"/staff/api/alerts/{seeded.alert[B]}/acknowledge", headers=headers).status_code == 404
    action = client.post(f"/staff/orders/{seeded.order[B]}/action", data={"csrf_token": token, "action": "派单"})
    assert action.status_code == 404


def test_exports_are_limited_too(console: Client) -> None:
    client, _context, _seeded = console
    _as(client, "wa")
    orders = client.get("/staff/export/work_orders.csv?community=" + B).content.decode("utf-8-sig")
    assert "GDA0001" in orders and "GDB0001" not in orders  # asking for B does not widen a worker's view
    unanswered = client.get("/staff/export/unanswered.csv").content.decode("utf-8-sig")
    assert "竹溪" in unanswered and "亭洪" not in unanswered
    _as(client, "city")
    both = client.get("/staff/export/work_orders.csv").content.decode("utf-8-sig")
    assert "GDA0001" in both and "GDB0001" in both
    only_b = client.get("/staff/export/work_orders.csv?community=" + B).content.decode("utf-8-sig")
    assert "GDB0001" in only_b and "GDA0001" not in only_b


def test_city_staff_see_both_and_a_department_its_orders_of_both(console: Client) -> None:
    client, _context, seeded = console
    _as(client, "city")
    assert {i["queue_number"] for i in client.get("/staff/api/handoffs").json()["items"]} == {"A001", "B001"}
    assert client.get(f"/staff/orders/{seeded.order[B]}").status_code == 200
    assert len(client.get("/staff/api/alerts").json()["alerts"]) == 2
    assert '<td class="community">江南区亭洪街道 · 亭洪社区</td>' in client.get("/staff/orders?view=all").text
    _as(client, "dept")
    orders = client.get("/staff/orders?view=all").text
    assert "GDA0001" in orders and "GDB0001" in orders
    assert client.get(f"/staff/orders/{seeded.order[B]}").status_code == 200


def _rollup_cells(html: str, code: str) -> dict[str, str]:
    row = re.search(rf'<tr data-community="{code}"[^>]*>(.*?)</tr>', html, re.S)
    assert row, f"no roll-up row for {code!r}"
    return dict(re.findall(r'<td class="([a-z-]+)">([^<]*)</td>', row.group(1)))


def test_the_dashboard_rolls_up_per_community(console: Client) -> None:
    client, _context, _seeded = console
    _as(client, "city")
    page = client.get("/staff/").text
    assert 'id="community-select"' in page and "青秀区新竹街道 · 竹溪社区" in page
    assert _rollup_cells(page, A) == {"conversations": "2", "answer-rate": "66.7%", "handoffs": "1",
                                      "open-orders": "1", "open-emergencies": "1", "unanswered": "1"}
    assert _rollup_cells(page, B)["conversations"] == "1" and _rollup_cells(page, "")["conversations"] == "3"
    only_b = client.get(f"/staff/?community={B}").text
    assert re.search(r'id="kpi-conversations">1<', only_b) and "江南区亭洪街道 · 亭洪社区" in only_b
    _as(client, "wa")
    own = client.get(f"/staff/?community={B}").text  # a worker cannot look at another community's figures
    assert re.search(r'id="kpi-conversations">2<', own)
    assert 'id="community-select"' not in own and 'id="community-rollup"' not in own


def test_only_a_city_administrator_creates_or_moves_accounts(console: Client) -> None:
    client, context, _seeded = console
    _as(client, "boss")
    page = client.get("/staff/users").text
    assert "全市" in page and 'id="new-community"' in page
    created = client.post("/staff/users", data={"csrf_token": csrf_from(page), "username": "wb2", "role": "staff",
                                                "community": B, "password": "a-long-enough-passphrase"})
    assert created.status_code == 303, created.text[:300]
    wrong = client.post("/staff/users", data={"csrf_token": csrf_from(page), "username": "wx", "role": "staff",
                                              "community": "nn-nowhere", "password": "a-long-enough-passphrase"})
    assert wrong.status_code == 422 and "请从列表里选择社区" in wrong.text
    moved = client.post("/staff/users/wb2/community", data={"csrf_token": csrf_from(page), "community": A})
    assert moved.status_code == 303
    with session_scope(context.sessions) as db:
        assert db.scalar(select(StaffAccount.community_code).where(StaffAccount.username == "wb2")) == A
    _as(client, "admin-a")
    page = client.get("/staff/users").text
    assert 'id="new-community"' not in page and "boss" not in page and "wa" in page
    refused = client.post("/staff/users", data={"csrf_token": csrf_from(page), "username": "wz", "role": "admin",
                                                 "password": "a-long-enough-passphrase"})
    assert refused.status_code == 403
    assert client.post("/staff/users/wa/community", data={"csrf_token": csrf_from(page)}).status_code == 403
    assert client.get("/staff/users/boss").status_code == 404


def test_an_event_of_b_does_not_reach_as_worker(console: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    client, context, seeded = console
    monkeypatch.setattr(event_routes, "STREAM_SECONDS", 1.5)  # the stream ends by itself, with what it sent
    with session_scope(context.sessions) as db:  # B's queue changes: its badge count goes to B and the city
        push.track(db, context.events)
        push.queue_changed(db, B)
    _as(client, "wa")
    stream = client.get("/staff/api/events?after=0").text
    assert f'"id":{seeded.alert[A]},' in stream and "竹溪楼道冒烟" in stream
    assert "亭洪有人摔倒" not in stream and f'"community":"{B}"' not in stream and "queue.changed" not in stream
    _as(client, "wb")
    assert '"waiting":1,"serving":0,"community":"nn-tinghong"}' in client.get("/staff/api/events?after=0").text
    _as(client, "city")
    stream = client.get("/staff/api/events?after=0").text
    assert "亭洪有人摔倒" in stream and "竹溪楼道冒烟" in stream
    assert '"waiting":2,"serving":0,"community":"nn-tinghong"}' in stream  # the city's count for the badge


def test_the_public_list_of_communities_gives_code_and_label_only(console: Client) -> None:
    client, _context, _seeded = console
    client.cookies.clear()
    body = client.get("/api/v1/communities").json()
    assert {c["code"]: c["label"] for c in body["communities"]}[B] == "江南区亭洪街道 · 亭洪社区"
    assert all(set(c) == {"code", "label"} for c in body["communities"]) and body["default"] == "default"
    assert "0771" not in str(body)  # nothing of the profiles


def test_the_users_command_gives_an_account_a_community(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.commands.users import users

    context = create_context(settings)
    try:
        add_communities(context)
    finally:
        context.close()
    with users_command(settings, monkeypatch) as runner:
        made = runner.invoke(users, ["create", "--username", "wa", "--role", "staff", "--community", A,
                                     "--password-stdin"], input=PASSWORD + "\n")
        assert made.exit_code == 0, made.output
        wrong = runner.invoke(users, ["create", "--username", "wx", "--role", "staff", "--community", "nn-nowhere",
                                      "--password-stdin"], input=PASSWORD + "\n")
        assert wrong.exit_code != 0 and "请从列表里选择社区" in wrong.output
        assert f"wa\tstaff\t-\tactive\t{A}" in runner.invoke(users, ["list"]).output
        assert runner.invoke(users, ["community", "--username", "wa"]).exit_code == 0  # now city staff
        assert "wa\tstaff\t-\tactive\tcity" in runner.invoke(users, ["list"]).output


def test_the_profile_page_shows_the_workers_own_community(console: Client) -> None:
    client, _context, _seeded = console
    _as(client, "wa")
    own = client.get("/staff/profile?community=nn-tinghong").text  # the link cannot show another community
    assert "竹溪社区" in own and "0771-0000001" in own and "0771-0000003" not in own
    assert 'name="community"' not in own  # no chooser for a community worker
    _as(client, "city")
    chosen = client.get("/staff/profile?community=nn-tinghong").text
    assert "亭洪社区" in chosen and "0771-0000003" in chosen and 'name="community"' in chosen
    unknown = client.get("/staff/profile?community=<script>").text
    assert "<script>" not in unknown and "亭洪社区" not in unknown.split("</h1>")[0]
