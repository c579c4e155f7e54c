"""Registers every package's command group on the ``shequ`` group."""

from __future__ import annotations

import importlib
import logging

import click

log = logging.getLogger(__name__)

# (module, attribute) of each click command/group; a package that is not there yet is skipped.
_COMMANDS: list[tuple[str, str]] = [
    ("assistant.commands.serve", "serve"),
    ("assistant.commands.kb", "kb"),
    ("assistant.commands.evaluate", "eval_command"),
    ("assistant.commands.bench", "bench"),
    ("assistant.commands.users", "users"),
    ("assistant.commands.orders", "orders"),
    ("assistant.commands.kiosk", "kiosk"),
    ("assistant.commands.kiosks", "kiosks"),
    ("assistant.commands.privacy", "privacy"),
    ("assistant.commands.asr", "asr"),
    ("assistant.commands.communities", "communities"),
    ("assistant.commands.db", "db"),
    ("assistant.commands.worker", "worker"),
    ("assistant.commands.warnings", "warnings"),  # issue 17: CAP import, feed poll, list
    ("intents.cli", "intents"),
    ("device_adapters.cli", "devices"),
]


def register(group: click.Group) -> None:
    for module_name, attribute in _COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        group.add_command(getattr(module, attribute))
