"""The Rasa HTTP classifier against a fake Rasa server (a real socket) and a mock transport."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from intents import FALLBACK_INTENT, FallbackThresholds, RasaResponseError, RasaUnavailableError
from intents.rasa_http import RasaHttpClassifier


def rasa_body(text: str, ranking: list[tuple[str, float]], entities: list[dict] | None = None,
              fallback: bool = False) -> dict[str, Any]:
    rows = [{"name": n, "confidence": c} for n, c in ranking]
    intent = rows[0]
    if fallback:  # what Rasa's FallbackClassifier does to the response
        intent = {"name": "nlu_fallback", "confidence": 0.45}
        rows = [intent, *rows]
    return {"text": text, "intent": intent, "entities": entities or [], "intent_ranking": rows}


def fake_rasa_app() -> FastAPI:
    app = FastAPI()
    app.state.seen = []

    @app.post("/model/parse")
    async def parse(request: Request) -> Any:
        if request.query_params.get("token", "secret") != "secret":
            return JSONResponse({"status": "failure", "reason": "NotAuthenticated"}, status_code=401)
        text = (await request.json())["text"]
        app.state.seen.append(text)
        if text == "慢":
            await asyncio.sleep(1.0)
        if text == "坏":
            return JSONResponse({"status": "failure"}, status_code=500)
        if text == "乱":
            return PlainTextResponse("<html>oops</html>")
        if text.startswith("低保"):
            return rasa_body(text, [("ask_service", 0.93), ("out_of_scope", 0.04)],
                             [{"entity": "service", "start": 0, "end": 2, "value": "低保",
                               "extractor": "DIETClassifier"},
                              {"entity": "phone", "start": 0, "end": 2, "value": "低保"}])
        if text == "模糊":
            return rasa_body(text, [("greet", 0.40), ("thanks", 0.38)], fallback=True)
        return rasa_body(text, [("greet", 0.88), ("thanks", 0.07)])

    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def rasa_server() -> Iterator[tuple[str, FastAPI]]:
    app = fake_rasa_app()
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("fake Rasa server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(timeout=5)


def test_parse_result_mapped(rasa_server: tuple[str, FastAPI]) -> None:
    url, app = rasa_server
    with RasaHttpClassifier(url, token="secret") as classifier:
        result = classifier.classify("低保怎麼申請，我住青秀區")
    assert result.name == "ask_service" and result.confidence == pytest.approx(0.93)
    assert result.ranking[:2] == [("ask_service", 0.93), ("out_of_scope", 0.04)]
    # Text is normalised before sending (繁→简), as the exported training data is.
    assert app.state.seen[-1] == "低保怎么申请,我住青秀区"
    kinds = {e.type: e for e in result.entities}
    assert kinds["service"].value == "低保" and kinds["service"].extra["extractor"] == "DIETClassifier"
    assert kinds["district"].value == "青秀区"  # our extractor, not Rasa's
    assert "phone" not in kinds  # Rasa's unvalidated guess for a type we extract ourselves is dropped


def test_rasa_fallback_kept_with_real_ranking(rasa_server: tuple[str, FastAPI]) -> None:
    url, _ = rasa_server
    classifier = RasaHttpClassifier(url + "/model/parse")
    result = classifier.classify("模糊")
    assert result.name == FALLBACK_INTENT and result.fallback_reason == "low_confidence"
    assert [n for n, _ in result.ranking] == ["greet", "thanks"]


def test_our_thresholds_apply_too(rasa_server: tuple[str, FastAPI]) -> None:
    url, _ = rasa_server
    strict = RasaHttpClassifier(url, thresholds=FallbackThresholds(0.95, 0.0))
    result = strict.classify("你好")
    assert result.name == FALLBACK_INTENT and result.top == ("greet", 0.88)


def test_server_error_falls_back_or_raises(rasa_server: tuple[str, FastAPI]) -> None:
    url, _ = rasa_server
    assert RasaHttpClassifier(url).classify("坏").fallback_reason == "error"
    with pytest.raises(RasaResponseError, match="HTTP 500"):
        RasaHttpClassifier(url, raise_on_error=True).classify("坏")
    with pytest.raises(RasaResponseError, match="not JSON"):
        RasaHttpClassifier(url, raise_on_error=True).classify("乱")
    with pytest.raises(RasaResponseError, match="HTTP 401"):
        RasaHttpClassifier(url, token="wrong", raise_on_error=True).classify("你好")


def test_timeout(rasa_server: tuple[str, FastAPI]) -> None:
    url, _ = rasa_server
    started = time.perf_counter()
    result = RasaHttpClassifier(url, timeout=0.2).classify("慢")
    assert result.name == FALLBACK_INTENT and result.fallback_reason == "error"
    assert time.perf_counter() - started < 0.9
    with pytest.raises(RasaUnavailableError, match="timed out"):
        RasaHttpClassifier(url, timeout=0.2, raise_on_error=True).classify("慢")


def test_unreachable_server() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    assert RasaHttpClassifier(url, timeout=0.5).classify("你好").fallback_reason == "error"
    with pytest.raises(RasaUnavailableError, match="unreachable"):
        RasaHttpClassifier(url, timeout=0.5, raise_on_error=True).classify("你好")


def test_empty_text_not_sent() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=rasa_body("", [("greet", 1.0)]))

    classifier = RasaHttpClassifier("http://rasa", transport=httpx.MockTransport(handler))
    assert classifier.classify("😀").fallback_reason == "empty"
    assert classifier.classify(None).name == FALLBACK_INTENT  # type: ignore[arg-type]
    assert calls == []


@pytest.mark.parametrize("body", [
    {"text": "x"},
    {"intent": "greet"},
    {"intent": {"name": "greet", "confidence": "high"}, "intent_ranking": []},
    {"intent": {"name": "greet", "confidence": 0.9}, "intent_ranking": [{"name": "greet"}]},
    {"intent": {"name": "greet", "confidence": 0.9}, "entities": [{"value": 1}]},
    [1, 2, 3],
])
def test_malformed_bodies(body: Any) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=json.dumps(body)))
    assert RasaHttpClassifier("http://rasa", transport=transport).classify("你好").fallback_reason == "error"
    with pytest.raises(RasaResponseError):
        RasaHttpClassifier("http://rasa", transport=transport, raise_on_error=True).classify("你好")


def test_minimal_body_without_ranking() -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, json={"intent": {"name": "thanks", "confidence": 0.97}}))
    result = RasaHttpClassifier("http://rasa", transport=transport).classify("谢谢")
    assert (result.name, result.ranking) == ("thanks", [("thanks", 0.97)])


def test_train_is_a_no_op() -> None:
    assert RasaHttpClassifier("http://rasa").train({"ask_service": ["x"]}) is None
