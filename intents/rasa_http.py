"""An ``IntentClassifier`` that asks a running Rasa server (``POST /model/parse``).

The server is trained from the project exported by ``intents.export_rasa`` (``rasa train`` then
``rasa run --enable-api``). Text is normalised before it is sent, as the exported examples are.

Failures never surface as httpx exceptions: with ``raise_on_error`` they raise
``RasaUnavailableError`` / ``RasaResponseError``; by default they are logged and the turn gets an
``nlu_fallback`` result with ``fallback_reason="error"``, so a Rasa outage degrades to "please
rephrase / talk to a person" instead of a failed request. The message text is never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx

from intents.base import (
    FALLBACK_INTENT,
    Entity,
    ExtraExamples,
    FallbackThresholds,
    IntentResult,
    TrainSummary,
    apply_fallback,
    empty_result,
)
from intents.entities import extract_entities
from intents.errors import RasaResponseError, RasaServerError, RasaUnavailableError
from knowledge_base.normalize import normalize

log = logging.getLogger(__name__)

# Types our own extractors find and validate; Rasa's guesses for these are ignored.
_RULE_ENTITY_TYPES = frozenset(
    {"ticket_number", "phone", "id_number", "age", "date", "city", "district", "choice"}
)


class RasaHttpClassifier:
    """``IntentClassifier`` backed by a Rasa 3.x HTTP API."""

    name = "rasa"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 3.0,
        token: str | None = None,
        thresholds: FallbackThresholds | None = None,
        raise_on_error: bool = False,
        transport: httpx.BaseTransport | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        base = url.rstrip("/")
        if base.endswith("/model/parse"):
            base = base[: -len("/model/parse")]
        self.url = base
        self.thresholds = thresholds or FallbackThresholds()
        self.raise_on_error = raise_on_error
        self._today = today
        params = {"token": token} if token else None
        self._client = httpx.Client(base_url=base, timeout=timeout, transport=transport, params=params)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RasaHttpClassifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def train(self, extra_examples: ExtraExamples | None = None) -> TrainSummary | None:
        # The Rasa model is trained outside this process (rasa train on the exported project).
        if extra_examples:
            log.info("rasa classifier: %d extra example groups ignored; pass them to export_rasa_project",
                     len(extra_examples))
        return None

    def parse(self, normalized: str) -> dict[str, Any]:
        """The raw ``/model/parse`` JSON; raises ``RasaServerError`` subclasses."""
        try:
            response = self._client.post("/model/parse", json={"text": normalized})
        except httpx.TimeoutException as e:
            raise RasaUnavailableError(f"Rasa server at {self.url} timed out") from e
        except httpx.HTTPError as e:
            raise RasaUnavailableError(f"Rasa server at {self.url} unreachable: {type(e).__name__}") from e
        if response.status_code >= 400:
            raise RasaResponseError(f"Rasa server at {self.url} answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as e:
            raise RasaResponseError(f"Rasa server at {self.url} sent a body that is not JSON") from e
        if not isinstance(body, dict) or not isinstance(body.get("intent"), dict):
            raise RasaResponseError(f"Rasa server at {self.url} sent no intent in its parse result")
        return body

    def classify(self, text: str) -> IntentResult:
        if not isinstance(text, str):
            return empty_result()
        normalized = normalize(text)
        entities = extract_entities(normalized, today=self._today(), normalized=True)
        if not normalized:
            return empty_result(entities=entities)
        try:
            body = self.parse(normalized)
            return self._to_result(body, normalized, entities)
        except RasaServerError as e:
            if self.raise_on_error:
                raise
            log.warning("intent classification fell back: %s", e)
            return empty_result("error", entities)

    def _to_result(self, body: dict[str, Any], normalized: str, entities: list[Entity]) -> IntentResult:
        try:
            intent = body["intent"]
            name = str(intent.get("name") or FALLBACK_INTENT)
            confidence = float(intent.get("confidence") or 0.0)
            ranking = [
                (str(row["name"]), float(row["confidence"]))
                for row in body.get("intent_ranking") or []
                if row.get("name") and row["name"] != FALLBACK_INTENT
            ]
            extra = [_rasa_entity(row, normalized) for row in body.get("entities") or []]
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise RasaResponseError(f"Rasa server at {self.url} sent a malformed parse result") from e
        if not ranking and name != FALLBACK_INTENT:
            ranking = [(name, confidence)]
        ranking.sort(key=lambda item: -item[1])
        merged = entities + [
            e for e in extra
            if e is not None and all(e.end <= k.start or k.end <= e.start for k in entities)
        ]
        merged.sort(key=lambda e: (e.start, e.end))
        if name == FALLBACK_INTENT:
            # Rasa's own FallbackClassifier already decided; keep its verdict, explain it if we can.
            top = ranking[0] if ranking else (FALLBACK_INTENT, 0.0)
            probe = apply_fallback(IntentResult(top[0], top[1], ranking), self.thresholds)
            reason = probe.fallback_reason or "low_confidence"
            return IntentResult(FALLBACK_INTENT, confidence, ranking, merged, reason)
        top_confidence = ranking[0][1] if ranking else confidence
        return apply_fallback(IntentResult(ranking[0][0], top_confidence, ranking, merged), self.thresholds)


def _rasa_entity(row: dict[str, Any], normalized: str) -> Entity | None:
    entity_type = str(row["entity"])
    if entity_type in _RULE_ENTITY_TYPES:
        return None
    start, end = int(row.get("start", 0)), int(row.get("end", 0))
    if not 0 <= start <= end <= len(normalized):
        return None
    return Entity(entity_type, row.get("value"), normalized[start:end], start, end,
                  extra={"extractor": str(row.get("extractor", "rasa"))})
