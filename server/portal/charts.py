"""Bar charts as SVG drawn on the server: no script, printable, the same numbers in a table beneath.

A chart is a pure function of its rows; the template puts the table with the
same figures right under it, which is what screen readers and print read.
"""

from __future__ import annotations

from html import escape
from typing import Final, Sequence

WIDTH: Final = 340  # fits a 360 px phone with the page's margins; scales up on a desktop
BAR_H: Final = 26
GAP: Final = 10
LABEL_W: Final = 105
MAX_BARS: Final = 24  # a chart with more rows shows the first ones; the table shows all


def bars(rows: Sequence[tuple[str, int]], value_text: Sequence[str], title: str) -> str:
    """Horizontal bars, one per (label, value >= 0); `value_text` is each value as people read it."""
    rows = list(rows)[:MAX_BARS]
    top = max([v for _, v in rows] + [1])
    height = len(rows) * (BAR_H + GAP) + GAP
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" '
             f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>']
    room = WIDTH - LABEL_W - 85  # the value is written right of its bar
    for i, ((label, value), shown) in enumerate(zip(rows, value_text, strict=False)):
        y = GAP + i * (BAR_H + GAP)
        w = max(2, int(room * max(value, 0) / top))
        parts.append(f'<text x="0" y="{y + 18}" class="chart-label">{escape(label[:16])}</text>'
                     f'<rect x="{LABEL_W}" y="{y}" width="{w}" height="{BAR_H}" rx="3" class="chart-bar"/>'
                     f'<text x="{LABEL_W + w + 6}" y="{y + 18}" class="chart-value">{escape(shown)}</text>')
    parts.append("</svg>")
    return "".join(parts)
