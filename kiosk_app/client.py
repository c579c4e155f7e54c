"""The seam between the kiosk and the assistant: in this process, or the central server over HTTP.

``create_client(config, settings)`` picks one: an empty ``SHEQU_KIOSK_ASSISTANT_URL`` runs the dialogue
engine in-process (one kiosk, its own SQLite database), a URL sends every turn to ``POST /api/v1/chat`` of the
central server (many kiosks, one database, staff see everything in one console). Both return the
``ChatResponse`` of the chat API contract and raise :class:`AssistantUnavailableError` (with a sentence for
the resident) instead of anything else. Calls block: the controller runs them off the UI thread.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import ValidationError

from assistant.dialogue.schemas import MAX_TEXT_CHARS, ChatRequest, ChatResponse
from kiosk_app.catalog import Catalog
from kiosk_app.config import KioskConfig
from kiosk_app.errors import AssistantUnavailableError

if TYPE_CHECKING:
    from assistant.context import AppContext
    from assistant.dialogue.engine import DialogueEngine
    from assistant.settings import Settings

log = logging.getLogger(__name__)

CHANNEL = "kiosk"


class AssistantClient(ABC):
    @abstractmethod
    def chat(self, session_id: str | None, text: str) -> ChatResponse:
        """One turn; raises ``AssistantUnavailableError``."""

    @abstractmethod
    def catalog(self) -> Catalog:
        """Categories and questions for the tiles (cached; cheap after the first call)."""

    def warm_up(self) -> None:  # noqa: B027 - optional for clients with nothing to load
        """Load models and indexes now so that the first resident does not wait."""

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
                 engine: DialogueEngine | None = None) -> None:
        self.settings = settings
        self.home_codes = home_codes
        self._context = context
        self._owns_context = context is None
        self._engine = engine
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
        request = ChatRequest(session_id=session_id, text=_check_text(text), channel=CHANNEL)
        try:
            return engine.handle(request)
        except Exception as e:
            # A bug or a database problem must leave the resident with a sentence, not a frozen screen.
            log.exception("the assistant failed on a kiosk turn")
            raise AssistantUnavailableError(f"engine error: {type(e).__name__}") from e

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
                 home_codes: tuple[str, ...] = (), transport: Any = None) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        self.settings = settings
        self.home_codes = home_codes
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport,
                                  headers={"User-Agent": "shequ-kiosk"})
        self._catalog: Catalog | None = None
        self._lock = threading.Lock()

    def chat(self, session_id: str | None, text: str) -> ChatResponse:
        import httpx

        body = {"session_id": session_id, "text": _check_text(text), "channel": CHANNEL}
        try:
            response = self._http.post("/api/v1/chat", json=body)
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


def create_client(config: KioskConfig, settings: Settings) -> AssistantClient:
    if config.in_process:
        return InProcessAssistantClient(settings, config.home_categories)
    return HttpAssistantClient(config.assistant_url, settings, timeout=config.assistant_timeout,
                               home_codes=config.home_categories)
