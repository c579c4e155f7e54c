"""``POST /api/v1/asr``: a recorded question in, the text heard out (issue 14, DESIGN.md's contract).

The audio comes as the raw body (``Content-Type: audio/*``, ``application/octet-stream``, or the video/ogg
types some browsers give their recordings) or as the multipart field ``audio``; ``language`` (``zh`` 普通话,
``yue`` 粤语) and ``session_id`` (the chat session, as ``/api/v1/chat`` issued it) come in the query or as
form fields. Any format FFmpeg reads is taken (webm/opus from the web chat, ogg, wav, mp3, m4a, amr).
``GET /api/v1/asr`` says whether the server listens at all (``asr_engine`` is not ``off``), for the web chat's
microphone button and remote kiosks.

The body is read with a cap (also when it comes chunked), recognition runs in a worker thread with the one
recogniser of the process (``context.speech``), and the answer is ``{"text", "alternatives", "language",
"audio_seconds", "seconds"}``. Refusals use the API's error body, in Chinese and English:

- 413 too long (over 15 s) or too big; 415 not audio, or audio that cannot be decoded (one status for both:
  the format cannot be used); 422 no speech heard, or a language other than zh/yue;
- 429 too many recognitions: ``asr_rate_per_minute`` per chat session (per client address without one), and
  five times that per address whatever the session, so made-up sessions do not multiply the allowance;
- 503 voice input switched off (``asr_engine=off``) or the model missing or broken.

Neither the audio nor the text is logged or kept: log lines carry durations and lengths only.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect
from starlette.types import Message

from accessibility.asr import LANGUAGES
from accessibility.errors import (
    AsrError,
    AudioDecodeError,
    AudioError,
    AudioTooLongError,
    NoSpeechError,
)
from assistant.api.deps import ContextDep
from assistant.api.errors import ASR_BODY_BYTES, error_body
from assistant.auth import RateLimited
from assistant.auth.ratelimit import client_address
from assistant.context import AppContext
from assistant.dialogue.turn_store import issued_session_id
from assistant.storage.db import session_scope
from assistant.storage.models import ChatSession

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["speech"])

# Raw bodies: any audio/*, and the types browsers and tools give recordings that are not labelled audio/*.
RAW_TYPES = ("application/octet-stream", "application/ogg", "video/webm", "video/mp4", "video/ogg",
             "video/3gpp")
MULTIPART = "multipart/form-data"
RATE_WINDOW_SECONDS = 60.0
ADDRESS_FACTOR = 5  # an address may recognise this many times the per-session allowance, all sessions together
SESSION_SCOPE, ADDRESS_SCOPE, ADDRESS_TOTAL_SCOPE = "asr-session", "asr-address", "asr-address-total"

VOICE_OFF = ("voice_unavailable", "语音输入暂时用不了，请打字或点选", "speech input is not available")
TOO_MANY = ("too_many_recordings", "说得太频繁了，请稍等一会儿再说，或者直接打字",
            "too many recognitions, please wait a moment")
NOT_AUDIO_TYPE = ("unsupported_media_type", "请上传录音（audio/* 或 multipart 的 audio 字段）",
                  "send the recording as an audio/* body or as the multipart field 'audio'")
BAD_MULTIPART = ("bad_multipart", "上传的表单格式不正确", "the multipart body cannot be read")
MISSING_AUDIO = ("missing_audio", "没有收到录音，请再录一次", "the multipart field 'audio' (a file) is missing")
BAD_LANGUAGE = ("invalid_language", "language 只能是 zh（普通话）或 yue（粤语）", "language must be zh or yue")
TOO_BIG = ("audio_too_large", AudioTooLongError.resident_message, "the recording is too long or too large")
UNDECODABLE = ("undecodable_audio", AudioDecodeError.resident_message, "the audio cannot be decoded")
NO_SPEECH = ("no_speech", NoSpeechError.resident_message, "no speech was heard in the recording")

AUDIO_SCHEMA = {"type": "string", "format": "binary"}
REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "description": "A recording of one question, at most 15 s and 4 MB: webm/opus, ogg, wav, mp3, m4a, amr.",
    "content": {
        "audio/*": {"schema": AUDIO_SCHEMA},
        "application/octet-stream": {"schema": AUDIO_SCHEMA},
        MULTIPART: {"schema": {
            "type": "object",
            "required": ["audio"],
            "properties": {
                "audio": AUDIO_SCHEMA,
                "language": {"type": "string", "enum": list(LANGUAGES)},
                "session_id": {"type": "string"},
            },
        }},
    },
}
_ERROR = {"description": "error body: {\"error\": {\"code\", \"message\", \"message_zh\", \"message_en\"}}"}
RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {**_ERROR, "description": "the recording is longer than 15 s or larger than 4 MB"},
    415: {**_ERROR, "description": "not audio, or audio in a form that cannot be decoded"},
    422: {**_ERROR, "description": "no speech heard, or a language other than zh/yue"},
    429: {**_ERROR, "description": "too many recognitions for this session or address; see Retry-After"},
    503: {**_ERROR, "description": "speech input is switched off or its model is not installed"},
}


class AsrStatus(BaseModel):
    enabled: bool
    languages: list[str]
    default_language: str
    max_seconds: float


class AsrResponse(BaseModel):
    text: str
    alternatives: list[str]
    language: Literal["zh", "yue"]
    audio_seconds: float
    seconds: float


def _refuse(status: int, message: tuple[str, str, str], headers: dict[str, str] | None = None) -> HTTPException:
    return HTTPException(status, error_body(*message), headers=headers)


def _body_kind(content_type: str) -> str | None:
    media = content_type.split(";", 1)[0].strip().lower()
    if media == MULTIPART:
        return "multipart"
    if media.startswith("audio/") or media in RAW_TYPES:
        return "raw"
    return None


async def _read_capped(request: Request) -> bytes:
    """The whole body, refused with 413 as soon as it passes the cap (a chunked body has no Content-Length
    for the middleware to check)."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > ASR_BODY_BYTES:
                raise _refuse(413, TOO_BIG)
            chunks.append(chunk)
    except ClientDisconnect:
        raise _refuse(400, ("client_disconnected", "录音没有传完，请再试一次", "the upload was cut off")) from None
    return b"".join(chunks)


async def _from_multipart(request: Request, body: bytes) -> tuple[bytes, str | None, str | None]:
    """(audio, language, session_id) from a multipart body already read (and capped)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    # Without "app" in the scope Starlette raises its parser's own error instead of a bare 400.
    scope = {key: value for key, value in request.scope.items() if key != "app"}
    try:
        async with Request(scope, replay).form(max_files=2, max_fields=8, max_part_size=4096) as form:
            upload = form.get("audio")
            if not isinstance(upload, UploadFile):
                raise _refuse(422, MISSING_AUDIO)
            audio = await upload.read()
            language, session_id = form.get("language"), form.get("session_id")
            return (audio, language if isinstance(language, str) else None,
                    session_id if isinstance(session_id, str) else None)
    except HTTPException:
        raise
    except (MultiPartException, ValueError, KeyError, UnicodeError, AssertionError) as exc:
        log.info("asr: a multipart body could not be read: %s", type(exc).__name__)
        raise _refuse(400, BAD_MULTIPART) from None


def _known_session(context: AppContext, session_id: str | None) -> str | None:
    if not session_id or not issued_session_id(session_id):
        return None
    with session_scope(context.sessions) as db:
        return session_id if db.get(ChatSession, session_id) is not None else None


def _count_attempt(request: Request, context: AppContext, session: str | None) -> None:
    """One recognition counted against the session (or the address) and the address's total; raises
    ``RateLimited`` when either is used up."""
    limit = context.settings.asr_rate_per_minute
    if limit <= 0:
        return
    limiter = context.rate_limiter
    address = client_address(request)
    limiter.hit(ADDRESS_TOTAL_SCOPE, address, limit * ADDRESS_FACTOR, RATE_WINDOW_SECONDS)
    if session is not None:
        limiter.hit(SESSION_SCOPE, session, limit, RATE_WINDOW_SECONDS)
    else:
        limiter.hit(ADDRESS_SCOPE, address, limit, RATE_WINDOW_SECONDS)


def _admit(request: Request, context: AppContext, session_id: str | None) -> str | None:
    """The chat session the recording belongs to (``None`` unless the server issued it and it exists), after
    counting the attempt."""
    session = _known_session(context, session_id)
    _count_attempt(request, context, session)
    return session


def _keep(context: AppContext, session: str | None, audio: bytes, seconds: float) -> None:
    """Stores the recording (encrypted, with its conversation) where the installation asked for it."""
    if session is None or not getattr(context.settings, "asr_keep_audio", False):
        return
    from assistant.speech import keep_recording

    try:
        keep_recording(context.sessions, context.cipher, session, audio, seconds)
    except Exception as exc:  # the resident still gets the text; a recording not kept is no reason to fail
        log.error("asr: the recording could not be kept: %s", type(exc).__name__)


@router.get("/asr", response_model=AsrStatus)
async def speech_status(context: ContextDep) -> AsrStatus:
    """Whether this server takes spoken questions (the web chat shows its microphone button only then)."""
    speech = context.speech
    return AsrStatus(enabled=speech.enabled, languages=list(LANGUAGES), default_language=speech.default_language,
                     max_seconds=speech.max_seconds)


@router.post("/asr", response_model=AsrResponse, responses=RESPONSES, openapi_extra={"requestBody": REQUEST_BODY})
async def recognise_speech(
    request: Request,
    context: ContextDep,
    language: Annotated[str | None, Query(description="zh 普通话 (default) or yue 粤语")] = None,
    session_id: Annotated[str | None, Query(description="the chat session id /api/v1/chat issued")] = None,
) -> AsrResponse:
    """A resident's spoken question (at most 15 s) → the text heard and up to three other readings.

    Show the text for the resident to confirm, then send it to ``/api/v1/chat`` (with ``alternatives``)."""
    speech = context.speech
    if not speech.enabled:
        raise _refuse(503, VOICE_OFF)
    kind = _body_kind(request.headers.get("content-type", ""))
    if kind is None:
        raise _refuse(415, NOT_AUDIO_TYPE)
    body = await _read_capped(request)
    audio = body
    if kind == "multipart":
        audio, form_language, form_session = await _from_multipart(request, body)
        language = form_language or language
        session_id = form_session or session_id
    language = language or None  # "language=" is the default, as no language at all
    if language is not None and language not in LANGUAGES:
        raise _refuse(422, BAD_LANGUAGE)
    try:
        session = await asyncio.to_thread(_admit, request, context, session_id)
    except RateLimited as exc:
        raise _refuse(429, TOO_MANY, {"Retry-After": str(max(1, round(exc.retry_after)))}) from None
    try:
        transcript = await asyncio.to_thread(speech.transcribe_bytes, audio, language=language)
    except AudioTooLongError:
        raise _refuse(413, TOO_BIG) from None
    except AudioDecodeError:
        raise _refuse(415, UNDECODABLE) from None
    except AudioError:  # NoSpeechError and any other clip that holds nothing usable
        raise _refuse(422, NO_SPEECH) from None
    except AsrError as exc:  # switched off, model missing or broken
        log.warning("asr: speech input unavailable: %s", type(exc).__name__)
        raise _refuse(503, VOICE_OFF) from None
    except ValueError:  # a language the recogniser does not take (checked above; kept for safety)
        raise _refuse(422, BAD_LANGUAGE) from None
    except Exception as exc:  # the engine itself failed: the resident types instead, never a 500
        log.error("asr: recognition failed: %s", type(exc).__name__)
        raise _refuse(503, VOICE_OFF) from None
    await asyncio.to_thread(_keep, context, session, audio, transcript.audio_seconds)
    return AsrResponse(**transcript.as_payload())
