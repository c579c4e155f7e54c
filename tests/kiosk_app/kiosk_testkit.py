"""Helpers for the kiosk tests: scripted assistant replies, a recording runner, Kivy set-up for GUI tests, and
for speech input a hand-cranked UI loop, sounds as WAV bytes and a microphone that breaks."""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from accessibility.audio_input import pcm16_bytes
from accessibility.errors import MicrophoneError
from assistant.dialogue.schemas import Button, ChatResponse, Reply, TicketInfo, TopicInfo
from assistant.speech import SpeechInput
from kiosk_app.catalog import Catalog
from kiosk_app.client import AssistantClient, Heard, transcribe_with
from kiosk_app.errors import VoiceUnavailableError
from kiosk_app.microphone import MicrophoneStream
from kiosk_app.pcm import wav_bytes
from kiosk_app.samples import room_hiss, voice_like


def write_kb_files(directory: Path, data: dict[str, Any]) -> Path:
    """The layout of ``knowledge_base/data`` (as the shared ``write_kb`` fixture writes it), for session use."""
    def dump(content: Any, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(content, allow_unicode=True, sort_keys=False), encoding="utf-8")

    for name, content in data["entries"].items():
        dump(content, directory / "entries" / name)
    dump({"synonyms": data["synonyms"]}, directory / "synonyms.yaml")
    dump(data["profile"], directory / "community_profile.example.yaml")
    return directory


def response(action: str = "answer", text: str = "好的。", *, buttons: list[tuple[str, str]] = (),
             topic: tuple[str, str] | None = None, aspect: str | None = None, ticket: str | None = None,
             speech: str | None = None, speech_rate: str = "normal", session_id: str = "s-1") -> ChatResponse:
    return ChatResponse(
        session_id=session_id, action=action,
        reply=Reply(text=text, speech=speech if speech is not None else text,
                    buttons=[Button(title=t, payload=p) for t, p in buttons], speech_rate=speech_rate),
        topic=TopicInfo(id=topic[0], title=topic[1], score=0.9) if topic else None, aspect=aspect,
        ticket=TicketInfo(number=ticket, status="排队中", department="社区") if ticket else None,
    )


class ScriptedClient(AssistantClient):
    """Answers each text with ``script(text)``; records what was sent. With ``speech``, recognises through it
    as the in-process client does."""

    def __init__(self, catalog: Catalog, script: Callable[[str], ChatResponse | Exception],
                 speech: SpeechInput | None = None) -> None:
        self._catalog = catalog
        self.script = script
        self.speech = speech
        self.sent: list[tuple[str | None, str]] = []
        self.heard_sessions: list[str | None] = []

    def speech_ready(self) -> bool:
        return self.speech is not None and self.speech.enabled

    def transcribe(self, session_id: str | None, samples: np.ndarray, language: str) -> Heard:
        if self.speech is None:
            raise VoiceUnavailableError("no speech input")
        self.heard_sessions.append(session_id)
        return transcribe_with(self.speech, samples, language)

    def chat(self, session_id: str | None, text: str) -> ChatResponse:
        self.sent.append((session_id, text))
        result = self.script(text)
        if isinstance(result, Exception):
            raise result
        return result

    def catalog(self) -> Catalog:
        return self._catalog


class DeferredRunner:
    """Keeps work until ``run_all``: lets a test end the visit while an answer is still on its way."""

    def __init__(self) -> None:
        self.pending: list[tuple[Callable[[], Any], Callable[[Any], None], Callable[[BaseException], None]]] = []

    def submit(self, work: Callable[[], Any], done: Callable[[Any], None],
               failed: Callable[[BaseException], None]) -> None:
        self.pending.append((work, done, failed))

    def run_all(self) -> None:
        while self.pending:
            work, done, failed = self.pending.pop(0)
            try:
                result = work()
            except Exception as e:
                failed(e)
            else:
                done(result)

    def shutdown(self) -> None:
        self.pending.clear()


class RecordingUi:
    """The controller's UiPort, recording what would be on screen."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, Any]] = []
        self.flashes: list[str] = []
        self.busy = False
        self.theme: tuple[str, bool] | None = None
        self.cleared = 0

    def show(self, screen: str, view: Any) -> None:
        self.shown.append((screen, view))

    def set_busy(self, busy: bool) -> None:
        self.busy = busy

    def flash(self, text: str) -> None:
        self.flashes.append(text)

    def apply_theme(self, theme_name: str, larger_text: bool) -> None:
        self.theme = (theme_name, larger_text)

    def clear_screens(self) -> None:
        self.cleared += 1

    @property
    def last(self) -> tuple[str, Any]:
        return self.shown[-1]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


_kivy_ready = False


def setup_kivy_for_tests() -> None:
    """Kivy on a hidden window (SDL offscreen unless a display is there), the CJK font registered.

    The environment was prepared by the package's conftest before anything imported Kivy."""
    global _kivy_ready
    if _kivy_ready:
        return
    from kiosk_app.config import KioskConfig
    from kiosk_app.kivy_setup import configure_kivy, prepare_environment, register_font

    prepare_environment(Path(os.environ["KIVY_HOME"]), headless=True)
    configure_kivy(KioskConfig(window_size=(1920, 1080)))
    register_font()
    _kivy_ready = True


# --- speech input ---

class ManualLoop:
    """Kivy's clock for controller tests: ``call_soon`` from any thread queues; ``run_until`` runs the queue on
    the test's thread until a condition holds."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], None]] = queue.Queue()

    def call_soon(self, fn: Callable[[], None]) -> None:
        self._queue.put(fn)

    def run_until(self, condition: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or condition}")
            try:
                callback = self._queue.get(timeout=0.01)
            except queue.Empty:
                continue
            callback()

    def drain(self, seconds: float = 0.3) -> None:
        """Run whatever arrives for ``seconds``."""
        deadline = time.monotonic() + seconds
        self.run_until(lambda: time.monotonic() > deadline, timeout=seconds + 5)


def as_wav(samples: np.ndarray) -> bytes:
    return wav_bytes(pcm16_bytes(samples))


def question_wav(seconds: float = 1.8) -> bytes:
    """A resident's question as the detector hears it: room, voice-like sound, room."""
    return as_wav(np.concatenate([room_hiss(0.4, seed=5), voice_like(seconds), room_hiss(0.4, seed=6)]))


def quiet_room_wav(seconds: float = 8.0) -> bytes:
    """Nobody speaking: a room's faint hiss (a real microphone is never digitally silent)."""
    return as_wav(room_hiss(seconds, seed=7))


def dead_input_wav(seconds: float = 2.0) -> bytes:
    """Digital silence: a muted or broken input."""
    return as_wav(np.zeros(int(seconds * 16_000), dtype=np.float32))


class UnpluggedMicrophone:
    """Was there when the kiosk looked, fails when opened (unplugged since)."""

    name = "unplugged"

    def __init__(self) -> None:
        self.opened = 0

    def available(self) -> bool:
        return self.opened == 0

    def open(self) -> MicrophoneStream:
        self.opened += 1
        raise MicrophoneError("device unavailable")
