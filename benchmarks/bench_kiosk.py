"""Kiosk benchmark: start-up time to the home screen, and time from a tap to the first spoken word.

Start-up: a fresh process runs ``KioskApp.run()`` (in-process assistant, the default speech engine) and reports
when the first frame with the home screen was drawn, and when the assistant had finished warming up (the
knowledge base, its index and the intent model loaded in the background). Times count from just before the
process was spawned, so interpreter start, imports and the window are included. The index and the intent
model are reused from ``var/`` when present (as on a kiosk that has run before); the database is fresh.

Tap to first word: in this process, on a hidden window, a real touch on a question button; measured until the
answer screen is up, until ``TtsEngine.speak`` is called, and until the first sentence has been synthesised by
espeak-ng (pyttsx3) and handed to the audio player — the moment the resident starts hearing it. The player
here records that moment instead of playing (this machine may have no sound card).

    .venv/bin/python benchmarks/bench_kiosk.py [--runs 5] [--startup-runs 3] [--engine pyttsx3|espeak]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [("养老服务", None), ("社会保险", None), ("医疗保障", None), ("医疗卫生", None), ("养老服务", 1)]


# --- start-up (child process) -------------------------------------------------------------------------------

def child_startup(t0: float, database_url: str) -> None:
    from assistant.settings import Settings
    from kiosk_app.config import config_from_settings
    from kiosk_app.main import setup_kivy

    settings = Settings(database_url=database_url)
    config = config_from_settings(settings, fullscreen=False)
    setup_kivy(config, settings, headless=True)
    from kivy.clock import Clock
    from kivy.core.window import Window

    from kiosk_app.app import KioskApp
    from kiosk_app.client import create_client

    marks: dict[str, float] = {}
    client = create_client(config, settings)
    warm_up = client.warm_up

    def timed_warm_up() -> None:
        warm_up()
        marks["assistant_ready"] = time.monotonic() - t0

    client.warm_up = timed_warm_up  # type: ignore[method-assign]
    app = KioskApp(config, settings, client=client)

    def on_flip(*_args: object) -> None:
        if "home" not in marks and app.ui is not None and app.ui.manager.current == "home":
            marks["home"] = time.monotonic() - t0

    def check(_dt: float) -> None:
        if "assistant_ready" in marks or time.monotonic() - t0 > 300:
            print(json.dumps(marks), flush=True)
            app.stop()

    Window.bind(on_flip=on_flip)
    Clock.schedule_interval(check, 0.05)
    app.run()


def measure_startup(runs: int) -> list[dict[str, float]]:
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="shequ-bench-kiosk-") as tmp:
            env = {**os.environ, "SDL_VIDEODRIVER": os.environ.get("SDL_VIDEODRIVER", "offscreen")}
            database_url = f"sqlite:///{Path(tmp, 'bench.db').as_posix()}"
            t0 = time.monotonic()
            out = subprocess.run([sys.executable, __file__, "--child-startup", repr(t0), database_url],
                                 capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
            lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
            if out.returncode != 0 or not lines:
                sys.exit(f"start-up run failed:\n{out.stderr[-2000:]}")
            results.append(json.loads(lines[-1]))
    return results


# --- tap to first spoken word (this process) ----------------------------------------------------------------

def measure_tap_to_speech(runs: int, engine_name: str) -> list[dict[str, float]]:
    from accessibility.tts_backends import AudioPlayer, EspeakSynthesizer, Pyttsx3Synthesizer
    from accessibility.tts_worker import ThreadedTtsEngine
    from assistant.settings import Settings
    from kiosk_app.config import config_from_settings
    from kiosk_app.main import setup_kivy

    class MomentPlayer(AudioPlayer):
        """Notes when audio would start; plays nothing."""

        def __init__(self) -> None:
            self.started: list[float] = []
            self.event = threading.Event()

        def play(self, path: Path, cancel: threading.Event) -> None:
            self.started.append(time.monotonic())
            self.event.set()

    tmp = tempfile.mkdtemp(prefix="shequ-bench-kiosk-")
    settings = Settings(database_url=f"sqlite:///{Path(tmp, 'bench.db').as_posix()}", office_hours="00:00-24:00")
    config = config_from_settings(settings, fullscreen=False)
    setup_kivy(config, settings, headless=True)
    from kivy.tests.common import UnitTestTouch

    from kiosk_app.app import KioskApp
    from kiosk_app.client import create_client
    from kiosk_app.devices import KioskDevices
    from kiosk_app.harness import KioskHarness

    player = MomentPlayer()
    synthesizer = Pyttsx3Synthesizer(config.voice) if engine_name == "pyttsx3" else EspeakSynthesizer(config.voice)
    tts = ThreadedTtsEngine(synthesizer, player, name=engine_name)
    spoken_at: list[float] = []
    speak = tts.speak

    def timed_speak(text: str, rate: int = 160, *, interrupt: bool = True) -> None:
        spoken_at.append(time.monotonic())
        speak(text, rate, interrupt=interrupt)

    tts.speak = timed_speak  # type: ignore[method-assign]
    client = create_client(config, settings)
    client.warm_up()
    app = KioskApp(config, settings, client=client, tts=tts, devices=KioskDevices())
    h = KioskHarness(app)
    results = []
    try:
        for index in range(runs):
            tile, pick = QUESTIONS[index % len(QUESTIONS)]
            app.controller.go_home()
            h.tap(tile)
            h.settle()
            buttons = [b for b in h.screen.ids.choice_grid.children[::-1]]
            target = buttons[(pick or 0) % len(buttons)]
            tts.wait(30)  # the list's own prompt has been said
            h.pump(2)
            player.event.clear()
            spoken_before, played_before = len(spoken_at), len(player.started)
            x, y = target.to_window(*target.center)
            touch = UnitTestTouch(x, y)
            t0 = time.monotonic()
            touch.touch_down()
            h.pump(1)
            touch.touch_up()
            h.wait_until(lambda: h.screen_name == "answer", timeout=30, what="the answer")
            shown = time.monotonic() - t0
            h.wait_until(lambda n=played_before: len(player.started) > n, timeout=60, what="the first audio")
            results.append({
                "answer_on_screen": shown,
                "speak_called": spoken_at[spoken_before] - t0,
                "first_word_audio": player.started[played_before] - t0,
            })
    finally:
        h.close()
    return results


def summary(rows: list[dict[str, float]], key: str) -> str:
    values = sorted(row[key] for row in rows if key in row)
    if not values:
        return "n/a"
    return (f"median {statistics.median(values) * 1000:7.0f} ms   min {values[0] * 1000:7.0f} ms   "
            f"max {values[-1] * 1000:7.0f} ms   (n={len(values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="taps measured")
    parser.add_argument("--startup-runs", type=int, default=3)
    parser.add_argument("--engine", choices=("pyttsx3", "espeak"), default="pyttsx3")
    parser.add_argument("--child-startup", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    # Figures only: python-escpos and jieba would otherwise fill the output with their start-up chatter.
    logging.basicConfig(level=logging.WARNING, force=True)
    logging.getLogger().handlers[0].setLevel(logging.WARNING)  # Kivy and jieba set their own loggers to INFO
    if args.child_startup:
        child_startup(float(args.child_startup[0]), args.child_startup[1])
        return
    startup = measure_startup(args.startup_runs)
    print("kiosk start-up (fresh process, in-process assistant)")
    print(f"  home screen drawn           {summary(startup, 'home')}")
    print(f"  assistant warmed up         {summary(startup, 'assistant_ready')}")
    taps = measure_tap_to_speech(args.runs, args.engine)
    print(f"tap on a question → ({args.engine} on espeak-ng, voice sit/cmn-latn-pinyin)")
    print(f"  answer on screen            {summary(taps, 'answer_on_screen')}")
    print(f"  speak() called              {summary(taps, 'speak_called')}")
    print(f"  first word ready to play    {summary(taps, 'first_word_audio')}")


if __name__ == "__main__":
    main()
