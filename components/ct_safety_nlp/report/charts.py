"""Inline-SVG charts for :mod:`ct_safety_nlp.report`: bars, lines, timelines.

Each function returns an ``<svg>`` string wrapped in ``<div class="chart">``.
Colours are the Okabe–Ito palette (distinguishable with the common colour
vision deficiencies); every mark has a ``<title>`` tooltip; marks may link
(``href``) to the documents behind them. Values may be negative (waterfall
plots); axes get "nice" ticks.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence

from .page import escape

__all__ = ["PALETTE", "bar_chart", "line_chart", "timeline_chart", "nice_ticks"]

#: Okabe–Ito colours, in the order series use them.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
_FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif"'


def nice_ticks(lo: float, hi: float, count: int = 5) -> List[float]:
    """Round tick values covering [lo, hi] (1, 2, 2.5, 5 x 10^k steps)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"nice_ticks needs finite bounds, got {lo!r}, {hi!r}")
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 10))
        t += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _fmt_tick(value: float) -> str:
    if abs(value - round(value)) < 1e-9:
        return f"{int(round(value)):,}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _check_series(categories: Sequence[Any], series: Mapping[str, Sequence[Optional[float]]], where: str) -> None:
    if not series:
        raise ValueError(f"{where}: at least one series is needed")
    for name, values in series.items():
        if len(values) != len(categories):
            raise ValueError(f"{where}: series {name!r} has {len(values)} values for {len(categories)} categories")
        for v in values:
            if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v)):
                raise ValueError(f"{where}: series {name!r} has a non-numeric value {v!r}")


def _wrap(svg: str, title: Optional[str]) -> str:
    label = f' aria-label="{escape(title)}"' if title else ""
    return f'<div class="chart" role="img"{label}>{svg}</div>'


def _legend(names: Sequence[str], x: float, y: float, colors: Optional[Mapping[str, str]] = None) -> List[str]:
    out, cx = [], x
    for i, name in enumerate(names):
        color = (colors or {}).get(name) or PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{cx:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{cx + 14:.1f}" y="{y:.1f}" font-size="12" {_FONT}>{escape(name)}</text>')
        cx += 24 + 7 * len(str(name))
    return out


def bar_chart(
    categories: Sequence[Any],
    series: Mapping[str, Sequence[Optional[float]]],
    *,
    title: Optional[str] = None,
    x_label: Optional[str] = None,
    y_label: Optional[str] = None,
    horizontal: bool = False,
    stacked: bool = False,
    value_format: str = "{:.1f}",
    show_values: bool = False,
    links: Optional[Mapping[str, Sequence[Optional[str]]]] = None,
    width: int = 720,
    bar_size: int = 18,
    y_max: Optional[float] = None,
    colors: Optional[Mapping[str, str]] = None,
) -> str:
    """Grouped (or stacked) bars, one group per category, one colour per series.

    colors: series name -> CSS colour (e.g. one per CTCAE grade, shared with a
    timeline); other series take palette colours in order.

    links: series name -> one URL (or None) per category; the bar links there.
    Negative values draw below / left of the zero line (waterfall plots).
    None is a missing value (no bar). Horizontal bars suit long labels
    (CTCAE terms); the chart grows with the number of categories.
    """
    categories = [str(c) for c in categories]
    _check_series(categories, series, "bar_chart")
    names = list(series)
    links = dict(links or {})
    for name, hrefs in links.items():
        if name not in series or len(hrefs) != len(categories):
            raise ValueError(f"bar_chart: links[{name!r}] must name a series and give one URL per category")
    if stacked:
        pos = [sum(max(0.0, series[n][i] or 0.0) for n in names) for i in range(len(categories))]
        neg = [sum(min(0.0, series[n][i] or 0.0) for n in names) for i in range(len(categories))]
        hi, lo = max(pos + [0.0]), min(neg + [0.0])
    else:
        values = [v for n in names for v in series[n] if v is not None]
        hi, lo = max(values + [0.0]), min(values + [0.0])
    if y_max is not None:
        hi = max(hi, y_max)
    ticks = nice_ticks(lo, hi)
    v_lo, v_hi = ticks[0], ticks[-1]
    group = bar_size * (1 if stacked else len(names)) + 10
    label_room = min(260, 12 + 6.6 * max((len(c) for c in categories), default=1)) if horizontal else 0
    top = 30 if title else 12
    legend_h = 22 if len(names) > 1 else 0
    if horizontal:
        plot_w = width - label_room - 30
        plot_h = group * len(categories)
        height = top + legend_h + plot_h + 46
        x0, y0 = label_room + 10, top + legend_h
    else:
        plot_h = 260
        rot = max((len(c) for c in categories), default=1) > 8
        bottom = 100 if rot else 44
        plot_w = max(width - 70, group * len(categories))
        width = plot_w + 70
        height = top + legend_h + plot_h + bottom
        x0, y0 = 60, top + legend_h

    def scale(v: float) -> float:  # value -> pixels along the value axis
        span = (v_hi - v_lo) or 1.0
        return (v - v_lo) / span * (plot_w if horizontal else plot_h)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">']
    if title:
        out.append(f'<text x="{width / 2:.1f}" y="18" text-anchor="middle" font-size="14" font-weight="600" {_FONT}>{escape(title)}</text>')
    colors = dict(colors or {})
    unknown = [k for k in colors if k not in series]
    if unknown:
        raise ValueError(f"bar_chart: colors name series that do not exist: {unknown}")
    if len(names) > 1:
        out.extend(_legend(names, x0, top + 12, colors))
    for t in ticks:  # grid + tick labels
        p = scale(t)
        if horizontal:
            x = x0 + p
            out.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + plot_h}" stroke="#d0d7de" stroke-width="{1.5 if t == 0 else 0.6}"/>')
            out.append(f'<text x="{x:.1f}" y="{y0 + plot_h + 14}" text-anchor="middle" font-size="11" {_FONT}>{_fmt_tick(t)}</text>')
        else:
            y = y0 + plot_h - p
            out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + plot_w}" y2="{y:.1f}" stroke="#d0d7de" stroke-width="{1.5 if t == 0 else 0.6}"/>')
            out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" {_FONT}>{_fmt_tick(t)}</text>')
    zero = scale(0.0)
    for i, cat in enumerate(categories):
        base_pos, base_neg = 0.0, 0.0
        for j, name in enumerate(names):
            v = series[name][i]
            if v is None:
                continue
            color = (colors or {}).get(name) or PALETTE[j % len(PALETTE)]
            if stacked:
                start = base_pos if v >= 0 else base_neg
                a, b = scale(start), scale(start + v)
                if v >= 0:
                    base_pos += v
                else:
                    base_neg += v
                offset = 0
            else:
                a, b = zero, scale(v)
                offset = j * bar_size
            lo_p, hi_p = min(a, b), max(a, b)
            size = max(hi_p - lo_p, 0.8 if v != 0 else 0.0)
            if horizontal:
                rect = (x0 + lo_p, y0 + i * group + 5 + offset, size, bar_size - 2)
            else:
                rect = (x0 + i * group + 5 + offset, y0 + plot_h - hi_p, bar_size - 2, size)
            tip = f"{cat} — {name}: {value_format.format(v)}" if len(names) > 1 else f"{cat}: {value_format.format(v)}"
            mark = f'<rect x="{rect[0]:.1f}" y="{rect[1]:.1f}" width="{rect[2]:.1f}" height="{rect[3]:.1f}" fill="{color}"><title>{escape(tip)}</title></rect>'
            href = links.get(name, [None] * len(categories))[i]
            out.append(f'<a href="{escape(href)}">{mark}</a>' if href else mark)
            if show_values and not stacked:
                if horizontal:
                    out.append(f'<text x="{x0 + max(a, b) + 3:.1f}" y="{rect[1] + bar_size / 2 + 3:.1f}" font-size="10.5" {_FONT}>{escape(value_format.format(v))}</text>')
                else:
                    out.append(f'<text x="{rect[0] + bar_size / 2 - 1:.1f}" y="{y0 + plot_h - hi_p - 3:.1f}" text-anchor="middle" font-size="10.5" {_FONT}>{escape(value_format.format(v))}</text>')
        if horizontal:
            cy = y0 + i * group + group / 2 + 3
            out.append(f'<text x="{x0 - 6}" y="{cy:.1f}" text-anchor="end" font-size="11.5" {_FONT}>{escape(cat[:40])}</text>')
        else:
            cx = x0 + i * group + group / 2
            if max((len(c) for c in categories), default=1) > 8:
                out.append(f'<text transform="translate({cx:.1f},{y0 + plot_h + 10}) rotate(-40)" text-anchor="end" font-size="11" {_FONT}>{escape(cat[:28])}</text>')
            else:
                out.append(f'<text x="{cx:.1f}" y="{y0 + plot_h + 15}" text-anchor="middle" font-size="11.5" {_FONT}>{escape(cat)}</text>')
    if x_label:
        out.append(f'<text x="{x0 + plot_w / 2:.1f}" y="{height - 6:.1f}" text-anchor="middle" font-size="12" {_FONT}>{escape(x_label)}</text>')
    if y_label:
        out.append(f'<text transform="translate(14,{y0 + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle" font-size="12" {_FONT}>{escape(y_label)}</text>')
    out.append("</svg>")
    return _wrap("".join(out), title)


def line_chart(
    x_values: Sequence[float],
    series: Mapping[str, Sequence[Optional[float]]],
    *,
    title: Optional[str] = None,
    x_label: Optional[str] = None,
    y_label: Optional[str] = None,
    width: int = 720,
    height: int = 320,
    markers: bool = True,
) -> str:
    """Lines over a numeric x axis, one colour per series (None breaks a line)."""
    xs = [float(x) for x in x_values]
    if not xs:
        raise ValueError("line_chart: x_values is empty")
    _check_series(xs, series, "line_chart")
    names = list(series)
    ys = [v for n in names for v in series[n] if v is not None]
    y_ticks = nice_ticks(min(ys + [0.0]), max(ys + [0.0]))
    x_ticks = nice_ticks(min(xs), max(xs))
    top = 30 if title else 12
    legend_h = 22 if len(names) > 1 else 0
    x0, y0, plot_w, plot_h = 60, top + legend_h, width - 80, height - top - legend_h - 46

    def px(x: float) -> float:
        return x0 + (x - x_ticks[0]) / ((x_ticks[-1] - x_ticks[0]) or 1) * plot_w

    def py(y: float) -> float:
        return y0 + plot_h - (y - y_ticks[0]) / ((y_ticks[-1] - y_ticks[0]) or 1) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">']
    if title:
        out.append(f'<text x="{width / 2:.1f}" y="18" text-anchor="middle" font-size="14" font-weight="600" {_FONT}>{escape(title)}</text>')
    if len(names) > 1:
        out.extend(_legend(names, x0, top + 12))
    for t in y_ticks:
        out.append(f'<line x1="{x0}" y1="{py(t):.1f}" x2="{x0 + plot_w}" y2="{py(t):.1f}" stroke="#d0d7de" stroke-width="0.6"/>')
        out.append(f'<text x="{x0 - 6}" y="{py(t) + 4:.1f}" text-anchor="end" font-size="11" {_FONT}>{_fmt_tick(t)}</text>')
    for t in x_ticks:
        out.append(f'<text x="{px(t):.1f}" y="{y0 + plot_h + 15}" text-anchor="middle" font-size="11" {_FONT}>{_fmt_tick(t)}</text>')
    for j, name in enumerate(names):
        color = PALETTE[j % len(PALETTE)]
        path, pen = [], False
        for x, y in zip(xs, series[name]):
            if y is None:
                pen = False
                continue
            path.append(f"{'L' if pen else 'M'}{px(x):.1f},{py(y):.1f}")
            pen = True
        out.append(f'<path d="{" ".join(path)}" fill="none" stroke="{color}" stroke-width="2"/>')
        if markers:
            for x, y in zip(xs, series[name]):
                if y is not None:
                    out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}"><title>{escape(f"{name}: {_fmt_tick(x)} -> {y:g}")}</title></circle>')
    if x_label:
        out.append(f'<text x="{x0 + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" font-size="12" {_FONT}>{escape(x_label)}</text>')
    if y_label:
        out.append(f'<text transform="translate(14,{y0 + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle" font-size="12" {_FONT}>{escape(y_label)}</text>')
    out.append("</svg>")
    return _wrap("".join(out), title)


_SYMBOLS = {
    "x": lambda x, y: f'<path d="M{x - 4:.1f},{y - 4:.1f}L{x + 4:.1f},{y + 4:.1f}M{x - 4:.1f},{y + 4:.1f}L{x + 4:.1f},{y - 4:.1f}" stroke="#1b1f24" stroke-width="2"',
    "circle": lambda x, y: f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="#ffffff" stroke="#1b1f24" stroke-width="1.6"',
    "triangle": lambda x, y: f'<path d="M{x:.1f},{y - 5:.1f}L{x + 5:.1f},{y + 4:.1f}L{x - 5:.1f},{y + 4:.1f}Z" fill="#1b1f24"',
    "diamond": lambda x, y: f'<path d="M{x:.1f},{y - 5:.1f}L{x + 5:.1f},{y:.1f}L{x:.1f},{y + 5:.1f}L{x - 5:.1f},{y:.1f}Z" fill="#D55E00"',
    "arrow": lambda x, y: f'<path d="M{x - 5:.1f},{y - 5:.1f}L{x + 4:.1f},{y:.1f}L{x - 5:.1f},{y + 5:.1f}Z" fill="#1b1f24"',
}


def timeline_chart(
    rows: Sequence[Mapping[str, Any]],
    *,
    title: Optional[str] = None,
    x_label: Optional[str] = None,
    colors: Optional[Mapping[str, str]] = None,
    width: int = 900,
    row_height: int = 22,
) -> str:
    """Horizontal timelines, one row each: AE episodes per subject, swimmer plots.

    rows: ``{"label": str, "segments": [{"start", "end", "color" (a key of
    ``colors`` or a palette index), "title", "href"}], "markers": [{"at",
    "symbol" (x | circle | triangle | diamond | arrow), "title", "href"}]}``.
    ``colors`` maps a segment's colour key (e.g. "Grade 3") to a CSS colour and
    is drawn as the legend; unknown keys take palette colours in order.
    """
    if not rows:
        raise ValueError("timeline_chart: no rows")
    points: List[float] = []
    for i, row in enumerate(rows):
        if "label" not in row:
            raise ValueError(f"timeline_chart: row {i} has no 'label'")
        for seg in row.get("segments") or []:
            if seg.get("start") is None or seg.get("end") is None:
                raise ValueError(f"timeline_chart: row {row['label']!r} has a segment without start/end")
            points += [float(seg["start"]), float(seg["end"])]
        for mark in row.get("markers") or []:
            points.append(float(mark["at"]))
            if mark.get("symbol", "x") not in _SYMBOLS:
                raise ValueError(f"timeline_chart: unknown marker symbol {mark.get('symbol')!r}; use one of {sorted(_SYMBOLS)}")
    if not points:
        points = [0.0, 1.0]
    ticks = nice_ticks(min(points + [0.0]), max(points))
    color_map: Dict[str, str] = dict(colors or {})
    for row in rows:
        for seg in row.get("segments") or []:
            key = str(seg.get("color", ""))
            if key not in color_map:
                color_map[key] = PALETTE[len(color_map) % len(PALETTE)]
    label_room = min(220, 12 + 6.6 * max(len(str(r["label"])) for r in rows))
    top = (30 if title else 12) + (22 if any(k for k in color_map) else 0)
    x0, plot_w = label_room + 10, width - label_room - 30
    plot_h = row_height * len(rows)
    height = top + plot_h + 46

    def px(x: float) -> float:
        return x0 + (x - ticks[0]) / ((ticks[-1] - ticks[0]) or 1) * plot_w

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0f}" viewBox="0 0 {width} {height:.0f}">']
    if title:
        out.append(f'<text x="{width / 2:.1f}" y="18" text-anchor="middle" font-size="14" font-weight="600" {_FONT}>{escape(title)}</text>')
    legend_keys = [k for k in color_map if k]
    cx = x0
    for key in legend_keys:
        out.append(f'<rect x="{cx:.1f}" y="{top - 19}" width="10" height="10" fill="{color_map[key]}"/>')
        out.append(f'<text x="{cx + 14:.1f}" y="{top - 10}" font-size="12" {_FONT}>{escape(key)}</text>')
        cx += 24 + 7 * len(key)
    for t in ticks:
        out.append(f'<line x1="{px(t):.1f}" y1="{top}" x2="{px(t):.1f}" y2="{top + plot_h}" stroke="#d0d7de" stroke-width="{1.4 if t == 0 else 0.6}"/>')
        out.append(f'<text x="{px(t):.1f}" y="{top + plot_h + 14}" text-anchor="middle" font-size="11" {_FONT}>{_fmt_tick(t)}</text>')
    for i, row in enumerate(rows):
        y = top + i * row_height
        out.append(f'<text x="{x0 - 6}" y="{y + row_height / 2 + 4:.1f}" text-anchor="end" font-size="11.5" {_FONT}>{escape(str(row["label"])[:34])}</text>')
        for seg in row.get("segments") or []:
            a, b = px(float(seg["start"])), px(float(seg["end"]))
            color = color_map[str(seg.get("color", ""))]
            mark = (f'<rect x="{min(a, b):.1f}" y="{y + 4}" width="{max(abs(b - a), 2):.1f}" height="{row_height - 8}" '
                    f'rx="2" fill="{color}"><title>{escape(seg.get("title") or "")}</title></rect>')
            out.append(f'<a href="{escape(seg["href"])}">{mark}</a>' if seg.get("href") else mark)
        for m in row.get("markers") or []:
            shape = _SYMBOLS[m.get("symbol", "x")](px(float(m["at"])), y + row_height / 2)
            mark = f'{shape}><title>{escape(m.get("title") or "")}</title></{"circle" if m.get("symbol") == "circle" else "path"}>'
            out.append(f'<a href="{escape(m["href"])}">{mark}</a>' if m.get("href") else mark)
    if x_label:
        out.append(f'<text x="{x0 + plot_w / 2:.1f}" y="{height - 6:.0f}" text-anchor="middle" font-size="12" {_FONT}>{escape(x_label)}</text>')
    out.append("</svg>")
    return _wrap("".join(out), title)
