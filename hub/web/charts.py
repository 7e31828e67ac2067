"""Server-rendered SVG bar charts (no script, readable when printed), with the numbers written on
the bars so colour is never the only cue."""
from __future__ import annotations

from markupsafe import Markup, escape

PALETTE = ("#1f5fa8", "#c0392b", "#2e7d32", "#8e44ad", "#b9770e", "#455a64")


def bars(rows: list[tuple[str, list[float]]], series: list[str], *, width: int = 760, bar_h: int = 28,
         title: str = "", colours: tuple[str, ...] = PALETTE) -> Markup:
    """Horizontal grouped bars: one group per row label, one bar per series, with a legend.

    Args:
        rows: ``(label, [value per series])``.
        series: the series names (legend).
        colours: one per series (e.g. red for 紧急, never green).
    """
    label_w, pad = max(120, 20 * max((len(label) for label, _v in rows), default=6) + 16), 8
    top = 40 if title else 12
    legend_h = 30
    group_h = bar_h * len(series) + pad
    height = top + legend_h + max(1, len(rows)) * group_h + 10
    peak = max((v for _l, vals in rows for v in vals), default=0) or 1
    scale = (width - label_w - 70) / peak
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
           f'width="100%" style="max-width:{width}px" font-family="Noto Sans CJK SC, sans-serif">']
    if title:
        out.append(f'<text x="0" y="26" font-size="22" font-weight="bold">{escape(title)}</text>')
    x = label_w
    for i, name in enumerate(series):
        out.append(f'<rect x="{x}" y="{top}" width="18" height="18" fill="{colours[i % len(colours)]}"/>'
                   f'<text x="{x + 24}" y="{top + 15}" font-size="17">{escape(name)}</text>')
        x += 40 + 17 * len(name) + 20
    y = top + legend_h
    for label, values in rows:
        out.append(f'<text x="{label_w - 10}" y="{y + group_h / 2}" font-size="18" text-anchor="end" '
                   f'dominant-baseline="middle">{escape(label)}</text>')
        for i, v in enumerate(values):
            w = max(1.0, v * scale)
            by = y + i * bar_h
            out.append(f'<rect x="{label_w}" y="{by}" width="{w:.1f}" height="{bar_h - 4}" '
                       f'fill="{colours[i % len(colours)]}"/>'
                       f'<text x="{label_w + w + 6:.1f}" y="{by + bar_h / 2}" font-size="17" '
                       f'dominant-baseline="middle">{v:g}</text>')
        y += group_h
    out.append("</svg>")
    return Markup("".join(out))
