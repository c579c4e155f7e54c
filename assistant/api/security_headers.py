"""Security headers on every response, set once here so that no page can forget them.

HTML pages (the resident chat ``/``, the work-order pages ``/t/…``, the staff console, anything added later)
get the staff console's ``SECURITY_HEADERS``: a CSP without inline script, no framing, same-origin referrers,
nosniff, no caching. Every other response gets nosniff, and, unless it is a static file, ``no-store``: the
JSON answers carry conversations, queue numbers and work orders. A header a route set itself is kept.

A plain ASGI middleware, not ``BaseHTTPMiddleware``: the staff pages' event stream and the channel callbacks'
streamed bodies pass through untouched.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.console.templating import SECURITY_HEADERS

CSP = "Content-Security-Policy"
# FastAPI's Swagger/ReDoc pages load their script from a CDN with an inline bootstrap: our CSP would blank
# them. They exist only where ``api_docs`` is on (development), and keep every other header.
DOCS_PAGES = ("/docs", "/docs/oauth2-redirect", "/redoc")
STATIC_PREFIX = "/static/"


def headers_for(path: str, content_type: str) -> dict[str, str]:
    """The headers a response to ``path`` with ``content_type`` must carry (before the route's own)."""
    if content_type.startswith("text/html"):
        return {name: value for name, value in SECURITY_HEADERS.items()
                if not (name == CSP and path in DOCS_PAGES)}
    headers = {"X-Content-Type-Options": SECURITY_HEADERS["X-Content-Type-Options"]}
    if not path.startswith(STATIC_PREFIX):
        headers["Cache-Control"] = SECURITY_HEADERS["Cache-Control"]
    return headers


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in headers_for(path, headers.get("content-type", "")).items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
