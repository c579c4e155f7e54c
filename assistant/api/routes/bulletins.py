"""Community notices and warnings for residents' screens (issue 17): public, no personal data.

- ``GET /api/v1/bulletins?community=CODE``: the community's current warnings and notices (the read model of
  ``assistant/bulletins/board.py``), polled by the web chat every ``poll_seconds``. No code → the default
  community; an unknown one → 422 ``unknown_community``, as the chat API answers. The ``ETag`` is the
  content's revision: a poll that sends it back in ``If-None-Match`` gets ``304`` and no body, so an open
  page costs almost nothing while nothing changes. ``Cache-Control: no-cache``: a cache may keep the answer
  but must ask again each time (a warning must never be served stale from a cache).
- ``GET /api/v1/notices/{id}/image`` (the board's ``image_url``): the picture attached to a published
  notice (re-encoded PNG/JPEG when it was uploaded), with its content type and ``nosniff``; anything else (draft, archived, no picture) → 404.

The kiosk gets the same JSON with its device token (``/api/v1/kiosk/bulletins``, in ``kiosks.py``) through
``bulletin_response`` below.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from assistant.api.deps import ContextDep
from assistant.api.errors import error_body
from assistant.bulletins import notices
from assistant.communities import UnknownCommunity, valid_code
from assistant.storage.db import session_scope

router = APIRouter(prefix="/api/v1", tags=["bulletins"])

CACHE_CONTROL = "no-cache"  # revalidate every time (ETag): a warning is never served stale
# The picture of a published notice changes only by a new upload (a new version); a minute of caching spares
# a kiosk or phone re-fetching it on every poll that redraws the notices page.
IMAGE_CACHE_CONTROL = "public, max-age=60"
IMAGE_TYPES = frozenset({"image/png", "image/jpeg"})
MAX_ID = 2**31 - 1  # ids are INTEGER columns: a larger one exists nowhere and overflows the driver (a 500)
NO_IMAGE = ("没有找到这张图片", "image not found")

CommunityQuery = Annotated[str | None, Query()]  # any text: a malformed code is refused as unknown (422)


def _etag(revision: str) -> str:
    return f'"{revision}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison over the list a client may send (``W/"…"``, several tags, ``*``)."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == wanted:
            return True
    return False


def bulletin_response(request: Request, board: dict[str, Any]) -> Response:
    """The board as JSON with its ETag, or 304 when the client already has this revision."""
    etag = _etag(str(board.get("revision", "")))
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return JSONResponse(board, headers=headers)


def resolve_community(context: Any, code: str | None) -> str:
    """The community a public request names (the default one when none); unknown or malformed → 422."""
    if code is not None and code.strip() and not valid_code(code.strip()):
        raise UnknownCommunity(code)  # 422 unknown_community (assistant/api/errors.py), like POST /chat
    return context.communities.resolve(code)


@router.get("/bulletins")
def bulletins(request: Request, context: ContextDep, community: CommunityQuery = None) -> Response:
    """A community's current warnings and notices; send the ETag back in If-None-Match to get 304."""
    code = resolve_community(context, community)
    return bulletin_response(request, context.bulletins.for_community(code))


@router.get("/notices/{notice_id}/image")
def notice_image(notice_id: int, context: ContextDep) -> Response:
    """The picture of a published notice (404 for any other)."""
    found = None
    if 0 < notice_id <= MAX_ID:
        with session_scope(context.sessions) as db:
            found = notices.image_of(db, notice_id)
    if found is None or found[1] not in IMAGE_TYPES or not found[0]:
        raise HTTPException(404, error_body("no_image", *NO_IMAGE))
    data, content_type = found
    return Response(data, media_type=content_type,
                    headers={"X-Content-Type-Options": "nosniff", "Cache-Control": IMAGE_CACHE_CONTROL,
                             "Content-Disposition": "inline"})
