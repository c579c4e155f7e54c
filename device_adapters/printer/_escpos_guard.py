"""Import python-escpos without letting it configure the process's logging.

``escpos.capabilities`` calls ``logging.basicConfig()`` at import time. When that import happens before the
application configures logging, the root logger gets a second, unfiltered stderr handler: every line is
printed twice, once without the filter that masks personal data. The handler is removed again here.
This module is imported first by ``device_adapters.printer``.
"""

from __future__ import annotations

import logging

_root = logging.getLogger()
_before = list(_root.handlers)

import escpos.capabilities  # noqa: E402, F401

for _handler in list(_root.handlers):
    if _handler not in _before:
        _root.removeHandler(_handler)
