"""Module-scoped console tests need the tiny knowledge base outside function-scoped fixtures."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from assistant.settings import Settings

_TESTS = Path(__file__).resolve().parents[1]


def _root_conftest() -> ModuleType:
    # Loaded by path under its own name: "conftest" in sys.modules is whichever conftest.py pytest
    # imported last (tests/kiosk_app/ has one too).
    spec = importlib.util.spec_from_file_location("shequ_tests_root_conftest", _TESTS / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_settings(directory: Path) -> Settings:
    # The shared tiny KB, same content as the ``tiny_kb_dir`` fixture.
    kb_dir = _root_conftest().write_kb_files(directory / "kb")
    return Settings(_env_file=None, var_dir=directory, database_url=f"sqlite:///{(directory / 'shequ.db').as_posix()}",
                    kb_data_dir=kb_dir, index_dir=directory / "index")
