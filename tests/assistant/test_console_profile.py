"""社区信息 (/staff/profile): each profile detail filled or 「未填写」 and the entries that use it; the demo
profile of `make run` (settings.demo_profile) is picked only when no profile is configured."""

from __future__ import annotations

import yaml
from console_testkit import console_client, signed_in

from knowledge_base.profile import DEMO_NOTE, UNKNOWN


def test_profile_page_lists_gaps_and_the_demo_profile_says_it_is_an_example(settings) -> None:
    demo = {"example": True, "demo": True, "name": "示例社区", "places": {"社区服务中心": "示例路1号"}}
    (settings.kb_data_dir / "community_profile.demo.yaml").write_text(yaml.safe_dump(demo, allow_unicode=True),
                                                                       encoding="utf-8")
    with console_client(settings, demo_profile=True) as (client, context):
        assert client.get("/staff/profile").status_code in (302, 303, 401)  # signed out: no page
        signed_in(client, "department")
        assert client.get("/staff/profile").status_code == 403
        signed_in(client, "staff")
        page = client.get("/staff/profile")
        assert page.status_code == 200
        html = page.text
        assert "示例数据" in html  # the demo profile is announced
        assert '<a href="/staff/profile">社区信息</a>' in html  # reachable from the menu of every staff page
        assert "{社区电话}" in html and "未填写" in html
        row = html.split("{社区电话}")[1].split("</tr>")[0]
        assert "未填写" in row and "高龄津贴" in row  # the missing phone and an entry that uses it
        filled = html.split("{地点:社区服务中心}")[1].split("</tr>")[0]
        assert "示例路1号" in filled and "未填写" not in filled

        kb = context.kb.current()
        assert kb.profile.demo
        location = kb.rendered_aspect("senior-age-allowance", "location")
        assert location == "示例路1号" + DEMO_NOTE  # said once, at the end
        answer = kb.rendered_answer("senior-age-allowance")
        assert UNKNOWN not in answer and DEMO_NOTE not in answer  # it uses no demo value: no note


def test_without_the_make_run_switch_the_demo_profile_is_not_used(settings, tmp_path) -> None:
    from assistant.kb_runtime import default_profile_path

    (settings.kb_data_dir / "community_profile.demo.yaml").write_text("demo: true\n", encoding="utf-8")
    assert default_profile_path(settings).name == "community_profile.example.yaml"
    demo_run = settings.model_copy(update={"demo_profile": True})
    assert default_profile_path(demo_run).name == "community_profile.demo.yaml"
    configured = tmp_path / "ours.yaml"
    configured.write_text("name: 甲社区\n", encoding="utf-8")
    from assistant.kb_runtime import shipped_documents
    documents = shipped_documents(demo_run.model_copy(update={"community_profile": configured}))
    assert documents["profile"] == {"name": "甲社区"}  # a configured profile always wins
