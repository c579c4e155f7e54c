"""Speech recognition measured from the outside: error rates and answers from speech, per listening condition.

Runs the speech test set (``eval/speech/build.py``: resident questions spoken by espeak-ng, clean and in
babble and street noise at 20/10 dB SNR, two speeds) through the real engine the way the API does
(``SpeechInput.transcribe_bytes``: decode, speech check, trim, Whisper, clean-up), then asks the dialogue
engine in-process the way ``shequ eval`` does (``assistant.evaluation.engine_responder`` + ``evaluate``: one
scorer for typed and spoken). Per condition it reports:

- CER: character error rate against the question's text, both in Simplified Chinese without punctuation or
  spaces, digits spoken out (85 → 八十五); Levenshtein over characters, summed over the set (``jiwer`` is not
  installed here);
- topic top-1 from speech (the first reading alone), with the n-best alternatives passed to the engine (as the
  kiosk and ``POST /api/v1/asr`` callers do: ``ChatRequest.alternatives``), and typed (the same questions);
- for the n-best: how often the first reading left the engine unsure, how many of those an alternative
  rescued, how many right answers it broke, and the oracle (some reading, alone, gets the right topic);
- prompt on vs off (``settings.asr_prompt``) on one clean condition.

Figures are printed and written to ``eval/speech/RESULTS.md`` (its own section; the rest of the file is kept).
Turns go to a throw-away SQLite database; the knowledge-base index and the model come from ``var_dir``.
Recognised text is kept only in the set's cache folder (``transcripts-*.jsonl``), never logged.

    .venv/bin/python eval/speech/build.py                       # the audio, into /tmp/shequ-speech (~15 s)
    SHEQU_VAR_DIR=DIR .venv/bin/shequ asr install                # the model
    SHEQU_VAR_DIR=DIR .venv/bin/python benchmarks/asr_speech.py [--conditions s130-clean,s170-*] [--limit N]
        [--prompt-condition s130-clean | --no-prompt-check] [--reuse] [--no-write]

One full run (1200 clips + 120 without prompt) takes about half an hour on 2 cores.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import platform
import re
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cn2an
import opencc

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from accessibility import asr_whisper  # noqa: E402
from accessibility.errors import AsrError, AudioError, NoSpeechError  # noqa: E402
from assistant.evaluation import EvalReport, Prediction, engine_responder, evaluate  # noqa: E402
from assistant.settings import Settings, get_settings  # noqa: E402
from assistant.speech import SpeechInput, resolved_model_dir  # noqa: E402

DEFAULT_SET = Path(tempfile.gettempdir()) / "shequ-speech"
RESULTS = ROOT / "eval" / "speech" / "RESULTS.md"
LANGS = ("zh", "yue")
ANSWERED = ("answer", "emergency")

# --------------------------------------------------------------------------------------------- the set


def load_set(folder: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The clips (``clips.jsonl``) and the build's parameters (``build.json``) of a built set."""
    clips_file = folder / "clips.jsonl"
    if not clips_file.is_file():
        raise SystemExit(f"error: {clips_file} not found; build the set first: .venv/bin/python eval/speech/build.py "
                         f"--out {folder}")
    clips = [json.loads(line) for line in clips_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    info = json.loads((folder / "build.json").read_text(encoding="utf-8")) if (folder / "build.json").is_file() else {}
    return clips, info


def pick(clips: Sequence[dict[str, Any]], patterns: Sequence[str] | None, limit: int | None) -> list[dict[str, Any]]:
    """Clips of the conditions matching ``patterns`` (globs), of the first ``limit`` questions."""
    sentences = sorted({c["sentence"] for c in clips})
    keep = set(sentences[:limit] if limit else sentences)
    return [c for c in clips if c["sentence"] in keep
            and (not patterns or any(fnmatch.fnmatch(c["condition"], p) for p in patterns))]


def condition_names(clips: Iterable[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(c["condition"] for c in clips))


# --------------------------------------------------------------------------------------------- CER

_T2S = opencc.OpenCC("t2s")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_DROP = re.compile(r"[\W_]+")  # punctuation, spaces, symbols (\w keeps CJK, letters, digits)


def _spoken_number(number: str) -> str:
    if len(number) >= 5 or (number.startswith("0") and len(number) > 1 and "." not in number):
        return "".join(cn2an.an2cn(d, "low") if d.isdigit() else d for d in number)  # phone/ticket: digit by digit
    return cn2an.an2cn(number, "low")


def cer_units(text: str) -> str:
    """What CER counts: Simplified Chinese, lower-case, no punctuation or spaces, numbers as spoken."""
    text = _T2S.convert(unicodedata.normalize("NFKC", text or "")).lower()
    text = _PERCENT.sub(lambda m: "百分之" + m.group(1), text)
    text = _NUMBER.sub(lambda m: _spoken_number(m.group(0)), text)
    return _DROP.sub("", text)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (substitutions, insertions, deletions cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


@dataclass
class CerCount:
    errors: int = 0
    chars: int = 0

    def add(self, reference: str, hypothesis: str) -> None:
        ref, hyp = cer_units(reference), cer_units(hypothesis)
        self.errors += edit_distance(ref, hyp)
        self.chars += len(ref)

    @property
    def rate(self) -> float:
        return self.errors / self.chars if self.chars else 0.0


# --------------------------------------------------------------------------------------------- recognition


@dataclass
class Reading:
    clip: str
    text: str  # "" when nothing was recognised (error says why)
    alternatives: list[str] = field(default_factory=list)
    seconds: float = 0.0  # wall time of transcribe_bytes (decode + VAD + engine)
    audio_seconds: float = 0.0
    error: str | None = None
    cpu_seconds: float = 0.0  # CPU time of this process meanwhile (all threads): stable when the machine is busy


def engine_key(settings: Settings, speech: SpeechInput) -> str:
    """Identifies the engine's configuration (for the transcript cache)."""
    recognizer = speech.recognizer
    parts = {"engine": recognizer.name, "prompt": bool(getattr(recognizer, "prompts", {})),
             "prompts": sorted(getattr(recognizer, "prompts", {}).items()),
             "threads": getattr(recognizer, "threads", None), "beam": asr_whisper.BEAM_SIZE,
             "n_best": asr_whisper.N_BEST, "compute": asr_whisper.COMPUTE_TYPE,
             "model": str(resolved_model_dir(settings))}
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:10]


def recognise_clips(speech: SpeechInput, clips: Sequence[dict[str, Any]], folder: Path, *,
                    label: str = "", progress: bool = True) -> dict[str, Reading]:
    """Every clip through ``transcribe_bytes`` (the API's path), in the clip's language."""
    readings: dict[str, Reading] = {}
    started = time.perf_counter()
    for index, clip in enumerate(clips, 1):
        audio = (folder / clip["path"]).read_bytes()
        begin, cpu = time.perf_counter(), time.process_time()
        try:
            transcript = speech.transcribe_bytes(audio, language=clip["lang"])
            reading = Reading(clip["clip"], transcript.text, list(transcript.alternatives),
                              time.perf_counter() - begin, transcript.audio_seconds)
        except NoSpeechError:
            reading = Reading(clip["clip"], "", [], time.perf_counter() - begin, clip["seconds"], "no_speech")
        except AudioError as exc:
            reading = Reading(clip["clip"], "", [], time.perf_counter() - begin, clip["seconds"],
                              type(exc).__name__)
        reading.cpu_seconds = time.process_time() - cpu
        readings[clip["clip"]] = reading
        if progress and (index % 50 == 0 or index == len(clips)):
            elapsed = time.perf_counter() - started
            print(f"  {label} {index}/{len(clips)} clips, {elapsed:.0f} s", file=sys.stderr, flush=True)
    return readings


def cached_readings(speech: SpeechInput, settings: Settings, clips: Sequence[dict[str, Any]], folder: Path, *,
                    reuse: bool, label: str) -> dict[str, Reading]:
    """Recognises the clips, or (``reuse``) takes them from the cache of the same engine configuration."""
    cache = folder / f"transcripts-{engine_key(settings, speech)}.jsonl"
    known: dict[str, Reading] = {}
    if reuse and cache.is_file():
        for line in cache.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                known[row["clip"]] = Reading(**row)
    todo = [c for c in clips if c["clip"] not in known]
    if todo:
        fresh = recognise_clips(speech, todo, folder, label=label)
        known.update(fresh)
        with cache.open("w", encoding="utf-8") as handle:
            for reading in known.values():
                handle.write(json.dumps(asdict(reading), ensure_ascii=False) + "\n")
    return {c["clip"]: known[c["clip"]] for c in clips}


def make_speech(settings: Settings, *, prompt: bool = True) -> SpeechInput:
    """The real engine as the app builds it (``SpeechInput.from_settings``), loaded; exits if it cannot."""
    speech = SpeechInput.from_settings(settings.model_copy(update={"asr_prompt": prompt}))
    if not speech.enabled or speech.recognizer.name != "faster-whisper":
        raise SystemExit(f"error: asr_engine is {settings.asr_engine!r}; this benchmark needs faster-whisper")
    try:
        speech.recognizer.load()
    except AsrError as exc:
        raise SystemExit(f"error: {exc} (SHEQU_VAR_DIR={settings.var_dir})") from None
    return speech


# --------------------------------------------------------------------------------------------- scoring


class _SpokenEngine:
    """The dialogue engine seen through a table: request text is a key to (reading, alternatives)."""

    def __init__(self, engine: Any, table: dict[str, tuple[str, list[str]]]) -> None:
        self._engine = engine
        self._table = table

    def handle(self, request: Any) -> Any:
        from assistant.dialogue.schemas import ChatRequest

        text, alternatives = self._table[request.text]
        return self._engine.handle(ChatRequest(session_id=request.session_id, text=text, channel="kiosk",
                                               alternatives=alternatives[:3]))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


class Scorer:
    """The dialogue engine in-process (as ``shequ eval`` builds it) on a throw-away database."""

    def __init__(self, settings: Settings) -> None:
        from assistant.context import create_context
        from assistant.dialogue.factory import build_engine

        self._tmp = tempfile.TemporaryDirectory(prefix="asr-bench-db-")
        db = Path(self._tmp.name) / "bench.db"
        self.settings = settings.model_copy(update={"database_url": f"sqlite:///{db.as_posix()}"})
        self.context = create_context(self.settings)
        self.engine = build_engine(self.context)
        entries = self.context.kb.current().entries
        self.category_of = {entry_id: entry.category for entry_id, entry in entries.items()}

    def close(self) -> None:
        self.context.close()
        self._tmp.cleanup()

    def typed(self, sentences: Sequence[dict[str, Any]]) -> EvalReport:
        cases = [{"q": s["q"], "expect": s["expect"]} for s in sentences]
        return evaluate({"cases": cases}, engine_responder(self.engine), self.category_of)

    def spoken(self, items: Sequence[tuple[str, str, list[str], dict[str, Any]]]) -> EvalReport:
        """``items``: (key, reading, alternatives, expect); a key's case is missed when the reading is empty."""
        table = {key: (text, alts) for key, text, alts, _ in items}
        inner = engine_responder(_SpokenEngine(self.engine, table))

        def respond(session_id: str | None, key: str) -> Prediction:
            if not table[key][0]:
                return Prediction(None, None, None, action="no_speech")
            return inner(session_id, key)

        cases = [{"q": key, "expect": expect} for key, _, _, expect in items]
        return evaluate({"cases": cases}, respond, self.category_of)


def missed(report: EvalReport) -> set[str]:
    return {m.query for m in report.misses}


@dataclass
class ConditionResult:
    condition: str
    clips: int
    cer: dict[str, CerCount]
    correct: dict[str, int]  # first reading, per language and "all"
    correct_nbest: dict[str, int]
    typed: dict[str, int]
    total: dict[str, int]
    no_speech: int
    seconds: float  # mean recognition time
    seconds_p50: float
    seconds_p90: float
    cpu_seconds: float  # mean CPU time per recognition
    audio: float  # mean clip length
    wrong: dict[str, int] = field(default_factory=dict)  # answered with a wrong topic: typed, first, n-best
    unsure: int = 0  # first reading not answered, and alternatives exist
    rescued: int = 0
    broken: int = 0
    misled: int = 0  # first reading not answered; with the alternatives, a wrong answer
    oracle: int = 0


def quantile(values: Sequence[float], q: float) -> float:
    """The nearest-rank quantile (0 for no values)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] if ordered else 0.0


def wrong_answers(report: EvalReport) -> int:
    """Misses the engine answered anyway (a wrong topic, or an emergency): worse than 'please say it again'."""
    return sum(1 for m in report.misses if m.got.get("action") in ANSWERED)


def score_condition(scorer: Scorer, name: str, clips: Sequence[dict[str, Any]], readings: dict[str, Reading],
                    typed_ok: set[str], *, oracle: bool = True, typed_wrong: frozenset[str] = frozenset(),
                    ) -> ConditionResult:
    cer = {lang: CerCount() for lang in LANGS}
    for clip in clips:
        cer[clip["lang"]].add(clip["text"], readings[clip["clip"]].text)
    first_items = [(c["clip"], readings[c["clip"]].text, [], c["expect"]) for c in clips]
    nbest_items = [(c["clip"], readings[c["clip"]].text, readings[c["clip"]].alternatives, c["expect"]) for c in clips]
    first = scorer.spoken(first_items)
    nbest = scorer.spoken(nbest_items)
    wrong_first, wrong_nbest = missed(first), missed(nbest)

    def count(keys_ok: Callable[[dict[str, Any]], bool]) -> dict[str, int]:
        out = {lang: sum(1 for c in clips if c["lang"] == lang and keys_ok(c)) for lang in LANGS}
        out["all"] = out["zh"] + out["yue"]
        return out

    result = ConditionResult(
        name, len(clips), cer,
        correct=count(lambda c: c["clip"] not in wrong_first),
        correct_nbest=count(lambda c: c["clip"] not in wrong_nbest),
        typed=count(lambda c: c["sentence"] in typed_ok),
        total=count(lambda c: True),
        no_speech=sum(1 for c in clips if not readings[c["clip"]].text),
        seconds=sum(readings[c["clip"]].seconds for c in clips) / max(len(clips), 1),
        seconds_p50=quantile([readings[c["clip"]].seconds for c in clips], 0.5),
        seconds_p90=quantile([readings[c["clip"]].seconds for c in clips], 0.9),
        cpu_seconds=sum(readings[c["clip"]].cpu_seconds for c in clips) / max(len(clips), 1),
        audio=sum(c["seconds"] for c in clips) / max(len(clips), 1),
    )
    # The engine's view of the first reading: unsure (not answered) while alternatives exist.
    first_actions = {m.query: m.got.get("action") for m in first.misses}
    result.wrong = {"first": wrong_answers(first), "nbest": wrong_answers(nbest),
                    "typed": sum(1 for c in clips if c["sentence"] in typed_wrong)}
    with_alts = [c for c in clips if readings[c["clip"]].alternatives]
    result.unsure = sum(1 for c in with_alts if first_actions.get(c["clip"], "answer") not in ANSWERED)
    result.rescued = sum(1 for c in clips if c["clip"] in wrong_first and c["clip"] not in wrong_nbest)
    result.broken = sum(1 for c in clips if c["clip"] not in wrong_first and c["clip"] in wrong_nbest)
    nbest_actions = {m.query: m.got.get("action") for m in nbest.misses}
    result.misled = sum(1 for c in with_alts if first_actions.get(c["clip"], "answer") not in ANSWERED
                        and nbest_actions.get(c["clip"]) in ANSWERED)
    if oracle:
        alone = [(f"{c['clip']}#{i}", text, [], c["expect"]) for c in with_alts
                 for i, text in enumerate(readings[c["clip"]].alternatives, 1)]
        wrong_alone = missed(scorer.spoken(alone)) if alone else set()
        right_alt = {key.split("#")[0] for key, *_ in alone if key not in wrong_alone}
        result.oracle = sum(1 for c in clips if c["clip"] not in wrong_first or c["clip"] in right_alt)
    return result


# --------------------------------------------------------------------------------------------- report


def _pct(a: int, b: int) -> str:
    return f"{a / b:.1%}" if b else "—"


def machine_line() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0]
    return (f"{os.cpu_count()} cores ({cpu or platform.processor()}), Python {platform.python_version()}, "
            f"load average {load:.2f} at the end")


def engine_line(settings: Settings) -> str:
    return (f"faster-whisper, Whisper base, compute {asr_whisper.COMPUTE_TYPE}, beam {asr_whisper.BEAM_SIZE}, "
            f"n-best {asr_whisper.N_BEST}, {settings.asr_threads} threads, prompt "
            f"{'on' if settings.asr_prompt else 'off'}")


def condition_table(results: Sequence[ConditionResult]) -> list[str]:
    lines = [
        "| condition | clips | CER zh | CER yue | top-1 typed | top-1 spoken | spoken + n-best | "
        "wrong answers typed / spoken / n-best | no speech | recognition s: p50, p90; CPU s (clip s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.condition} | {r.clips} | {r.cer['zh'].rate:.1%} | {r.cer['yue'].rate:.1%} | "
            f"{_pct(r.typed['all'], r.total['all'])} | {_pct(r.correct['all'], r.total['all'])} | "
            f"{_pct(r.correct_nbest['all'], r.total['all'])} | "
            f"{r.wrong['typed']} / {r.wrong['first']} / {r.wrong['nbest']} | {r.no_speech} | "
            f"{r.seconds_p50:.2f}, {r.seconds_p90:.2f}; {r.cpu_seconds:.2f} ({r.audio:.1f}) |")
    return lines


def language_table(results: Sequence[ConditionResult]) -> list[str]:
    lines = ["| condition | zh typed | zh spoken | zh + n-best | yue typed | yue spoken | yue + n-best |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        cells = []
        for lang in LANGS:
            n = r.total[lang]
            cells += [_pct(r.typed[lang], n), _pct(r.correct[lang], n), _pct(r.correct_nbest[lang], n)]
        lines.append(f"| {r.condition} | " + " | ".join(cells) + " |")
    return lines


def nbest_table(results: Sequence[ConditionResult]) -> list[str]:
    lines = ["| condition | first reading unsure (with alternatives) | rescued by an alternative | "
             "right answer lost | unsure turned into a wrong answer | oracle: some reading right |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r.condition} | {r.unsure} | {r.rescued} | {r.broken} | {r.misled} | "
                     f"{_pct(r.oracle, r.total['all'])} (first reading {_pct(r.correct['all'], r.total['all'])}) |")
    return lines


def prompt_echoes(readings: Iterable[Reading], prompt: str) -> int:
    """Readings made only of pieces of the prompt (Whisper repeating its context instead of hearing).

    A piece is what lies between punctuation marks; pieces of one character do not count.
    """
    context = cer_units(prompt)

    def echo(text: str) -> bool:
        pieces = [cer_units(piece) for piece in re.split(r"[\W_]+", text)]
        pieces = [piece for piece in pieces if len(piece) >= 2]
        return bool(pieces) and all(piece in context for piece in pieces)

    return sum(1 for r in readings if echo(r.text))


def prompt_table(on: ConditionResult, off: ConditionResult, echoes: tuple[int, int]) -> list[str]:
    lines = ["| prompt | CER zh | CER yue | top-1 spoken | spoken + n-best | wrong answers (first reading) | "
             "reading = a piece of the prompt | no speech | recognition s: p50, p90; CPU s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, r, echo in (("on", on, echoes[0]), ("off", off, echoes[1])):
        lines.append(f"| {label} | {r.cer['zh'].rate:.1%} | {r.cer['yue'].rate:.1%} | "
                     f"{_pct(r.correct['all'], r.total['all'])} | {_pct(r.correct_nbest['all'], r.total['all'])} | "
                     f"{r.wrong['first']} | {echo} | {r.no_speech} | {r.seconds_p50:.2f}, {r.seconds_p90:.2f}; {r.cpu_seconds:.2f} |")
    return lines


def write_section(path: Path, name: str, body: str) -> None:
    """Replaces the text between ``<!-- begin NAME -->`` and ``<!-- end NAME -->`` (appends it when absent)."""
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Speech recognition results\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", dest="folder", type=Path, default=DEFAULT_SET, help="the built set's folder")
    parser.add_argument("--conditions", help="comma-separated condition globs (default: all)")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--prompt-condition", default="s130-clean", help="where prompt on/off is compared")
    parser.add_argument("--no-prompt-check", action="store_true")
    parser.add_argument("--no-oracle", action="store_true", help="skip the n-best oracle (fewer dialogue turns)")
    parser.add_argument("--reuse", action="store_true", help="reuse cached transcripts of the same engine settings")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--log-level", default="ERROR")
    args = parser.parse_args(argv)

    import bm25s  # noqa: F401  (both set their loggers to DEBUG on import: import them before configuring)
    import jieba  # noqa: F401

    from assistant.logging_setup import configure_logging

    configure_logging(args.log_level)
    settings = get_settings()
    all_clips, info = load_set(args.folder)
    clips = pick(all_clips, args.conditions.split(",") if args.conditions else None, args.limit)
    if not clips:
        raise SystemExit("error: no clips match --conditions/--limit")
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    speech = make_speech(settings, prompt=settings.asr_prompt)
    load_seconds = getattr(speech.recognizer, "load_seconds", None)
    readings = cached_readings(speech, settings, clips, args.folder, reuse=args.reuse, label="recognising")

    scorer = Scorer(settings)
    try:
        sentences = {c["sentence"]: {"q": c["text"], "expect": c["expect"]} for c in clips}
        typed = scorer.typed(list(sentences.values()))
        wrong_typed = missed(typed)
        typed_ok = {sid for sid, s in sentences.items() if s["q"] not in wrong_typed}
        answered_wrong = {m.query for m in typed.misses if m.got.get("action") in ANSWERED}
        typed_wrong = frozenset(sid for sid, s in sentences.items() if s["q"] in answered_wrong)
        results = []
        for name in condition_names(clips):
            group = [c for c in clips if c["condition"] == name]
            results.append(score_condition(scorer, name, group, readings, typed_ok, oracle=not args.no_oracle,
                                           typed_wrong=typed_wrong))
        prompt_pair: tuple[ConditionResult, ConditionResult] | None = None
        prompt_clips = pick(all_clips, [args.prompt_condition], args.limit)
        if not args.no_prompt_check and prompt_clips:
            other = not settings.asr_prompt
            flipped = make_speech(settings, prompt=other)
            prompting = speech if settings.asr_prompt else flipped
            flipped_readings = cached_readings(flipped, settings, prompt_clips, args.folder, reuse=args.reuse,
                                               label=f"prompt {'on' if other else 'off'}")
            base_readings = {c["clip"]: readings[c["clip"]] for c in prompt_clips if c["clip"] in readings}
            if len(base_readings) < len(prompt_clips):
                base_readings = cached_readings(speech, settings, prompt_clips, args.folder, reuse=True, label="")
            base = score_condition(scorer, args.prompt_condition, prompt_clips, base_readings, typed_ok, oracle=False)
            flip = score_condition(scorer, args.prompt_condition, prompt_clips, flipped_readings, typed_ok,
                                   oracle=False)
            prompt_text = next(iter(prompting.recognizer.prompts.values()))
            on_readings, off_readings = ((base_readings, flipped_readings) if settings.asr_prompt
                                         else (flipped_readings, base_readings))
            prompt_pair = (base, flip) if settings.asr_prompt else (flip, base)
            echoes = (prompt_echoes(on_readings.values(), prompt_text),
                      prompt_echoes(off_readings.values(), prompt_text))
    finally:
        scorer.close()

    sentences_n = len({c["sentence"] for c in clips})
    langs = {lang: len({c["sentence"] for c in clips if c["lang"] == lang}) for lang in LANGS}
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} by `benchmarks/asr_speech.py"
        f"{' ' + ' '.join(argv if argv is not None else sys.argv[1:])}`"
        f" on {machine_line()}.",
        f"Engine: {engine_line(settings)}; model loaded in {load_seconds or 0:.2f} s.",
        f"Set: {sentences_n} questions ({langs['zh']} Mandarin `{info.get('voices', {}).get('zh', '?')}`, "
        f"{langs['yue']} Cantonese `{info.get('voices', {}).get('yue', '?')}`), {len(clips)} clips; "
        f"typed top-1 on these questions {typed.topic_correct}/{typed.topic_total}. "
        f"Run took {(time.perf_counter() - started) / 60:.1f} min (load average {load_before:.2f} at the start).",
        "",
        "### Per condition (all questions)",
        "",
        *condition_table(results),
        "",
        "### Topic top-1 per language",
        "",
        *language_table(results),
        "",
        "### n-best alternatives (passed to the engine as `ChatRequest.alternatives`)",
        "",
        *nbest_table(results),
    ]
    if prompt_pair:
        lines += ["", f"### Prompt on vs off ({args.prompt_condition})", "", *prompt_table(*prompt_pair, echoes)]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(args.results, "asr_speech", text)
        print(f"\nwritten to {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
