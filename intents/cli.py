"""``shequ intents …``: train and evaluate the intent classifier, classify a line, export for Rasa.

User errors (bad paths, broken training data, a non-empty export directory) end in one line on
stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import IO, Any

import click

from intents.base import DATA_DIR, FallbackThresholds
from intents.errors import IntentsError

log = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path("var") / "intents"


class IntentsCliError(click.ClickException):
    """Printed as one line in Chinese and English, like the rest of ``shequ``."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"错误 / error: {self.format_message()}", err=True)


def _thresholds(confidence: float, ambiguity: float) -> FallbackThresholds:
    try:
        return FallbackThresholds(confidence, ambiguity)
    except ValueError as e:
        raise IntentsCliError(str(e)) from e


_data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=DATA_DIR, show_default=True,
    help="directory holding nlu.yml, domain.yml and rules.yml",
)
_threshold_options = (
    click.option("--confidence-threshold", type=float, default=0.45, show_default=True),
    click.option("--ambiguity-threshold", type=float, default=0.08, show_default=True),
)


def _with_thresholds(command):  # type: ignore[no-untyped-def]
    for option in reversed(_threshold_options):
        command = option(command)
    return command


@click.group(name="intents")
def intents() -> None:
    """意图识别 / intent classifier: train, evaluate, classify, export for Rasa."""


@intents.command("train")
@click.option("--model-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_MODEL_DIR,
              show_default=True, help="where the trained model is saved")
@_data_dir_option
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True,
              help="cross-validation folds")
@click.option("--no-cv", is_flag=True, help="skip cross-validation")
@click.option("--force", is_flag=True, help="retrain even when the saved model matches the data")
def train_command(model_dir: Path, data_dir: Path, folds: int, no_cv: bool, force: bool) -> None:
    """Cross-validates, prints per-intent accuracy, then trains and saves the model."""
    from intents.sklearn_classifier import SklearnIntentClassifier

    classifier = SklearnIntentClassifier(model_dir=model_dir, data_dir=data_dir)
    try:
        if not no_cv:
            report = classifier.cross_validate(folds=folds)
            click.echo(f"{folds}-fold cross-validated accuracy per intent:")
            click.echo(f"  {'intent':<22}{'examples':>9}{'accuracy':>10}")
            for intent, accuracy in sorted(report.per_intent.items(), key=lambda kv: kv[1]):
                click.echo(f"  {intent:<22}{report.support[intent]:>9}{accuracy:>10.1%}")
            click.echo(f"  {'overall':<22}{sum(report.support.values()):>9}{report.accuracy:>10.1%}")
        summary = classifier.train(force=force)
    except IntentsError as e:
        raise IntentsCliError(str(e)) from e
    state = "unchanged, reused" if summary.loaded_from_cache else "trained"
    click.echo(f"model {state}: {model_dir / 'intent_model.joblib'} (data {summary.data_hash[:12]})")


@intents.command("classify")
@click.argument("text")
@click.option("--model-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_MODEL_DIR,
              show_default=True)
@_data_dir_option
@_with_thresholds
@click.option("--json", "as_json", is_flag=True, help="print the full result as JSON")
def classify_command(text: str, model_dir: Path, data_dir: Path, confidence_threshold: float,
                     ambiguity_threshold: float, as_json: bool) -> None:
    """Classifies one message (personal numbers in the output are masked)."""
    from intents.sklearn_classifier import SklearnIntentClassifier

    classifier = SklearnIntentClassifier(
        model_dir=model_dir, data_dir=data_dir, thresholds=_thresholds(confidence_threshold, ambiguity_threshold)
    )
    try:
        result = classifier.classify(text)
    except IntentsError as e:
        raise IntentsCliError(str(e)) from e
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(f"{result.name} {result.confidence:.2f}"
               + (f" ({result.fallback_reason})" if result.fallback_reason else ""))
    for name, confidence in result.ranking[:3]:
        click.echo(f"  {name:<22}{confidence:.3f}")
    for entity in result.entities:
        value = entity.as_dict()["value"]
        click.echo(f"  [{entity.type}] {value}" + (" (约)" if entity.approximate else ""))


@intents.command("export-rasa")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@_data_dir_option
@_with_thresholds
@click.option("--force", is_flag=True, help="write into a non-empty directory, replacing project files")
def export_rasa_command(directory: Path, data_dir: Path, confidence_threshold: float,
                        ambiguity_threshold: float, force: bool) -> None:
    """Writes a Rasa 3.6 project (config, domain, data) into DIRECTORY."""
    from intents.export_rasa import export_rasa_project

    try:
        written = export_rasa_project(
            directory, data_dir=data_dir, overwrite=force,
            thresholds=_thresholds(confidence_threshold, ambiguity_threshold),
        )
    except IntentsError as e:
        raise IntentsCliError(str(e)) from e
    click.echo(f"Rasa project written to {directory} ({len(written)} files); "
               f"run `rasa train` there")
