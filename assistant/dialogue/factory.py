"""Builds the dialogue engine from an application context (settings, database, knowledge base)."""

from __future__ import annotations

import logging
import threading

from assistant.context import AppContext
from assistant.dialogue.engine import DialogueEngine
from assistant.kb_runtime import KnowledgeBaseProvider
from assistant.security.crypto import PersonalDataCipher
from intents.base import IntentClassifier, IntentResult
from intents.registry import IntentConfig, create_classifier

log = logging.getLogger(__name__)


class KbAwareClassifier:
    """Trains the intent classifier with the knowledge base's questions as extra ``ask_service`` data,
    and retrains when staff publish a new KB revision (the trained model is cached by data hash)."""

    def __init__(self, inner: IntentClassifier, kb: KnowledgeBaseProvider) -> None:
        self.inner = inner
        self.kb = kb
        self._revision: int | None = None
        self._lock = threading.Lock()

    def _ensure_trained(self) -> None:
        knowledge = self.kb.current()
        if self._revision == knowledge.revision:
            return
        with self._lock:
            if self._revision == knowledge.revision:
                return
            examples = [text for entry in knowledge.entries.values() for text in entry.searchable_texts()]
            self.inner.train({"ask_service": examples})
            self._revision = knowledge.revision

    def train(self, extra_examples=None):
        return self.inner.train(extra_examples)

    def classify(self, text: str) -> IntentResult:
        self._ensure_trained()
        return self.inner.classify(text)


def intent_config(context: AppContext) -> IntentConfig:
    settings = context.settings
    return IntentConfig(
        classifier=settings.intent_classifier,
        confidence_threshold=settings.intent_confidence_threshold,
        ambiguity_threshold=settings.intent_ambiguity_threshold,
        model_dir=settings.var_dir / "intents",
        rasa_url=settings.rasa_url,
    )


def build_engine(context: AppContext) -> DialogueEngine:
    classifier = KbAwareClassifier(create_classifier(intent_config(context)), context.kb)
    cipher = PersonalDataCipher.from_settings(context.settings.encryption_key, context.settings.var_dir)
    return DialogueEngine(context.settings, context.sessions, context.kb, classifier, cipher)
