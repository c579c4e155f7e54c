"""Charts as inline SVG rendered on the server: no JavaScript library, no CDN, readable without scripts.

Every label passes through ``markupsafe.escape``: topic titles and channel names end up inside the SVG.
Callers pass labels already in Chinese (``zh``); rates are shown as percentages with the console's one helper.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from assistant.labels import percent as percent_text

PALETTE = ("#1f5fa8", "#c0392b", "#2e8b57", "#b9770e", "#6c3483", "#117a8b")


def hbar(items: Sequence[tuple[str, float]], *, title: str, width: int = 560, percent: bool = False) -> Markup:
    """Horizontal bars, one per (label, value): for top topics, clusters, statuses."""
    row, label_w = 26, 210
    height = max(1, len(items)) * row + 30
    peak = max((v for _, v in items), default=0) or 1
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
             f'<title>{escape(title)}</title>']
    if not items:
        parts.append('<text x="8" y="20" class="muted">暂无数据</text>')
    for i, (label, value) in enumerate(items):
        y = 8 + i * row
        bar = (width - label_w - 70) * (value / peak)
        shown = percent_text(value, 0) if percent else f"{value:g}"
        text = str(label) if len(str(label)) <= 14 else str(label)[:13] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end">{escape(text)}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{bar:.1f}" height="{row - 8}" fill="{PALETTE[0]}">'
                     f'<title>{escape(str(label))}: {escape(shown)}</title></rect>'
                     f'<text x="{label_w + bar + 6:.1f}" y="{y + 16}">{escape(shown)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(labels: Sequence[str], series: dict[str, Sequence[float]], *, title: str, width: int = 560,
            height: int = 220, percent: bool = False) -> Markup:
    """Grouped columns per period (week), one colour per series, with a legend."""
    left, bottom, top = 44, 34, 26
    plot_h = height - bottom - top
    n = max(1, len(labels))
    group_w = (width - left - 10) / n
    names = list(series)
    bar_w = max(2.0, (group_w - 6) / max(1, len(names)))
    peak = max((v for values in series.values() for v in values), default=0) or 1
    if percent:
        peak = max(peak, 1.0) if peak > 1 else 1.0
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
             f'<title>{escape(title)}</title>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 6}" y2="{top + plot_h}" stroke="#555"/>',
             f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" class="axis">'
             f'{escape(percent_text(peak, 0) if percent else f"{peak:g}")}</text>',
             f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" class="axis">0</text>']
    for s, name in enumerate(names):
        parts.append(f'<rect x="{left + s * 110}" y="4" width="12" height="12" fill="{PALETTE[s % len(PALETTE)]}"/>'
                     f'<text x="{left + s * 110 + 16}" y="15" class="legend">{escape(name)}</text>')
    for i, label in enumerate(labels):
        x0 = left + i * group_w + 3
        for s, name in enumerate(names):
            value = float(series[name][i]) if i < len(series[name]) else 0.0
            h = plot_h * (value / peak)
            shown = percent_text(value, 0) if percent else f"{value:g}"
            parts.append(f'<rect x="{x0 + s * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 1:.1f}" '
                         f'height="{h:.1f}" fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(label)} '
                         f'{escape(name)}: {escape(shown)}</title></rect>')
        parts.append(f'<text x="{x0 + group_w / 2 - 3:.1f}" y="{height - 12}" text-anchor="middle" class="axis">'
                     f'{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
