"""The one place that imports python-escpos at module level, without letting it configure logging.

``escpos.capabilities`` calls ``logging.basicConfig()`` at import time. When that import happens before the
application configures logging, the root logger gets a second, unfiltered stderr handler: every line is
printed twice, once without the filter that masks personal data. The handler is removed again here, so every
other module takes python-escpos' names from this one.
"""

from __future__ import annotations

import logging

_root = logging.getLogger()
_before = list(_root.handlers)

import escpos.capabilities  # noqa: E402, F401
from escpos.escpos import Escpos  # noqa: E402
from escpos.exceptions import Error as EscposError  # noqa: E402
from escpos.exceptions import ImageWidthError  # noqa: E402
from escpos.printer import Dummy  # noqa: E402

for _handler in list(_root.handlers):
    if _handler not in _before:
        _root.removeHandler(_handler)

__all__ = ["Dummy", "Escpos", "EscposError", "ImageWidthError"]
