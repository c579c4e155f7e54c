"""Builds the speech test set: resident questions spoken by espeak-ng, clean and in noise (issue 14).

Two steps, both deterministic for a given seed:

1. **select** (``--select N``): N single-topic questions from the public dev set
   (``../shared/eval/dev_queries.yaml``) and the project's challenge files (``eval/challenge/``: colloquial,
   dialect, safety questions, rambling), at most ``MAX_CHARS`` characters (a push-to-talk question, well under
   the kiosk's 15 s). Questions written in Cantonese (咗, 唔, 冇, 点样 …) are marked ``yue``, the rest ``zh``.
   ``--save`` writes the choice to ``eval/speech/sentences.yaml`` (committed); otherwise that file is read.
   The sealed sets (``eval/heldout*/``) are never opened.
2. **synthesise** every question in its own language — ``zh`` with espeak-ng ``sit/cmn-latn-pinyin``, ``yue``
   with ``sit/yue`` — at each speed (``-s 130`` slow, ``-s 170`` brisk), resampled by sox to 16 kHz mono
   16-bit, normalised to -6 dBFS peak and padded with 0.3 s of silence before and 0.5 s after (as a
   push-to-talk recording has). Each is kept clean and mixed by sox with two noises at each SNR (20, 10 dB):

   - ``babble``: six talkers (Mandarin and Cantonese espeak-ng voices, male and female variants, pitch
     30–70, speed 150–190) each reading a run of *other* questions (not in the set), mixed at equal level —
     a busy service hall;
   - ``street``: sox ``synth brownnoise`` (traffic rumble) + ``pinknoise`` at -7 dB (tyres, wind),
     low-passed at 5 kHz, with a slow 0.15 Hz swell (``tremolo``) like passing traffic.

   The SNR is speech power over noise power, both over the speech part of the clip (without the padding).
   Each clip takes the noise from its own seeded offset in a 40 s noise track.

Output (a cache, never committed — regenerate it): ``OUT/clips/<id>/<condition>.wav`` with conditions
``s130-clean``, ``s130-babble20``, …, ``s170-street10``; ``OUT/clips.jsonl`` (one line per clip: text,
language, voice, speed, noise, SNR, duration, where the speech is, expected topic); ``OUT/noise/*.wav``;
``OUT/sentences.yaml`` (the questions used, in ``shequ eval`` format); ``OUT/build.json`` (the parameters).

    .venv/bin/python eval/speech/build.py [--out /tmp/shequ-speech] [--limit N] [--jobs 2]
    .venv/bin/python eval/speech/build.py --select 120 --save        # choose the questions again
    .venv/bin/python eval/speech/build.py --recordings DIR --out /tmp/shequ-speech-rec   # people's voices
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MANIFEST = HERE / "sentences.yaml"
DEFAULT_OUT = Path(tempfile.gettempdir()) / "shequ-speech"
DEV_SET = ROOT.parent / "shared" / "eval" / "dev_queries.yaml"
CHALLENGE = ROOT / "eval" / "challenge"
# (source name, file): single questions with one expected topic are taken from these.
SOURCES = (
    ("dev", DEV_SET),
    ("colloquial", CHALLENGE / "topics_colloquial.yaml"),
    ("dialect", CHALLENGE / "dialect.yaml"),
    ("safety", CHALLENGE / "safety_questions.yaml"),
    ("rambling", CHALLENGE / "rambling.yaml"),  # almost all too long: they feed the babble
)
# Share of the set per stratum, in the order ties are broken (a 2-question set is one dev, one Cantonese).
QUOTAS = (("dev", 0.375), ("dialect-yue", 0.25), ("colloquial", 0.25), ("safety", 0.0667), ("dialect-zh", 0.0583))
MAX_CHARS = 28  # ~11 s at -s 130
DEFAULT_SIZE = 120
DEFAULT_SEED = 14

VOICES = {"zh": "sit/cmn-latn-pinyin", "yue": "sit/yue"}
SPEEDS = (130, 170)
NOISES = ("babble", "street")
SNRS = (20, 10)
SAMPLE_RATE = 16_000
PAD_BEFORE = 0.3
PAD_AFTER = 0.5
PEAK_DB = -6.0
NOISE_SECONDS = 40
BABBLE_TALKERS = 6
BABBLE_TEXTS = 24  # other questions the talkers read (kept in the manifest)

_CANTONESE = re.compile(r"[咗唔冇嘅喺啲乜嘢攞畀揾佢哋嚟睇嗰咩啱仲㗎咁噉嘞喇啩]|点样|边度|几多|屋企|系唔系|系咪|使唔使|有冇|点整|点补")
_NOT_SPOKEN = re.compile(r"[\s\u3000，。？！、,.?!；;：:“”\"'（）()…—~～]")


class BuildError(Exception):
    """A tool is missing or failed; the message says which."""


@dataclass(frozen=True)
class Sentence:
    id: str
    q: str
    lang: str
    source: str
    expect: dict[str, Any]


@dataclass(frozen=True)
class Clip:
    clip: str  # "<sentence id>@<condition>"
    sentence: str
    condition: str
    text: str
    lang: str
    voice: str  # the espeak-ng voice, or "recording"
    speed: int | None  # espeak-ng -s; None for a recording
    noise: str  # clean | babble | street
    snr: float | None
    path: str  # relative to the output folder
    seconds: float
    speech_start: float
    speech_end: float
    expect: dict[str, Any]


# ------------------------------------------------------------------------------------------ selection

def spoken_length(text: str) -> int:
    return len(_NOT_SPOKEN.sub("", text))


def language_of(text: str) -> str:
    return "yue" if _CANTONESE.search(text) else "zh"


def _topic_cases(path: Path) -> list[dict[str, Any]]:
    if "heldout" in path.as_posix():
        raise BuildError(f"{path}: the held-out sets are sealed")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [c for c in data.get("cases") or [] if isinstance(c.get("expect"), dict) and "topic" in c["expect"]
            and "aspect" not in c["expect"]]


def candidate_pools(sources: Sequence[tuple[str, Path]] = SOURCES) -> tuple[dict[str, list[dict]], list[str]]:
    """Questions by stratum, and every other question text (long ones included) for the babble."""
    pools: dict[str, list[dict]] = {name: [] for name, _ in QUOTAS}
    others: list[str] = []
    seen: set[str] = set()
    for source, path in sources:
        for case in _topic_cases(path):
            q = str(case["q"]).strip()
            if q in seen:
                continue
            seen.add(q)
            lang = language_of(q)
            stratum = f"dialect-{lang}" if source == "dialect" else source
            if stratum in pools and spoken_length(q) <= MAX_CHARS:
                pools[stratum].append({"q": q, "lang": lang, "source": source, "expect": dict(case["expect"])})
            else:
                others.append(q)
    return pools, others


def select(size: int, seed: int = DEFAULT_SEED,
           sources: Sequence[tuple[str, Path]] = SOURCES) -> tuple[list[Sentence], list[str]]:
    """``size`` questions spread over the strata by ``QUOTAS``, topics as varied as each pool allows.

    Returns them and the questions left over (for the babble). The first N of a larger selection are not the
    same as a selection of N; use ``--limit`` on a saved manifest to take a prefix.
    """
    pools, others = candidate_pools(sources)
    rng = random.Random(seed)
    for pool in pools.values():
        rng.shuffle(pool)
    quotas = dict(QUOTAS)
    taken = dict.fromkeys(quotas, 0)
    used_topics: set[str] = set()
    chosen: list[dict] = []
    while len(chosen) < size:
        open_strata = [name for name, _ in QUOTAS if pools[name]]
        if not open_strata:
            break
        stratum = min(open_strata, key=lambda name: (taken[name] / quotas[name], [n for n, _ in QUOTAS].index(name)))
        pool = pools[stratum]
        index = next((i for i, case in enumerate(pool) if case["expect"]["topic"] not in used_topics), 0)
        case = pool.pop(index)
        used_topics.add(case["expect"]["topic"])
        taken[stratum] += 1
        chosen.append(case)
    leftovers = others + [case["q"] for pool in pools.values() for case in pool]
    sentences = [Sentence(f"s{i:03d}", c["q"], c["lang"], c["source"], c["expect"]) for i, c in enumerate(chosen, 1)]
    return sentences, leftovers


def manifest_text(sentences: Sequence[Sentence], leftovers: Sequence[str], *, seed: int) -> str:
    """The manifest in ``shequ eval`` format (extra keys per case: id, lang, source)."""
    header = (
        "# The speech test set's questions (issue 14), chosen by eval/speech/build.py --select "
        f"{len(sentences)} --seed {seed} --save\n"
        "# from ../shared/eval/dev_queries.yaml and eval/challenge/ (never eval/heldout*/).\n"
        "# Also an ordinary evaluation file: `shequ eval eval/speech/sentences.yaml` gives the typed baseline.\n"
    )
    def flow(node: Any) -> str:
        return yaml.safe_dump(node, allow_unicode=True, sort_keys=False, default_flow_style=True,
                              width=10_000).strip()

    head = {"phenomenon": "speech",
            "description": "语音测试集的问题：普通话（zh）与粤语（yue）口语问法，由 espeak-ng 合成", "seed": seed}
    lines = [yaml.safe_dump(head, allow_unicode=True, sort_keys=False, width=10_000).rstrip(),
             "# other questions (not in the set) the babble talkers read", "babble:"]
    lines += [f"  - {flow([q])[1:-1]}" for q in leftovers[:BABBLE_TEXTS]]
    lines.append("cases:")
    lines += [f"  - {flow({'id': s.id, 'q': s.q, 'lang': s.lang, 'source': s.source, 'expect': s.expect})}"
              for s in sentences]
    return header + "\n".join(lines) + "\n"


def load_manifest(path: Path) -> tuple[list[Sentence], list[str], int]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    sentences = [Sentence(str(c["id"]), str(c["q"]), str(c["lang"]), str(c.get("source", "")), dict(c["expect"]))
                 for c in data.get("cases") or []]
    return sentences, [str(q) for q in data.get("babble") or []], int(data.get("seed", DEFAULT_SEED))


# ------------------------------------------------------------------------------------------ audio helpers

def require_tools() -> None:
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        raise BuildError(f"missing program(s): {', '.join(missing)} (apt-get install espeak-ng sox)")


def _run(args: Sequence[str], *, stdin: str | None = None) -> None:
    result = subprocess.run(list(args), input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip()[:300]}")


def _sox(*args: str | Path) -> None:
    # -R: sox's random numbers (noise, dither) are the same on every run, so the set is reproducible.
    _run(["sox", "-R", "-V1", *map(str, args)])


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """float32 samples in [-1, 1] and the sample rate of a 16-bit mono WAV."""
    with wave.open(str(path), "rb") as handle:
        if handle.getsampwidth() != 2 or handle.getnchannels() != 1:
            raise BuildError(f"{path}: expected 16-bit mono")
        frames = handle.readframes(handle.getnframes())
        return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0, handle.getframerate()


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples.astype(np.float64))))) if samples.size else 0.0


def speak(text: str, voice: str, speed: int, out: Path, *, pitch: int | None = None) -> None:
    """espeak-ng → sox: 16 kHz mono 16-bit, silence trimmed at both ends, peak at ``PEAK_DB``."""
    raw = out.with_suffix(".raw.wav")
    args = ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), "--stdin"]
    if pitch is not None:
        args[1:1] = ["-p", str(pitch)]
    _run(args, stdin=text)
    _sox(raw, "-r", SAMPLE_RATE, "-c", 1, "-b", 16, out,
         "silence", 1, 0.02, "0.1%", "reverse", "silence", 1, 0.02, "0.1%", "reverse", "norm", PEAK_DB)
    raw.unlink()


def make_street(out: Path) -> None:
    """Brown noise (rumble) + pink noise at -7 dB (hiss), low-passed, with a slow swell of passing traffic."""
    _sox("-r", SAMPLE_RATE, "-c", 2, "-n", "-c", 1, "-b", 16, out, "synth", NOISE_SECONDS, "brownnoise",
         "pinknoise", "remix", "1v0.8,2v0.35", "lowpass", 5000, "tremolo", 0.15, 35, "norm", -3)


def make_babble(texts: Sequence[str], out: Path, work: Path, *, seed: int) -> None:
    """``BABBLE_TALKERS`` espeak-ng talkers reading other questions, each looped to the track's length."""
    if len(texts) < BABBLE_TALKERS:
        raise BuildError("not enough other questions for the babble")
    rng = random.Random(seed)
    variants = ("m1", "f2", "m3", "f4", "m2", "f1")
    talkers: list[Path] = []
    for t in range(BABBLE_TALKERS):
        lang = "yue" if t % 3 == 2 else "zh"
        voice = f"{VOICES[lang]}+{variants[t % len(variants)]}"
        speed, pitch = rng.randint(150, 190), rng.randint(30, 70)
        pieces: list[Path] = []
        seconds = 0.0
        order = rng.sample(list(texts), k=len(texts))
        while seconds < NOISE_SECONDS + 1:
            piece = work / f"talker{t}-{len(pieces)}.wav"
            speak(order[len(pieces) % len(order)], voice, speed, piece, pitch=pitch)
            seconds += read_wav(piece)[0].size / SAMPLE_RATE + 0.2
            pieces.append(piece)
        talker = work / f"talker{t}.wav"
        # pieces with 0.2 s gaps, started at a random point so that the talkers' pauses do not line up
        padded = []
        for piece in pieces:
            gap = piece.with_suffix(".gap.wav")
            _sox(piece, gap, "pad", 0, 0.2)
            padded.append(gap)
        _sox(*padded, talker, "trim", round(rng.uniform(0, 1.0), 2), NOISE_SECONDS, "norm", -3)
        talkers.append(talker)
    _sox("-m", *talkers, out, "norm", -3)


def mix_at_snr(clean: Path, noise: Path, out: Path, *, snr_db: float, speech: tuple[int, int], offset: float,
               work: Path) -> None:
    """``clean`` + a stretch of ``noise`` from ``offset``, scaled so that the speech part has ``snr_db``."""
    samples, _ = read_wav(clean)
    segment = work / f"{out.stem}.noise.wav"
    _sox(noise, segment, "trim", f"{offset:.3f}", f"{samples.size}s")
    noise_samples, _ = read_wav(segment)
    start, end = speech
    gain = rms(samples[start:end]) / (rms(noise_samples[start:end]) * 10 ** (snr_db / 20))
    _sox("-m", "-v", 1, clean, "-v", f"{gain:.6f}", segment, "-b", 16, out)
    segment.unlink()


# ------------------------------------------------------------------------------------------ the set

Condition = tuple[str, int | None, str, float | None]  # (name, speed or None for a recording, noise, snr)


def conditions(speeds: Iterable[int | None] = SPEEDS, noises: Iterable[str] = NOISES,
               snrs: Iterable[float] = SNRS) -> list[Condition]:
    """Clean first, then each noise from the mildest; ``s130-…`` per speed, ``rec-…`` for recordings."""
    out: list[Condition] = []
    noises, snrs = list(noises), sorted(snrs, reverse=True)
    for speed in speeds:
        label = "rec" if speed is None else f"s{speed}"
        out.append((f"{label}-clean", speed, "clean", None))
        out.extend((f"{label}-{noise}{snr:g}", speed, noise, float(snr)) for noise in noises for snr in snrs)
    return out


def recording_of(sentence: Sentence, folder: Path | None) -> Path | None:
    """``folder/<id>.<any extension sox reads>`` (someone reading the question aloud), if there is one."""
    if folder is None:
        return None
    return next((p for p in sorted(folder.glob(f"{sentence.id}.*")) if p.is_file()), None)


def prepare_recording(source: Path, out: Path) -> None:
    """A recording, as the synthetic speech: 16 kHz mono 16-bit, silence trimmed, peak at ``PEAK_DB``."""
    _sox(source, "-r", SAMPLE_RATE, "-c", 1, "-b", 16, out,
         "silence", 1, 0.05, "0.5%", "reverse", "silence", 1, 0.05, "0.5%", "reverse", "norm", PEAK_DB)


def _offset(clip_id: str, seconds: float) -> float:
    digest = int(hashlib.sha256(clip_id.encode()).hexdigest()[:8], 16)
    return (digest / 0xFFFFFFFF) * max(NOISE_SECONDS - seconds - 0.1, 0.0)


def build_sentence(sentence: Sentence, out: Path, noise_tracks: dict[str, Path], grid: Sequence[Condition],
                   recording: Path | None = None) -> list[Clip]:
    """The sentence's clips: spoken by espeak-ng at each speed of ``grid``, or its ``recording``."""
    folder = out / "clips" / sentence.id
    folder.mkdir(parents=True, exist_ok=True)
    voice = "recording" if recording else VOICES[sentence.lang]
    clips: list[Clip] = []
    with tempfile.TemporaryDirectory(prefix=f"speech-{sentence.id}-") as tmp:
        work = Path(tmp)
        for speed in dict.fromkeys(speed for _, speed, _, _ in grid):
            label = "rec" if speed is None else f"s{speed}"
            speech = work / f"speech-{label}.wav"
            if speed is None:
                if recording is None:
                    raise BuildError(f"{sentence.id}: no recording")
                prepare_recording(recording, speech)
            else:
                speak(sentence.q, voice, speed, speech)
            clean = folder / f"{label}-clean.wav"
            _sox(speech, clean, "pad", PAD_BEFORE, PAD_AFTER)
            samples, _ = read_wav(clean)
            spoken = read_wav(speech)[0].size
            start = round(PAD_BEFORE * SAMPLE_RATE)
            span = (start, start + spoken)
            seconds = samples.size / SAMPLE_RATE
            for name, cond_speed, noise, snr in grid:
                if cond_speed != speed:
                    continue
                path = folder / f"{name}.wav"
                if noise != "clean":
                    assert snr is not None
                    mix_at_snr(clean, noise_tracks[noise], path, snr_db=snr, speech=span,
                               offset=_offset(f"{sentence.id}@{name}", seconds), work=work)
                clips.append(Clip(f"{sentence.id}@{name}", sentence.id, name, sentence.q, sentence.lang, voice,
                                  speed, noise, snr, path.relative_to(out).as_posix(), round(seconds, 3),
                                  round(span[0] / SAMPLE_RATE, 3), round(span[1] / SAMPLE_RATE, 3),
                                  sentence.expect))
    return clips


def tool_versions() -> dict[str, str]:
    versions = {}
    for tool, flag in (("espeak-ng", "--version"), ("sox", "--version")):
        result = subprocess.run([tool, flag], capture_output=True, text=True, check=False)
        versions[tool] = (result.stdout or result.stderr).strip().splitlines()[0] if result.returncode == 0 else "?"
    return versions


def build(sentences: Sequence[Sentence], babble_texts: Sequence[str], out: Path, *, seed: int,
          speeds: Sequence[int] = SPEEDS, noises: Sequence[str] = NOISES, snrs: Sequence[float] = SNRS,
          jobs: int = 2, recordings: Path | None = None) -> list[Clip]:
    """Synthesises the set into ``out`` (its ``clips/`` and ``noise/`` are made afresh).

    With ``recordings`` (a folder of ``<id>.wav|mp3|…``, people reading the questions aloud) those are used
    instead of espeak-ng, in the same noises (conditions ``rec-clean``, ``rec-babble20`` …); questions
    without a recording are left out.
    """
    if recordings is not None:
        sentences = [s for s in sentences if recording_of(s, recordings)]
        if not sentences:
            raise BuildError(f"{recordings}: no recordings named after the questions (s001.wav …)")
    require_tools()
    unknown = [n for n in noises if n not in NOISES]
    if unknown:
        raise BuildError(f"unknown noise {unknown[0]!r}; known: {', '.join(NOISES)}")
    out.mkdir(parents=True, exist_ok=True)
    for folder in ("clips", "noise"):
        shutil.rmtree(out / folder, ignore_errors=True)
    (out / "noise").mkdir()
    tracks: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="speech-noise-") as tmp:
        if "babble" in noises:
            tracks["babble"] = out / "noise" / "babble.wav"
            make_babble(babble_texts, tracks["babble"], Path(tmp), seed=seed)
        if "street" in noises:
            tracks["street"] = out / "noise" / "street.wav"
            make_street(tracks["street"])
    grid = conditions([None] if recordings is not None else speeds, noises, snrs)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        per_sentence = list(pool.map(
            lambda s: build_sentence(s, out, tracks, grid, recording_of(s, recordings)), sentences))
    clips = [clip for group in per_sentence for clip in group]
    with (out / "clips.jsonl").open("w", encoding="utf-8") as handle:
        for clip in clips:
            handle.write(json.dumps(asdict(clip), ensure_ascii=False) + "\n")
    (out / "sentences.yaml").write_text(manifest_text(sentences, babble_texts, seed=seed), encoding="utf-8")
    (out / "build.json").write_text(json.dumps({
        "sentences": len(sentences), "clips": len(clips), "seed": seed, "voices": VOICES,
        "speeds": [] if recordings else list(speeds), "recordings": str(recordings) if recordings else None,
        "noises": list(noises), "snrs": list(snrs), "sample_rate": SAMPLE_RATE,
        "pad": [PAD_BEFORE, PAD_AFTER], "peak_db": PEAK_DB, "conditions": [g[0] for g in grid],
        "tools": tool_versions(), "built": time.strftime("%Y-%m-%d %H:%M:%S"),
    }, ensure_ascii=False, indent=1), encoding="utf-8")
    return clips


def _numbers(text: str, kind: type) -> list:
    try:
        return [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"cache folder (default {DEFAULT_OUT})")
    parser.add_argument("--select", type=int, metavar="N",
                        help="choose N questions afresh from the sources (default: read eval/speech/sentences.yaml)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--save", action="store_true", help="with --select: write eval/speech/sentences.yaml")
    parser.add_argument("--manifest", type=Path, default=MANIFEST, help="questions to read without --select")
    parser.add_argument("--limit", type=int, help="synthesise only the first N questions")
    parser.add_argument("--speeds", type=lambda t: _numbers(t, int), default=list(SPEEDS))
    parser.add_argument("--snrs", type=lambda t: _numbers(t, float), default=list(SNRS))
    parser.add_argument("--noises", type=lambda t: [n for n in t.split(",") if n], default=list(NOISES))
    parser.add_argument("--jobs", type=int, default=2, help="questions synthesised at once")
    parser.add_argument("--recordings", type=Path, metavar="DIR",
                        help="use people's recordings DIR/<id>.wav (s001.wav …) instead of espeak-ng")
    parser.add_argument("--select-only", action="store_true", help="choose (and --save) without synthesising")
    args = parser.parse_args(argv)
    try:
        if args.select is not None:
            sentences, leftovers = select(args.select, args.seed)
            seed = args.seed
            if args.save:
                MANIFEST.write_text(manifest_text(sentences, leftovers, seed=seed), encoding="utf-8")
                print(f"wrote {MANIFEST.relative_to(ROOT)} ({len(sentences)} questions)")
        else:
            if not args.manifest.is_file():
                raise BuildError(f"{args.manifest}: no manifest (make one with --select N --save)")
            sentences, leftovers, seed = load_manifest(args.manifest)
        if args.select_only:
            return 0
        if args.limit is not None:
            sentences = sentences[: args.limit]
        started = time.perf_counter()
        clips = build(sentences, leftovers, args.out, seed=seed, speeds=args.speeds, noises=args.noises,
                      snrs=args.snrs, jobs=args.jobs, recordings=args.recordings)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    built_ids = {c.sentence for c in clips}
    sentences = [s for s in sentences if s.id in built_ids]
    langs = {lang: sum(s.lang == lang for s in sentences) for lang in VOICES}
    audio = sum(c.seconds for c in clips)
    print(f"{len(sentences)} questions ({langs['zh']} zh, {langs['yue']} yue) × "
          f"{len(clips) // max(len(sentences), 1)} conditions = {len(clips)} clips, {audio / 60:.1f} min of audio, "
          f"in {args.out} ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
