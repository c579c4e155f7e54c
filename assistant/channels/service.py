"""One callback from request to reply: check, dedupe, answer in time or later through the outbox.

WeChat waits 5 seconds for a passive reply and then retries (three times in all). The dialogue runs in a
thread; the request waits for it up to ``channel_reply_budget_seconds``. A reply ready by then is
returned passively; otherwise the request answers "success" (empty) at once and the reply, when it comes,
goes to the outbox. Which of the two happens is decided under one lock, so a reply is never sent both
ways nor lost between them.

A voice message that WeChat recognised itself (``Recognition``) is its text. Without one, the dialogue thread
fetches the audio by MediaId through the account's API client and runs the process's one recogniser
(``context.speech``) on it, then answers with what it heard first (personal data masked) and the reply; when
that cannot be done (voice off, no model, no secret to fetch with, an unusable clip) the resident gets a
plain line asking to type or send again. The audio stays in memory; only durations and lengths are logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor

import httpx

from accessibility.asr import Transcript
from accessibility.audio_input import MAX_AUDIO_BYTES
from accessibility.errors import AsrError, AudioError, AudioTooLongError
from assistant.auth.secret import server_secret
from assistant.channels import ChannelNotConfigured, MediaError, protocol, store, subscribers
from assistant.channels import formatting as fmt
from assistant.channels.api_client import CustomerServiceSender
from assistant.channels.config import AccountConfig, load_accounts
from assistant.channels.outbox import ChannelReplies
from assistant.channels.replay import ReplayError, ReplayGuard
from assistant.communities.scope import channel_community
from assistant.context import AppContext
from assistant.dialogue.engine import DialogueEngine
from assistant.dialogue.schemas import MAX_TEXT_CHARS, ChatRequest
from assistant.dialogue.turn_store import derived_session_id, ensure_session
from assistant.handoff.outbox import Backoff
from assistant.security.crypto import PersonalDataCipher
from assistant.speech import SpeechInput
from assistant.storage.db import session_scope
from pii import mask_text

log = logging.getLogger(__name__)
SESSION_PREFIX = {"wechat": "wx-", "wecom": "wc-"}  # which channel a session came from, at a glance

DIALOGUE_THREADS = 8
# Old dedupe rows and used nonces are pruned this often, by whichever dialogue thread comes by (the daily
# retention purge is the backstop); the outbox's finished rows are the retention purge's.
HOUSEKEEPING_SECONDS = 3600.0


class _PendingReply:
    """The hand-over between the dialogue thread and the waiting request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._text: str | None = None
        self._late = False

    def finish(self, text: str) -> bool:
        """Offers the reply; ``True`` when the request has stopped waiting (send it later instead)."""
        with self._lock:
            if self._late:
                return True
            self._text = text
            return False

    def take(self) -> str | None:
        """The reply if ready; otherwise closes the passive window and returns ``None``."""
        with self._lock:
            if self._text is None:
                self._late = True
            return self._text


class ChannelService:
    def __init__(self, context: AppContext, *, speech: SpeechInput | None = None,
                 http: httpx.Client | None = None) -> None:
        self.context = context
        self._speech = speech  # None: the context's (the process's one recogniser), looked up when needed
        settings = context.settings
        self.accounts, self.disabled = load_accounts(settings)
        self.budget = max(0.0, settings.channel_reply_budget_seconds)
        self.replay = ReplayGuard(context.sessions, settings.channel_callback_window_seconds)
        cipher = PersonalDataCipher.from_settings(settings.encryption_key, settings.var_dir)
        self._cipher = cipher
        self._http = http or httpx.Client()
        self._owns_http = http is None
        self.senders = {kind: CustomerServiceSender(account, context.sessions, cipher, self._http)
                        for kind, account in self.accounts.items()}
        # Late replies go to the one outbox; retries are the one drain's (``OrdersWorker.run_once``).
        backoff = Backoff(settings.outbox_backoff_seconds, settings.outbox_backoff_max_seconds,
                          settings.outbox_max_attempts)
        self.outbox = ChannelReplies(context.sessions, cipher, self.senders, backoff)
        self._executor = ThreadPoolExecutor(DIALOGUE_THREADS, thread_name_prefix="channel-dialogue")
        self._session_locks: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
        self._locks_guard = threading.Lock()
        self._housekeeping_guard = threading.Lock()
        self._housekeeping_at = time.monotonic()
        for kind, reason in self.disabled.items():
            log.info("channel %s is off: %s", kind, reason)
        for kind, account in self.accounts.items():
            if not account.can_send:
                log.warning("channel %s: no secret/agent id, answers later than %.1f s cannot be delivered",
                            kind, self.budget)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=False)
        if self._owns_http:
            self._http.close()

    @property
    def speech(self) -> SpeechInput:
        return self._speech if self._speech is not None else self.context.speech

    def _maybe_housekeeping(self) -> None:
        with self._housekeeping_guard:
            if time.monotonic() - self._housekeeping_at < HOUSEKEEPING_SECONDS:
                return
            self._housekeeping_at = time.monotonic()
        try:
            store.prune_inbound(self.context.sessions)
            self.replay.prune()
        except Exception as e:  # the database may be briefly away: next hour then
            log.error("channel housekeeping: %s", type(e).__name__)

    def account(self, kind: str) -> AccountConfig:
        account = self.accounts.get(kind)
        if account is None:
            raise ChannelNotConfigured(self.disabled.get(kind, f"{kind} is not configured"))
        return account

    # --- the two callbacks ---
    def precheck(self, kind: str, query: Mapping[str, str]) -> None:
        """The cheap checks, before the body is read: signature where it does not cover the body, timestamp
        window, nonce not seen. Raises ``SignatureError`` (``ReplayError``) alike for all of them."""
        account = self.account(kind)
        timestamp, nonce = protocol.check_without_body(account, query)
        self.replay.check_fresh(timestamp, nonce)
        if self.replay.seen(kind, nonce):
            raise ReplayError("nonce already used")

    def verify(self, kind: str, query: Mapping[str, str]) -> str:
        self.precheck(kind, query)
        echo = protocol.verify_url(self.account(kind), query)
        self.replay.claim(kind, query.get("nonce", "").strip())
        return echo

    async def handle(self, kind: str, query: Mapping[str, str], body: bytes, engine: DialogueEngine) -> str:
        """The response body for one POSTed message. Raises ``ChannelError`` before any processing.
        ``precheck`` should have run before the body was read; the window is checked again here (no cost)
        and the nonce is claimed once the whole signature is known to be good."""
        account = self.account(kind)
        timestamp, nonce = protocol.check_without_body(account, query)
        self.replay.check_fresh(timestamp, nonce)
        inbound, reply_context = protocol.open_message(account, query, body)
        await asyncio.to_thread(self.replay.claim, kind, nonce)
        foreign_agent = inbound.agent_id is not None and inbound.agent_id != account.agent_id
        if account.kind == "wecom" and account.agent_id is not None and foreign_agent:
            log.info("wecom: message for another agent ignored")
            return protocol.empty_reply(account)
        session_id = self._session_id(account, inbound.sender)
        claim = await asyncio.to_thread(store.claim_inbound, self.context.sessions, kind, inbound.dedupe_key,
                                        session_id, inbound.msg_type)
        if not claim.new:
            log.info("%s: retried %s message answered once", kind, inbound.msg_type)
            if claim.status == "replied" and claim.reply_text:
                return protocol.render_reply(account, inbound, claim.reply_text, reply_context)
            return protocol.empty_reply(account)
        await asyncio.to_thread(self._record_subscriber, account, inbound)  # issue 17: who gets warnings

        text = self._text_for_dialogue(inbound)
        media_id = inbound.media_id if text is None and inbound.kind == "voice" else None
        if text is None and media_id is None:
            fixed = self._fixed_reply(inbound)
            await asyncio.to_thread(store.finish_inbound, self.context.sessions, claim.inbound_id,
                                    "replied" if fixed else "ignored", fixed)
            return protocol.render_reply(account, inbound, fixed, reply_context) if fixed \
                else protocol.empty_reply(account)

        pending = _PendingReply()
        future: Future[None]
        if media_id is not None:  # a voice message to hear first (fetch, recognise): in the dialogue thread too
            future = self._executor.submit(self._hear_and_converse, account, inbound.sender, session_id, media_id,
                                           engine, pending, claim.inbound_id)
        else:
            future = self._executor.submit(self._converse, account, inbound.sender, session_id, text or "", engine,
                                           pending, claim.inbound_id)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), self.budget)
        reply = pending.take()
        if reply is None:
            log.info("%s: answer not ready in %.1f s, it will go through the customer-service API", kind,
                     self.budget)
            return protocol.empty_reply(account)
        return protocol.render_reply(account, inbound, reply, reply_context)

    def _record_subscriber(self, account: AccountConfig, inbound: protocol.Inbound) -> None:
        """A subscribe, an unsubscribe or a message, for warning pushes (``subscribers``); a failure here is
        logged and never costs the resident the reply."""
        event = inbound.event if inbound.kind == "event" else None
        try:
            with session_scope(self.context.sessions) as db:
                subscribers.record_interaction(db, self.context.settings, self._cipher, account.kind,
                                               account.app_id, inbound.sender,
                                               channel_community(self.context, account.kind), event)
        except Exception as e:
            log.error("%s: could not record the subscriber: %s", account.kind, type(e).__name__)

    # --- what to say ---
    @staticmethod
    def _text_for_dialogue(inbound: protocol.Inbound) -> str | None:
        if inbound.kind == "text" or (inbound.kind == "voice" and inbound.text):
            return inbound.text or ""
        return None

    @staticmethod
    def _fixed_reply(inbound: protocol.Inbound) -> str | None:
        if inbound.kind == "voice":
            return fmt.VOICE_UNCLEAR
        if inbound.kind == "event":
            if inbound.event in fmt.SUBSCRIBE_EVENTS:
                return fmt.WELCOME
            if inbound.event in fmt.SILENT_EVENTS:
                return None
        return fmt.UNSUPPORTED

    def _session_id(self, account: AccountConfig, user_id: str) -> str:
        """The user's chat session, keyed with the server secret (not the callback token, which the platform's
        admin console shows): WeCom UserIDs are often guessable (pinyin names, phone numbers)."""
        return derived_session_id(server_secret(self.context.settings), SESSION_PREFIX[account.kind],
                                  f"{account.kind}:{account.app_id}", user_id)

    def _session_lock(self, session_id: str) -> threading.Lock:
        with self._locks_guard:
            lock = self._session_locks.get(session_id)
            if lock is None:
                lock = threading.Lock()
                self._session_locks[session_id] = lock
            return lock

    def _converse(self, account: AccountConfig, user_id: str, session_id: str, text: str, engine: DialogueEngine,
                  pending: _PendingReply, inbound_id: int) -> None:
        """In a dialogue thread: one turn, then the reply passively or through the outbox."""
        reply = self._turn(account, session_id, text, engine)
        self._deliver(account, user_id, session_id, reply, pending, inbound_id)

    def _hear_and_converse(self, account: AccountConfig, user_id: str, session_id: str, media_id: str,
                           engine: DialogueEngine, pending: _PendingReply, inbound_id: int) -> None:
        """In a dialogue thread: a voice message heard, then answered like text (what was heard shown first)."""
        try:
            heard, failure = self._hear(account, media_id)
        except Exception as e:  # whatever went wrong, the resident gets a line, never silence
            log.error("%s: the voice message could not be heard: %s", account.kind, type(e).__name__)
            heard, failure = None, fmt.VOICE_UNAVAILABLE
        if heard is None:
            reply = failure
        else:
            answer = self._turn(account, session_id, heard.text, engine, list(heard.alternatives))
            reply = fmt.HEARD.format(text=mask_text(heard.text)) + "\n" + answer
        self._deliver(account, user_id, session_id, reply, pending, inbound_id)

    def _hear(self, account: AccountConfig, media_id: str) -> tuple[Transcript | None, str]:
        """The voice message's reading, or ``None`` and the line that tells the resident what to do instead."""
        speech = self.speech
        kind = account.kind
        if not speech.enabled:
            return None, fmt.VOICE_UNAVAILABLE
        try:
            speech.recognizer.load()  # no model here: say so before fetching audio for nothing
        except AsrError as e:
            log.warning("%s: voice message not heard, speech input unavailable: %s", kind, type(e).__name__)
            return None, fmt.VOICE_UNAVAILABLE
        sender = self.senders.get(kind)
        if sender is None:
            return None, fmt.VOICE_NOT_RECEIVED
        try:
            audio = sender.fetch_media(media_id, max_bytes=MAX_AUDIO_BYTES)
        except MediaError as e:
            log.info("%s: voice message not fetched: %s", kind, e.reason)
            return None, fmt.VOICE_TOO_LONG if e.reason == "too_large" else fmt.VOICE_NOT_RECEIVED
        try:
            transcript = speech.transcribe_bytes(audio)
        except AudioTooLongError:
            return None, fmt.VOICE_TOO_LONG
        except AudioError as e:
            log.info("%s: voice message not understood: %s", kind, type(e).__name__)
            return None, fmt.VOICE_UNCLEAR
        except Exception as e:  # the engine failed (model broken, out of memory): the resident types instead
            log.error("%s: voice recognition failed: %s", kind, type(e).__name__)
            return None, fmt.VOICE_UNAVAILABLE
        log.info("%s: voice message of %d bytes, %.1f s heard as %d characters", kind, len(audio),
                 transcript.audio_seconds, len(transcript.text))
        return transcript, ""

    def _deliver(self, account: AccountConfig, user_id: str, session_id: str, reply: str, pending: _PendingReply,
                 inbound_id: int) -> None:
        sessions = self.context.sessions
        try:
            if pending.finish(reply):
                row_id = self.outbox.enqueue(account.kind, user_id, session_id, reply, inbound_id)
                store.finish_inbound(sessions, inbound_id, "queued")
                # This thread is not the request's: try at once; what fails waits for the worker's retry.
                self.outbox.send_now(row_id)
            else:
                store.finish_inbound(sessions, inbound_id, "replied", reply)
        except Exception as e:
            log.error("%s: could not record the reply: %s", account.kind, type(e).__name__)
        self._maybe_housekeeping()

    def _turn(self, account: AccountConfig, session_id: str, text: str, engine: DialogueEngine,
              alternatives: list[str] | None = None) -> str:
        stripped = text.strip()
        if not stripped:
            return fmt.EMPTY_TEXT
        if len(stripped) > MAX_TEXT_CHARS:
            return fmt.TOO_LONG
        # One turn at a time per resident, so a quick second message sees the first one's state.
        with self._session_lock(session_id):
            try:
                with session_scope(self.context.sessions) as db:  # the server-side path for derived ids
                    ensure_session(db, session_id, account.kind, channel_community(self.context, account.kind))
                payloads = store.load_menu(self.context.sessions, session_id)
                picked = fmt.pick_payload(stripped, payloads)
                message = picked or stripped
                # A spoken question's other readings are tried when the first finds nothing (not for a menu pick).
                others = [] if picked else [a for a in (alternatives or []) if a.strip()][:3]
                response = engine.handle(ChatRequest(session_id=session_id, text=message, channel=account.kind,
                                                     alternatives=others))
                reply, new_payloads = fmt.format_reply(response)
                store.save_menu(self.context.sessions, session_id, account.kind, new_payloads)
                return reply or fmt.BUSY
            except Exception as e:  # the resident gets a polite answer, never a silent drop
                log.error("%s: the dialogue failed: %s", account.kind, type(e).__name__)
                return fmt.BUSY
