"""Module-scoped console tests need the tiny knowledge base outside function-scoped fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

from assistant.settings import Settings

_TESTS = Path(__file__).resolve().parents[1]


def tiny_settings(directory: Path) -> Settings:
    if str(_TESTS) not in sys.path:
        sys.path.insert(0, str(_TESTS))
    from conftest import write_kb_files  # the shared tiny KB, same content as the ``tiny_kb_dir`` fixture

    kb_dir = write_kb_files(directory / "kb")
    return Settings(_env_file=None, var_dir=directory, database_url=f"sqlite:///{(directory / 'shequ.db').as_posix()}",
                    kb_data_dir=kb_dir, index_dir=directory / "index")
