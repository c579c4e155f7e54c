"""社区信息: the community profile as answers use it, read-only.

Each detail (社区电话, 部门电话：民政, 地点：派出所 …) filled in or 「未填写」, with the published entries whose
text uses it, so staff see which answers are degraded (「具体时间请打12345问」) until they fill it in.
The profile itself is changed in the YAML file named by SHEQU_COMMUNITY_PROFILE (the default community) or
imported with ``shequ communities import`` (the others). A community worker sees their community's profile;
city staff choose the community (``?community=CODE``, default: the default community).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from assistant.console.templating import render
from assistant.console.web import Reader, app_context
from knowledge_base.profile import MISSING_LABEL, profile_fields

router = APIRouter(prefix="/staff", include_in_schema=False)


@router.get("/profile")
def profile_page(request: Request, user: Reader, community: str = "") -> Response:
    context = app_context(request)
    directory = context.communities
    # A community worker's own community, whatever the link says; city staff pick one of the known ones.
    code = user.community or (community if directory.get(community) else directory.default_code)
    kb = context.kb.current().for_community(code)
    shown = directory.get(code)
    texts = [(entry.id, text) for entry in kb.entries.values()
             for text in (entry.answer, *entry.aspects.present().values())]
    fields = profile_fields(kb.profile, texts)
    titles = {entry.id: entry.title for entry in kb.entries.values()}
    missing = [f for f in fields if not f.filled]
    return render(request, "staff/profile.html", {
        "profile": kb.profile, "fields": fields, "titles": titles, "missing_label": MISSING_LABEL,
        "missing_count": len(missing), "missing_used": sum(1 for f in missing if f.used_by),
        "community_label": shown.label if shown else code, "community": code,
        "communities": [] if user.community else [(c.code, c.label) for c in directory.all()],
    })
