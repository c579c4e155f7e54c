"""Imports every module that declares tables, so ``Base.metadata`` is complete for migrations.

Feature packages that add tables (console, handoff, channels) list their model module here.
"""

from __future__ import annotations

import importlib

from assistant.storage import models  # noqa: F401 - registers the core tables
from assistant.storage.models import Base

FEATURE_MODEL_MODULES: list[str] = [
    "assistant.auth.models",
    "assistant.communities.models",
    "assistant.console.models",
    "assistant.handoff.models",
    "assistant.channels.models",
    "assistant.events.models",
    "assistant.privacy.models",
    "assistant.kiosks.models",
    "assistant.bulletins.models",
    "assistant.channels.subscribers",  # WeChat/WeCom subscribers for warning pushes (0019_wechat_subscribers)
]

for _module in FEATURE_MODEL_MODULES:
    importlib.import_module(_module)

metadata = Base.metadata
