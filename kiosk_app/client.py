"""The seam between the kiosk and the assistant: in this process, or the central server over HTTP.

``create_client(config, settings)`` picks one: an empty ``SHEQU_KIOSK_ASSISTANT_URL`` runs the dialogue
engine in-process (one kiosk, its own SQLite database), a URL sends every turn to ``POST /api/v1/chat`` of the
central server (many kiosks, one database, staff see everything in one console). Both return the
``ChatResponse`` of the chat API contract and raise :class:`AssistantUnavailableError` (with a sentence for
the resident) instead of anything else. Calls block: the controller runs them off the UI thread.

Speech input goes the same two ways: in-process through the application context's recogniser
(``context.speech``), over HTTP as a WAV to ``POST /api/v1/asr``. Both return :class:`Heard` or raise
:class:`VoiceInputError` (the sentence says why; 重说 may help) or :class:`VoiceUnavailableError` (no
recogniser: the kiosk hides 按住说话); over HTTP ``GET /api/v1/asr`` says whether the server listens at all.
The audio is sent from memory and never stored by the kiosk.
"""

from __future__ import annotations

import logging
import re
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np
from pydantic import ValidationError

from accessibility.audio_input import pcm16_bytes
from accessibility.errors import (
    AsrUnavailableError,
    AudioDecodeError,
    AudioError,
    AudioTooLongError,
    NoSpeechError,
)
from assistant.dialogue.schemas import MAX_TEXT_CHARS, ChatRequest, ChatResponse
from kiosk_app import texts
from kiosk_app.bulletins import BulletinFetch
from kiosk_app.catalog import Catalog
from kiosk_app.config import KioskConfig
from kiosk_app.errors import AssistantUnavailableError, VoiceInputError, VoiceUnavailableError

if TYPE_CHECKING:
    from assistant.context import AppContext
    from assistant.dialogue.engine import DialogueEngine
    from assistant.settings import Settings
    from assistant.speech import SpeechInput

log = logging.getLogger(__name__)

CHANNEL = "kiosk"
KIOSK_BULLETINS_PATH = "/api/v1/kiosk/bulletins"  # the device token decides the community
PUBLIC_BULLETINS_PATH = "/api/v1/bulletins"  # ?community=CODE, for a kiosk without a token
BULLETINS_TIMEOUT_SECONDS = 5.0
ASR_TIMEOUT_SECONDS = 20.0  # upload plus recognition of up to 15 s of speech on a busy server
MAX_ALTERNATIVES = 3


@dataclass(frozen=True)
class Heard:
    """What the recogniser made of the resident's words: the best reading and up to three others."""

    text: str
    alternatives: tuple[str, ...] = ()
    language: str = "zh"


def heard(text: str, alternatives: Any, language: str) -> Heard:
    """A reading as the kiosk shows it: no U+FFFD (Whisper now and then ends on half a character), the text not
    repeated among the others, at most three others."""
    best = text.replace("\ufffd", "").strip()
    others: list[str] = []
    for other in alternatives or ():
        other = other.replace("\ufffd", "").strip() if isinstance(other, str) else ""
        if other and other != best and other not in others:
            others.append(other)
    if not best:
        raise VoiceInputError("nothing recognised", message_zh=NoSpeechError.resident_message)
    return Heard(best[:MAX_TEXT_CHARS], tuple(others[:MAX_ALTERNATIVES]), language)


def transcribe_with(speech: SpeechInput, samples: np.ndarray, language: str) -> Heard:
    """The in-process recogniser, its errors turned into the kiosk's."""
    try:
        transcript = speech.transcribe_samples(samples, language=language)
    except AudioError as e:
        raise VoiceInputError(type(e).__name__, message_zh=e.resident_message) from e
    except AsrUnavailableError as e:
        log.warning("speech recogniser unavailable: %s", e)
        raise VoiceUnavailableError("recogniser unavailable") from e
    except ValueError as e:  # an unknown language: a kiosk bug, said as "not heard"
        raise VoiceInputError(str(e)) from e
    except Exception as e:
        log.exception("the speech recogniser failed")
        raise VoiceInputError(f"recogniser error: {type(e).__name__}") from e
    return heard(transcript.text, transcript.alternatives, transcript.language)


class AssistantClient(ABC):
    # The community this kiosk's new conversations belong to: from the server's configuration (heartbeat).
    community: str | None = None

    def use_community(self, code: str | None) -> None:
        """Set by the heartbeat thread; read by the next turn (one attribute: no lock needed)."""
        self.community = code or None

    @abstractmethod
    def chat(self, session_id: str | None, text: str) -> ChatResponse:
        """One turn; raises ``AssistantUnavailableError``."""

    @abstractmethod
    def catalog(self) -> Catalog:
        """Categories and questions for the tiles (cached; cheap after the first call)."""

    def warm_up(self) -> None:  # noqa: B027 - optional for clients with nothing to load
        """Load models and indexes now so that the first resident does not wait."""

    def transcribe(self, session_id: str | None, samples: np.ndarray, language: str) -> Heard:
        """16 kHz mono float32 audio → text; raises ``VoiceInputError`` / ``VoiceUnavailableError``."""
        raise VoiceUnavailableError("this assistant client has no speech input")

    def speech_ready(self) -> bool:
        """Whether speech input can work (loads the recogniser's model now); False hides 按住说话."""
        return False

    supports_bulletins = False  # notices and warnings can be fetched (the app polls them)

    def bulletins(self, etag: str | None) -> BulletinFetch:
        """This kiosk's community notices and warnings (the read model's JSON), or ``not_modified`` when the
        revision is still ``etag``; raises ``AssistantUnavailableError``."""
        raise AssistantUnavailableError("this assistant client has no bulletins")

    def status_link(self, session_id: str | None, number: str) -> str | None:
        """The status page's link with its token, for the receipt's QR code; None when there is none (no public
        address configured, the server unreachable): the receipt is then printed without it."""
        return None

    def close(self) -> None:  # noqa: B027
        pass


def _check_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise AssistantUnavailableError("empty text", message_zh="请点一个问题。")
    return text[:MAX_TEXT_CHARS]


class InProcessAssistantClient(AssistantClient):
    """The dialogue engine in this process; the application context is built on first use."""

    def __init__(self, settings: Settings, home_codes: tuple[str, ...] = (), context: AppContext | None = None,
                 engine: DialogueEngine | None = None, speech: SpeechInput | None = None) -> None:
        self.settings = settings
        self.home_codes = home_codes
        self._context = context
        self._owns_context = context is None
        self._engine = engine
        self._speech = speech  # default: the context's (one recogniser for the process)
        self._catalog: Catalog | None = None
        self._catalog_revision: int | None = None
        self._lock = threading.RLock()

    def _ready(self) -> DialogueEngine:
        with self._lock:
            if self._engine is None:
                from assistant.context import create_context
                from assistant.dialogue.factory import build_engine

                try:
                    if self._context is None:
                        self._context = create_context(self.settings)
                    self._engine = build_engine(self._context)
                except Exception as e:
                    log.exception("the in-process assistant could not start")
                    raise AssistantUnavailableError(f"assistant start-up failed: {type(e).__name__}") from e
            return self._engine

    @property
    def context(self) -> AppContext:
        self._ready()
        assert self._context is not None
        return self._context

    def warm_up(self) -> None:
        engine = self._ready()
        engine.classifier.classify("你好")  # trains or loads the intent model
        self.catalog()

    def chat(self, session_id: str | None, text: str) -> ChatResponse:
        engine = self._ready()
        request = ChatRequest(session_id=session_id, text=_check_text(text), channel=CHANNEL,
                              community=self.community)
        try:
            return engine.handle(request)
        except Exception as e:
            # A bug or a database problem must leave the resident with a sentence, not a frozen screen.
            log.exception("the assistant failed on a kiosk turn")
            raise AssistantUnavailableError(f"engine error: {type(e).__name__}") from e

    def speech_input(self) -> SpeechInput:
        return self._speech if self._speech is not None else self.context.speech

    def speech_ready(self) -> bool:
        try:
            speech = self.speech_input()
            if not speech.enabled:
                return False
            speech.recognizer.load()
        except (AsrUnavailableError, AssistantUnavailableError) as e:
            log.warning("no speech input on this kiosk: %s (shequ asr install puts the model in place)", e)
            return False
        except Exception as e:
            log.error("the speech recogniser could not load: %s", type(e).__name__)
            return False
        return True

    def transcribe(self, session_id: str | None, samples: np.ndarray, language: str) -> Heard:
        return transcribe_with(self.speech_input(), samples, language)

    def status_link(self, session_id: str | None, number: str) -> str | None:
        from assistant.auth.secret import server_secret
        from assistant.handoff.queries import status_path
        from assistant.handoff.tickets import owner_session
        from assistant.storage.db import session_scope

        base = self.settings.public_base_url.strip().rstrip("/")
        if not base or not session_id:
            return None
        with session_scope(self.context.sessions) as db:
            if owner_session(db, number) != session_id:  # only the order this resident just made
                return None
        return base + status_path(server_secret(self.settings), number)

    supports_bulletins = True

    def bulletins(self, etag: str | None) -> BulletinFetch:
        try:
            body = self.context.bulletins.for_community(self.community)
        except AssistantUnavailableError:
            raise
        except Exception as e:
            raise AssistantUnavailableError(f"bulletins failed: {type(e).__name__}") from e
        revision = body.get("revision") if isinstance(body, dict) else None
        if etag is not None and revision == etag:
            return BulletinFetch(etag=etag, not_modified=True)
        return BulletinFetch(body, revision if isinstance(revision, str) else None)

    def catalog(self) -> Catalog:
        knowledge = self.context.kb.current()
        with self._lock:
            if self._catalog is None or self._catalog_revision != knowledge.revision:
                self._catalog = Catalog(knowledge.entries.values(), knowledge.profile, home_codes=self.home_codes)
                self._catalog_revision = knowledge.revision
            return self._catalog

    def close(self) -> None:
        if self._owns_context and self._context is not None:
            self._context.close()
            self._context = None
            self._engine = None


class HttpAssistantClient(AssistantClient):
    """``POST {url}/api/v1/chat`` with httpx; the catalog comes from the KB files shipped with this install."""

    def __init__(self, base_url: str, settings: Settings, *, timeout: float = 8.0,
                 home_codes: tuple[str, ...] = (), transport: Any = None, kiosk_token: str = "") -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        # A registered kiosk's turns go to /api/v1/kiosk/chat with its token: the server files them under the
        # token's community (a body field alone would let anyone claim to be any community's kiosk).
        self._chat_path = "/api/v1/kiosk/chat" if kiosk_token else "/api/v1/chat"
        self._chat_headers = {"Authorization": f"Bearer {kiosk_token}"} if kiosk_token else {}
        self._has_token = bool(kiosk_token)
        self.settings = settings
        self.home_codes = home_codes
        self.timeout = timeout
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport,
                                  headers={"User-Agent": "shequ-kiosk"})
        self._catalog: Catalog | None = None
        self._lock = threading.Lock()

    def chat(self, session_id: str | None, text: str) -> ChatResponse:
        import httpx

        body = {"session_id": session_id, "text": _check_text(text), "channel": CHANNEL,
                **({"community": self.community} if self.community else {})}
        try:
            response = self._http.post(self._chat_path, json=body, headers=self._chat_headers)
        except httpx.HTTPError as e:
            log.warning("assistant server %s unreachable: %s", self.base_url, type(e).__name__)
            raise AssistantUnavailableError(f"server unreachable: {type(e).__name__}") from e
        if response.status_code != 200:
            log.warning("assistant server answered HTTP %d", response.status_code)
            raise AssistantUnavailableError(f"server answered HTTP {response.status_code}")
        try:
            return ChatResponse.model_validate(response.json())
        except (ValueError, ValidationError) as e:
            raise AssistantUnavailableError("server sent a reply the kiosk cannot read") from e

    def speech_ready(self) -> bool:
        """``GET /api/v1/asr``: whether the central server takes spoken questions (``{"enabled": …}``)."""
        import httpx

        try:
            response = self._http.get("/api/v1/asr")
            enabled = response.status_code == 200 and response.json().get("enabled") is True
        except (httpx.HTTPError, ValueError, AttributeError) as e:
            log.warning("speech input status unknown: %s", type(e).__name__)
            return False
        if not enabled:
            log.info("the assistant server takes no spoken questions (HTTP %d)", response.status_code)
        return enabled

    def transcribe(self, session_id: str | None, samples: np.ndarray, language: str) -> Heard:
        """``POST /api/v1/asr?language=…&session_id=…`` with the recording as a WAV body."""
        import httpx

        from kiosk_app.pcm import wav_bytes

        params = {"language": language, **({"session_id": session_id} if session_id else {})}
        body = wav_bytes(pcm16_bytes(samples))
        try:
            response = self._http.post("/api/v1/asr", params=params, content=body,
                                       headers={"Content-Type": "audio/wav"},
                                       timeout=max(self.timeout, ASR_TIMEOUT_SECONDS))
        except httpx.HTTPError as e:
            log.warning("assistant server %s unreachable for speech: %s", self.base_url, type(e).__name__)
            raise VoiceInputError(f"server unreachable: {type(e).__name__}",
                                  message_zh=AssistantUnavailableError.default_message_zh) from e
        status = response.status_code
        if status == 200:
            return _heard_from(response, language)
        code, message = _error_of(response)
        log.warning("speech input: the server answered HTTP %d (%s)", status, code or "-")
        if status in (404, 405, 501, 503):  # no recogniser there (or a server from before speech input)
            raise VoiceUnavailableError(f"server answered HTTP {status}")
        # The server's sentences are written for the web chat (they suggest typing, which a kiosk has none
        # of): the kiosk says its own for the refusals it knows, the server's for anything else.
        words = REFUSALS.get(code or "") or message or REFUSALS_BY_STATUS.get(status) or (
            AudioError.resident_message if status < 500 else AssistantUnavailableError.default_message_zh)
        raise VoiceInputError(f"server answered HTTP {status}", message_zh=words)

    def status_link(self, session_id: str | None, number: str) -> str | None:
        import httpx

        if not session_id:
            return None
        try:
            response = self._http.get(f"/api/v1/sessions/{quote(session_id, safe='')}/orders/"
                                      f"{quote(number, safe='')}/link")
            url = response.json().get("url") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError) as e:
            log.warning("no status link for the receipt: %s", type(e).__name__)
            return None
        return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None

    supports_bulletins = True

    def bulletins(self, etag: str | None) -> BulletinFetch:
        """``GET /api/v1/kiosk/bulletins`` with the token (``/api/v1/bulletins?community=`` without one) and
        ``If-None-Match``; a 304 is ``not_modified``."""
        import httpx

        headers = dict(self._chat_headers)
        if etag:
            headers["If-None-Match"] = etag
        path, params = KIOSK_BULLETINS_PATH, {}
        if not self._has_token:
            path, params = PUBLIC_BULLETINS_PATH, ({"community": self.community} if self.community else {})
        try:
            response = self._http.get(path, params=params, headers=headers,
                                      timeout=min(self.timeout, BULLETINS_TIMEOUT_SECONDS))
        except httpx.HTTPError as e:
            raise AssistantUnavailableError(f"server unreachable: {type(e).__name__}") from e
        if response.status_code == 304:
            return BulletinFetch(etag=etag, not_modified=True)
        if response.status_code != 200:
            raise AssistantUnavailableError(f"server answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as e:
            raise AssistantUnavailableError("server sent bulletins the kiosk cannot read") from e
        return BulletinFetch(body, response.headers.get("ETag"))

    def catalog(self) -> Catalog:
        with self._lock:
            if self._catalog is None:
                self._catalog = Catalog.from_directory(self.settings.kb_data_dir, self.settings.community_profile,
                                                       home_codes=self.home_codes)
            return self._catalog

    def warm_up(self) -> None:
        self.catalog()

    def close(self) -> None:
        self._http.close()


_CJK = re.compile(r"[\u4e00-\u9fff]")
MAX_SERVER_MESSAGE_CHARS = 60


# ``POST /api/v1/asr`` refusals (``error.code``, else the status) in the kiosk's words.
REFUSALS = {
    "no_speech": NoSpeechError.resident_message,
    "audio_too_large": AudioTooLongError.resident_message,
    "undecodable_audio": AudioDecodeError.resident_message,
    "unsupported_media_type": AudioDecodeError.resident_message,
    "too_many_recordings": texts.VOICE_TOO_OFTEN,
    # The kiosk's own mistakes (a language or body it should not send), or an upload cut off: say it again.
    "invalid_language": AudioError.resident_message,
    "missing_audio": AudioError.resident_message,
    "bad_multipart": AudioError.resident_message,
    "client_disconnected": AudioError.resident_message,
}
REFUSALS_BY_STATUS = {
    413: AudioTooLongError.resident_message,
    422: NoSpeechError.resident_message,
    429: texts.VOICE_TOO_OFTEN,
}


def _error_of(response: Any) -> tuple[str | None, str | None]:
    """(``error.code``, the Chinese sentence) of an API error body (``{"error": {"code", "message_zh"}}``, or
    ``{"detail"}``), each ``None`` when absent."""
    try:
        body = response.json()
    except ValueError:
        return None, None
    code = None
    candidates: list[Any] = []
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            code = error.get("code") if isinstance(error.get("code"), str) else None
            candidates += [error.get("message_zh"), error.get("message")]
        candidates += [body.get("message_zh"), body.get("detail"), body.get("message")]
    for candidate in candidates:
        if isinstance(candidate, str) and _CJK.search(candidate):
            # "中文 / English" bodies: the Chinese half only.
            return code, candidate.split(" / ")[0].strip()[:MAX_SERVER_MESSAGE_CHARS]
    return code, None


def _heard_from(response: Any, language: str) -> Heard:
    try:
        body = response.json()
        text = body["text"]
        alternatives = body.get("alternatives") or []
        if not isinstance(text, str) or not isinstance(alternatives, list):
            raise TypeError("unexpected types")
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise VoiceInputError("server sent a speech reply the kiosk cannot read") from e
    reply_language = body.get("language") if isinstance(body.get("language"), str) else language
    return heard(text, alternatives, reply_language)


def create_client(config: KioskConfig, settings: Settings) -> AssistantClient:
    if config.in_process:
        return InProcessAssistantClient(settings, config.home_categories)
    return HttpAssistantClient(config.assistant_url, settings, timeout=config.assistant_timeout,
                               home_codes=config.home_categories, kiosk_token=config.kiosk_token)
