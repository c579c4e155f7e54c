"""Jinja2 for the staff pages: autoescaped, with ``csrf_token`` and the signed-in ``user`` in every page.

Other staff features render through ``render`` too, so their pages get the same layout (``staff/base.html``)
and CSRF handling.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from assistant.api.routes.web import WEB_DIR
from assistant.auth import ROLE_LABELS
from assistant.auth.deps import attach_csrf_cookie, csrf_token, current_user
from assistant.clock import china_seconds, china_time
from assistant.labels import percent, zh

_env = Environment(
    loader=FileSystemLoader(str(WEB_DIR / "templates")),
    autoescape=True,  # resident text is untrusted: every {{ }} is escaped, never marked safe
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals["csrf_token"] = csrf_token
_env.globals["ROLE_LABELS"] = ROLE_LABELS
# One clock and one language on every page: China time, Chinese labels, rates as percentages.
_env.filters.update(china_time=china_time, china_seconds=china_seconds, zh=zh, percent=percent)
templates = Jinja2Templates(env=_env)

# Headers for every staff page: no inline script may run, nothing is framed, nothing is cached.
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


# Messages after a redirect are chosen by code (``?msg=saved``), so a crafted link cannot put words on a page.
FLASH_MESSAGES: dict[str, str] = {
    "saved": "已保存草稿。", "submitted": "已提交审核。", "approved": "已审核通过。", "rejected": "已退回修改。",
    "published": "已发布，各服务进程几秒内生效。", "rolled_back": "已发布：内容已回滚到所选版本，各服务进程几秒内生效。", "imported": "导入成功。",
    "synonyms_saved": "同义词已保存并生效。", "dialect_saved": "方言词典已保存并生效。", "cluster_added": "已把这些问法加入条目的相似问题。",
    "cluster_closed": "已处理该问题组。", "draft_created": "已根据未答问题新建草稿。", "user_created": "账号已创建。",
    "unlocked": "账号已解锁。", "archived": "条目已下线。",
    "user_disabled": "账号已停用，它的登录已全部退出。", "user_enabled": "账号已启用。",
    "password_reset": "密码已重置，该账号要用新密码重新登录。", "role_changed": "角色已更改。",
    "community_changed": "账号的社区已更改。",
}


def render(request: Request, name: str, context: dict[str, Any] | None = None,
           status_code: int = 200) -> HTMLResponse:
    flash = FLASH_MESSAGES.get(request.query_params.get("msg", ""), "")
    values: dict[str, Any] = {"user": current_user(request), "flash": flash}
    if name == "staff/login.html":
        from assistant.console.auth_routes import cookie_warning

        values["cookie_warning"] = cookie_warning(request)
    values.update(context or {})
    response = templates.TemplateResponse(request, name, values, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    attach_csrf_cookie(request, response)
    return response
