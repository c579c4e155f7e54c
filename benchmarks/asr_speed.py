"""Speed and memory of speech recognition on this machine, and the engine's knobs (issue 14).

At the engine's settings (``accessibility.asr_whisper`` constants, ``settings.asr_threads``):

- model load time and memory, in a fresh child process: resident memory (VmRSS) before and after importing
  faster-whisper, after loading the model and after the first recognition, and the peak (VmHWM);
- recognition time of a 5 s utterance (the set's clean Mandarin clips whose speech lasts closest to 5 s, one per
  run), p50/p90 over ``--runs`` runs through ``SpeechInput.transcribe_bytes`` (decode, speech check, trim,
  Whisper, clean-up);
- end of speech → answer text ready: that recognition plus one dialogue turn in-process (the engine as
  ``shequ eval`` builds it, the alternatives passed on as the kiosk does), p50/p90; the target is 1.5 s.

``--sweep`` then tries the knobs — ``BEAM_SIZE``, ``N_BEST``, ``COMPUTE_TYPE`` (set on the module, as the lead
would change them) and the thread count — each with the 5 s timing and the accuracy on part of the speech set
(CER and topic top-1 on the first ``--sweep-limit`` questions in ``--sweep-conditions``), and names the
fastest-to-accurate setting that meets the target. Figures are printed and written to the ``asr_speed`` section
of ``eval/speech/RESULTS.md``.

    .venv/bin/python eval/speech/build.py                      # the speech set (for the clips)
    SHEQU_VAR_DIR=DIR .venv/bin/shequ asr install               # the model
    SHEQU_VAR_DIR=DIR .venv/bin/python benchmarks/asr_speed.py [--runs 20] [--sweep] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asr_speech import (
    DEFAULT_SET,
    LANGS,
    RESULTS,
    CerCount,
    Scorer,
    cached_readings,
    engine_line,
    load_set,
    machine_line,
    make_speech,
    pick,
    quantile,
    score_condition,
    write_section,
)

from accessibility import asr, asr_whisper
from accessibility.errors import NoSpeechError
from assistant.settings import Settings, get_settings
from assistant.speech import SpeechInput, resolved_model_dir

TARGET_SECONDS = 1.5
UTTERANCE_SECONDS = 5.0


# --------------------------------------------------------------------------------------------- memory probe


def _status_mb(field_name: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def probe(model_dir: str, compute: str, threads: int, clip: str) -> dict[str, float]:
    """Run in a fresh process: what importing, loading and a first recognition cost in memory and time."""
    import numpy as np  # noqa: F401  (every process that serves has it already)

    out = {"baseline_mb": _status_mb("VmRSS")}
    started = time.perf_counter()
    import faster_whisper  # noqa: F401

    out["import_s"] = time.perf_counter() - started
    out["import_mb"] = _status_mb("VmRSS")
    asr_whisper.COMPUTE_TYPE = compute
    from accessibility.asr import recognise
    from accessibility.audio_input import decode_audio

    recognizer = asr_whisper.FasterWhisperRecognizer(model_dir, threads=threads)
    started = time.perf_counter()
    recognizer.load()
    out["load_s"] = time.perf_counter() - started
    out["loaded_mb"] = _status_mb("VmRSS")
    out["loaded_peak_mb"] = _status_mb("VmHWM")
    samples = decode_audio(Path(clip).read_bytes())
    started = time.perf_counter()
    recognise(recognizer, samples)
    out["first_recognition_s"] = time.perf_counter() - started
    out["recognised_mb"] = _status_mb("VmRSS")
    out["peak_mb"] = _status_mb("VmHWM")
    return out


def run_probe(settings: Settings, compute: str, clip: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--probe", str(resolved_model_dir(settings)), compute, str(settings.asr_threads),
         str(clip)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"error: memory probe failed: {result.stderr.strip()[-500:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------- timing


def five_second_clips(clips: Sequence[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The ``count`` clean Mandarin clips whose speech (padding aside) lasts closest to 5 s.

    Decoding time grows with what is read out, so one clip would measure one sentence: each timed run takes
    the next of these.
    """
    clean = [c for c in clips if c["noise"] == "clean" and c["lang"] == "zh"] or list(clips)
    return sorted(clean, key=lambda c: abs((c["speech_end"] - c["speech_start"]) - UTTERANCE_SECONDS))[:count]


@dataclass
class Timing:
    recognition: list[float]
    turn: list[float]
    end_to_end: list[float]
    cpu: list[float]  # CPU time of the recognition, all threads (unlike wall time, not slowed by other load)

    def row(self) -> dict[str, float]:
        return {"rec_p50": statistics.median(self.recognition), "rec_p90": quantile(self.recognition, 0.9),
                "cpu_p50": statistics.median(self.cpu),
                "turn_p50": statistics.median(self.turn), "e2e_p50": statistics.median(self.end_to_end),
                "e2e_p90": quantile(self.end_to_end, 0.9)}


def time_once(speech: SpeechInput, scorer: Scorer, audio: bytes, timing: Timing | None) -> None:
    """Recognition, then one dialogue turn on what was heard (as the kiosk does); added to ``timing``."""
    from assistant.dialogue.schemas import ChatRequest

    started, cpu = time.perf_counter(), time.process_time()
    try:
        transcript = speech.transcribe_bytes(audio, language="zh")
    except NoSpeechError:  # the kiosk says 没听清 at once: no turn
        transcript = None
    heard, cpu = time.perf_counter(), time.process_time() - cpu
    if transcript is not None:
        scorer.engine.handle(ChatRequest(text=transcript.text, channel="kiosk",
                                         alternatives=list(transcript.alternatives)[:3]))
    done = time.perf_counter()
    if timing is not None:
        timing.recognition.append(heard - started)
        timing.turn.append(done - heard)
        timing.end_to_end.append(done - started)
        timing.cpu.append(cpu)


def time_utterance(speech: SpeechInput, scorer: Scorer, audios: Sequence[bytes], runs: int) -> Timing:
    """``runs`` timed runs, one utterance each, after one warm-up run."""
    timing = Timing([], [], [], [])
    time_once(speech, scorer, audios[0], None)
    for run in range(runs):
        time_once(speech, scorer, audios[run % len(audios)], timing)
    return timing


def time_round_robin(settings: Settings, variants: Sequence[Knobs], prompts: dict[Knobs, dict[str, str]],
                     scorer: Scorer, audios: Sequence[bytes], runs: int) -> dict[Knobs, Timing]:
    """Settings that share a model (compute type, threads) timed in turn on one loaded model, run after run.

    A machine that slows down (another job, the host) slows every setting of a group alike, so their comparison
    holds even when the absolute figures drift; beam, n-best and prompt are read per call. Groups are timed one
    after the other with only their own model loaded: CTranslate2's idle threads of another loaded model would
    spin and take CPU from the one being timed.
    """
    timings = {knobs: Timing([], [], [], []) for knobs in variants}
    groups: dict[tuple[str, int], list[Knobs]] = {}
    for knobs in variants:
        groups.setdefault((knobs.compute, knobs.threads), []).append(knobs)
    for group in groups.values():
        group[0].apply()
        speech = make_speech(group[0].settings(settings))
        recognizer: Any = speech.recognizer
        for run in range(runs + 1):
            for knobs in group:
                knobs.apply()
                recognizer.prompts = prompts[knobs]
                time_once(speech, scorer, audios[(run - 1) % len(audios)] if run else audios[0],
                          timings[knobs] if run else None)
        del speech, recognizer
    return timings


# --------------------------------------------------------------------------------------------- the sweep


FULL_PROMPT = asr.MAX_PROMPT_CHARS
SHORT_PROMPT = 50  # the lead sentence and the first ten or so core terms


@dataclass(frozen=True)
class Knobs:
    """One engine setting: the module constants, the thread count, and the prompt (full, short or off)."""

    beam: int
    n_best: int
    compute: str
    threads: int
    prompt: str = "full"

    @property
    def label(self) -> str:
        return f"beam {self.beam}, n-best {self.n_best}, {self.compute}, {self.threads} thr, prompt {self.prompt}"

    def apply(self) -> None:
        asr_whisper.BEAM_SIZE = self.beam
        asr_whisper.N_BEST = self.n_best
        asr_whisper.COMPUTE_TYPE = self.compute
        asr.MAX_PROMPT_CHARS = SHORT_PROMPT if self.prompt == "short" else FULL_PROMPT

    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"asr_threads": self.threads, "asr_prompt": self.prompt != "off"})


SWEEP = (
    Knobs(5, 3, "int8", 2),
    Knobs(3, 3, "int8", 2),
    Knobs(2, 2, "int8", 2),
    Knobs(1, 1, "int8", 2),
    Knobs(5, 3, "float32", 2),
    Knobs(5, 3, "int8", 1),
    Knobs(5, 3, "int8", 2, "short"),
    Knobs(5, 3, "int8", 2, "off"),
    Knobs(3, 3, "int8", 2, "off"),
    Knobs(2, 2, "int8", 2, "off"),
)


def accuracy(speech: SpeechInput, settings: Settings, scorer: Scorer, clips: Sequence[dict[str, Any]],
             folder: Path, label: str) -> dict[str, float]:
    readings = cached_readings(speech, settings, clips, folder, reuse=True, label=label)
    cer = {lang: CerCount() for lang in LANGS}
    right = right_nbest = wrong = 0
    for name in dict.fromkeys(c["condition"] for c in clips):
        group = [c for c in clips if c["condition"] == name]
        result = score_condition(scorer, name, group, readings, set(), oracle=False)
        for lang in LANGS:
            cer[lang].errors += result.cer[lang].errors
            cer[lang].chars += result.cer[lang].chars
        right += result.correct["all"]
        right_nbest += result.correct_nbest["all"]
        wrong += result.wrong["nbest"]
    n = max(len(clips), 1)
    return {"cer_zh": cer["zh"].rate, "cer_yue": cer["yue"].rate, "top1": right / n, "top1_nbest": right_nbest / n,
            "wrong_nbest": wrong / n}


def pick_best(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Among settings meeting the target (end-of-speech → answer p50), the most accurate (CER zh), then fastest."""
    meeting = [r for r in rows if r["e2e_p50"] <= TARGET_SECONDS]
    if not meeting:
        return None
    return min(meeting, key=lambda r: (round(r["cer_zh"], 3), -r["top1_nbest"], r["e2e_p50"]))


# --------------------------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--probe"]:
        model_dir, compute, threads, clip = argv[1:5]
        print(json.dumps(probe(model_dir, compute, int(threads), clip)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", dest="folder", type=Path, default=DEFAULT_SET)
    parser.add_argument("--runs", type=int, default=20, help="timed runs per setting (after one warm-up)")
    parser.add_argument("--sweep", action="store_true", help="also try the engine's knobs")
    parser.add_argument("--sweep-runs", type=int, default=15, help="timed rounds over all settings")
    parser.add_argument("--sweep-conditions", default="s130-clean,s170-babble20")
    parser.add_argument("--sweep-limit", type=int, default=40, help="questions per condition for accuracy")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--log-level", default="ERROR")
    args = parser.parse_args(argv)

    import bm25s  # noqa: F401  (they set their loggers to DEBUG on import)
    import jieba  # noqa: F401

    from assistant.logging_setup import configure_logging

    configure_logging(args.log_level)
    settings = get_settings()
    clips, _ = load_set(args.folder)
    utterances = five_second_clips(clips, max(args.runs, args.sweep_runs))
    audios = [(args.folder / u["path"]).read_bytes() for u in utterances]
    audio_path = args.folder / utterances[0]["path"]
    spans = [u["speech_end"] - u["speech_start"] for u in utterances]
    defaults = Knobs(asr_whisper.BEAM_SIZE, asr_whisper.N_BEST, asr_whisper.COMPUTE_TYPE, settings.asr_threads,
                     "full" if settings.asr_prompt else "off")

    memory = run_probe(settings, defaults.compute, audio_path)
    print(f"memory probe: {json.dumps({k: round(v, 2) for k, v in memory.items()})}", file=sys.stderr)
    started = time.perf_counter()
    speech = make_speech(settings)
    warm_load = time.perf_counter() - started
    scorer = Scorer(settings)
    try:
        timing = time_utterance(speech, scorer, audios, args.runs).row()
        rows: list[dict[str, Any]] = []
        if args.sweep:
            sweep_clips = pick(clips, args.sweep_conditions.split(","), args.sweep_limit)
            prompts: dict[Knobs, dict[str, str]] = {}
            for knobs in SWEEP:
                knobs.apply()
                tuned_settings = knobs.settings(settings)
                tuned = make_speech(tuned_settings, prompt=tuned_settings.asr_prompt)
                prompts[knobs] = dict(getattr(tuned.recognizer, "prompts", {}))
                row: dict[str, Any] = {"knobs": knobs}
                row.update(accuracy(tuned, tuned_settings, scorer, sweep_clips, args.folder, knobs.label))
                del tuned
                row["peak_mb"] = (memory["peak_mb"] if knobs.compute == defaults.compute
                                  else run_probe(settings, knobs.compute, audio_path)["peak_mb"])
                rows.append(row)
                print(f"  {knobs.label}: CER zh {row['cer_zh']:.1%}", file=sys.stderr, flush=True)
            del speech  # only one model loaded at a time from here
            timings = time_round_robin(settings, SWEEP, prompts, scorer, audios, args.sweep_runs)
            for row in rows:
                row.update(timings[row["knobs"]].row())
            defaults.apply()
    finally:
        scorer.close()

    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} by `benchmarks/asr_speed.py {' '.join(argv)}` on {machine_line()}.",
        f"Engine: {engine_line(settings)}. Utterances: the {len(utterances)} clean Mandarin clips whose speech "
        f"lasts closest to 5 s ({min(spans):.1f}–{max(spans):.1f} s of speech, 0.8 s of silence around it), "
        f"one per run, {args.runs} runs after a warm-up.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| model load, fresh process (import of faster-whisper {memory['import_s']:.2f} s not included) | "
        f"{memory['load_s']:.2f} s |",
        f"| model load again, warm file cache | {warm_load:.2f} s |",
        f"| first recognition after load | {memory['first_recognition_s']:.2f} s |",
        f"| recognition of the 5 s utterance, p50 / p90 | {timing['rec_p50']:.2f} / {timing['rec_p90']:.2f} s |",
        f"| CPU time of one recognition (both threads), p50 | {timing['cpu_p50']:.2f} s |",
        f"| one dialogue turn, p50 | {timing['turn_p50'] * 1000:.0f} ms |",
        f"| end of speech → answer text ready, p50 / p90 (target ≤ {TARGET_SECONDS} s) | "
        f"{timing['e2e_p50']:.2f} / {timing['e2e_p90']:.2f} s |",
        f"| resident memory: before importing faster-whisper / imported / model loaded / after a recognition | "
        f"{memory['baseline_mb']:.0f} / {memory['import_mb']:.0f} / {memory['loaded_mb']:.0f} / "
        f"{memory['recognised_mb']:.0f} MB |",
        f"| memory added by the model (loaded − imported; peak − imported) | "
        f"{memory['loaded_mb'] - memory['import_mb']:.0f} MB; {memory['peak_mb'] - memory['import_mb']:.0f} MB |",
    ]
    if rows:
        lines += [
            "",
            f"### Knobs ({args.sweep_runs} rounds: the settings that share a model timed in turn on the same "
            f"utterance; accuracy on {args.sweep_conditions}, first {args.sweep_limit} questions)",
            "",
            "| beam | n-best | compute | threads | prompt | recognition p50 / p90 s | CPU s | "
            "end of speech → answer p50 s | CER zh | CER yue | top-1 spoken | + n-best | wrong answers | peak MB |",
            "|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in rows:
            k: Knobs = row["knobs"]
            lines.append(
                f"| {k.beam} | {k.n_best} | {k.compute} | {k.threads} | {k.prompt} | "
                f"{row['rec_p50']:.2f} / {row['rec_p90']:.2f} | {row['cpu_p50']:.2f} "
                f"| {row['e2e_p50']:.2f} | {row['cer_zh']:.1%} | {row['cer_yue']:.1%} | {row['top1']:.1%} | "
                f"{row['top1_nbest']:.1%} | {row['wrong_nbest']:.1%} | {row['peak_mb']:.0f} |")
        best = pick_best(rows)
        lines += ["", f"Meets the {TARGET_SECONDS} s target with the lowest CER: "
                  + (best["knobs"].label if best else "none of these settings") + "."]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(args.results, "asr_speed", text)
        print(f"\nwritten to {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
