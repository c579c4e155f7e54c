"""Builds the dialogue engine from an application context (settings, database, knowledge base)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from assistant.context import AppContext
from assistant.dialogue.engine import DialogueEngine
from assistant.dialogue.policy import PolicyThresholds
from assistant.dialogue.popularity import TopicPopularity
from assistant.dialogue.rules import is_emergency
from assistant.dialogue.understanding import Understanding
from assistant.handoff.live import HandoffService
from assistant.kb_runtime import KnowledgeBaseProvider
from intents.aspects import AspectRecognizer, LearnedAspectRecognizer
from intents.base import IntentClassifier, IntentResult
from intents.emergency import EmergencyExamples, LearnedEmergencyDetector, load_emergency_examples
from intents.errors import TrainingDataError
from intents.registry import IntentConfig, create_classifier
from intents.training_data import load_training_data
from knowledge_base.aspects import aspect_table
from knowledge_base.engine import DATA_DIR as SHIPPED_DATA_DIR
from knowledge_base.engine import KnowledgeBase
from knowledge_base.synonyms import load_synonyms

log = logging.getLogger(__name__)


class KbAwareClassifier:
    """Trains the intent classifier with the knowledge base's questions as extra ``ask_service`` data.

    The first training happens before the first answer. When staff publish a new KB revision, a fresh
    classifier trains in a background thread while residents keep being answered by the current one, and
    is swapped in when ready (the trained model is cached on disk by data hash, so other workers load it).
    """

    def __init__(self, factory: Callable[[], IntentClassifier], kb: KnowledgeBaseProvider) -> None:
        self.factory = factory
        self.inner = factory()
        self.kb = kb
        self._revision: int | None = None
        self._training_revision: int | None = None
        self._lock = threading.Lock()

    @staticmethod
    def _examples(knowledge: KnowledgeBase) -> dict[str, list[str]]:
        return {"ask_service": [t for entry in knowledge.entries.values() for t in entry.searchable_texts()]}

    def _ensure_trained(self) -> None:
        knowledge = self.kb.current()
        if self._revision == knowledge.revision:
            return
        with self._lock:
            if self._revision is None:
                self.inner.train(self._examples(knowledge))
                self._revision = knowledge.revision
                return
            if self._training_revision == knowledge.revision:
                return
            self._training_revision = knowledge.revision
        threading.Thread(target=self._retrain, args=(knowledge,), name="intent-retrain", daemon=True).start()

    def _retrain(self, knowledge: KnowledgeBase) -> None:
        try:
            fresh = self.factory()
            fresh.train(self._examples(knowledge))
        except Exception:
            log.exception("retraining the intent classifier failed; keeping the current model")
            with self._lock:
                self._training_revision = None
            return
        with self._lock:
            self.inner = fresh
            self._revision = knowledge.revision
        log.info("intent classifier retrained for knowledge-base revision %d", knowledge.revision)

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


def build_aspect_recognizer(context: AppContext) -> AspectRecognizer:
    """The learned recogniser, trained on the aspect table with the shipped service names in front."""
    synonyms_path = SHIPPED_DATA_DIR / "synonyms.yaml"
    names = load_synonyms(synonyms_path).canonical_terms() if synonyms_path.exists() else set()
    return LearnedAspectRecognizer.train(aspect_table().training_examples(), names,
                                         model_dir=context.settings.var_dir / "intents")


# KB categories whose questions may describe a danger (水漫进屋里了先做什么, 老人中暑了先做什么): not taught as
# "no emergency".
DANGER_CATEGORIES = frozenset({"anquan", "weijian"})


def emergency_negatives(knowledge: KnowledgeBase) -> list[str]:
    """The knowledge base's questions, which are service questions and not someone in danger — except those the
    emergency rules would flag (a story of a fall or a bleed told around a question, 生孩子大出血住院能报多少): taught
    as "no emergency", they would teach the detector to doubt the same words when someone is in danger now."""
    return [q for entry in knowledge.entries.values() if entry.category not in DANGER_CATEGORIES
            for q in entry.searchable_texts() if not is_emergency(q)]


def build_understanding(context: AppContext, thresholds: PolicyThresholds) -> Understanding:
    """Rules, intents, aspects and retrieval: the stages before the policy, each built once."""
    config = intent_config(context)
    classifier = KbAwareClassifier(lambda: create_classifier(config), context.kb)
    emergencies = LearnedEmergencyDetector.train(extra_negatives=emergency_negatives(context.kb.current()),
                                                 model_dir=context.settings.var_dir / "intents")
    popularity = TopicPopularity(context.sessions)
    phrasings = list(aspect_table().training_examples().values())
    calm = out_of_scope_examples()
    return Understanding(classifier, build_aspect_recognizer(context), emergencies, thresholds, popularity.counts,
                         phrasings, out_of_scope_examples=calm, emergency_examples=emergency_examples(calm))


def emergency_examples(calm: Sequence[str]) -> EmergencyExamples | None:
    """What the pretrained encoder compares a message about to get the scope message with (policy
    ``emergency_encoder_margin``): the emergency examples by kind against the file's examples of no emergency and
    the classifier's out-of-scope ones (``calm``), the messages that end there."""
    try:
        return EmergencyExamples.from_examples(load_emergency_examples(with_intents=False), calm)
    except TrainingDataError as exc:  # the detector reports it when it trains; here the reading is just skipped
        log.warning("emergency examples unavailable: %s", exc)
        return None


def out_of_scope_examples() -> list[str]:
    """The classifier's out-of-scope examples (比特币多少钱, 讲个笑话): what the pretrained encoder compares a message
    with when the classifier calls it out of scope but retrieval would answer (policy ``in_scope_margin``)."""
    try:
        return load_training_data(check=False).examples.get("out_of_scope", [])
    except TrainingDataError as exc:  # the classifier reports it when it trains; here the check is just skipped
        log.warning("out-of-scope examples unavailable: %s", exc)
        return []


def build_engine(context: AppContext) -> DialogueEngine:
    thresholds = PolicyThresholds.from_settings(context.settings)
    cipher = context.cipher
    return DialogueEngine(context.settings, context.sessions, context.kb, build_understanding(context, thresholds),
                          cipher, thresholds, events=context.events, communities=context.communities,
                          # issue 17: notices and warnings asked about in chat (the board is built on first use)
                          bulletins=lambda code: context.bulletins.for_community(code),
                          handoff=HandoffService(context.settings, cipher=cipher, events=context.events))
