"""Finding the CJK font the kiosk registers as Kivy's default.

Kivy's bundled Roboto has no Chinese glyphs, so the kiosk must register a CJK font before any widget is
built. It must be WenQuanYi Micro Hei: the Noto CJK ``.ttc`` files would load face 0, the Japanese face
(直/骨/角 in Japanese shapes), and Kivy's SDL2 text provider cannot choose another face. So Noto CJK is
deliberately not a fallback here. No Kivy import: the kiosk calls
``LabelBase.register(DEFAULT_FONT, str(cjk_font_path()))``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from .errors import FontNotFoundError

__all__ = ["CJK_FONT_CANDIDATES", "CJK_FONT_NAME", "WQY_MICROHEI_PATH", "cjk_font_path"]

logger = logging.getLogger(__name__)

CJK_FONT_NAME = "WenQuanYiMicroHei"
WQY_MICROHEI_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
# Debian/Ubuntu first, then Fedora/openSUSE/Arch layouts of the same font.
CJK_FONT_CANDIDATES: tuple[Path, ...] = (
    WQY_MICROHEI_PATH,
    Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy-microhei/wqy-microhei.ttc"),
    Path("/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc"),
)


def cjk_font_path(configured: str | Path | None = None, candidates: Iterable[Path] = CJK_FONT_CANDIDATES) -> Path:
    """Path of the CJK font file.

    ``configured`` (from settings) wins when given and must exist; otherwise the first existing
    candidate. Raises :class:`FontNotFoundError` naming the Debian package to install.
    """
    if configured is not None:
        path = Path(configured).expanduser()
        if path.is_file():
            return path
        raise FontNotFoundError(f"configured kiosk font not found: {path}")
    searched = list(candidates)
    for path in searched:
        if path.is_file():
            logger.debug("CJK font found at %s", path)
            return path
    raise FontNotFoundError(
        "WenQuanYi Micro Hei not found (looked in "
        + ", ".join(str(p) for p in searched)
        + "); install it with: apt-get install fonts-wqy-microhei"
    )
