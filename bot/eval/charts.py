"""Inline SVG charts for the evaluation report, drawn by hand: no library, no script, no font files.

Every string that reaches a chart passes through :func:`esc`, so a chart is well-formed XML whatever
the result holds (config names with markup, bidi overrides, control characters)."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llm.text import INVISIBLE

__all__ = [
    "Bar",
    "LatencySeries",
    "TrendPoint",
    "as_list",
    "as_map",
    "esc",
    "fmt",
    "fmt_difference",
    "latency_chart",
    "metric_bars",
    "number",
    "trend_chart",
]

#: Okabe–Ito: told apart with the common colour-vision deficiencies, and in print.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#7F7F7F", "#000000")
LEAK = "#C62828"
WIDTH = 1160
_SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{label}">'

# Characters a reader would not see or that reorder what follows (bidi overrides), controls XML
# forbids, lone surrogates and non-characters: shown as visible code points instead, so a report
# can neither be spoofed by its data nor fail to parse or encode.
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]|" + INVISIBLE.pattern)


def esc(value: object) -> str:
    """Any value as HTML/XML text: hidden characters made visible, markup and quotes escaped."""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    text = _HIDDEN.sub(lambda m: f"⟨U+{ord(m.group()):04X}⟩", text)
    return html.escape(text, quote=True)


def number(value: object) -> float | None:
    """A finite int or float from the result, else None (booleans, strings and NaN are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def as_map(value: object) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one: a missing section renders as empty."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: object) -> list[Any]:
    """``value`` if it is a JSON array, else an empty one."""
    return list(value) if isinstance(value, list | tuple) else []


def fmt(metric: str, value: float | None) -> str:
    """A metric's value as the report writes it: rates with two decimals, milliseconds whole."""
    if value is None:
        return "—"
    if metric.endswith("_ms"):
        return f"{value:,.0f} ms"
    if metric == "leaks":
        return f"{value:g}"
    if metric.startswith("tokens"):
        return f"{value:,.1f}" if value % 1 else f"{value:,.0f}"
    return f"{value:.2f}"


def fmt_difference(metric: str, value: float) -> str:
    """A difference between two values of a metric, always signed."""
    if metric.endswith("_ms"):
        return f"{value:+,.0f} ms"
    if metric == "leaks":
        return f"{value:+g}"
    if metric.startswith("tokens"):
        return f"{value:+,.1f}"
    return f"{value:+.2f}"


def color(index: int) -> str:
    """The colour of the index-th series."""
    return PALETTE[index % len(PALETTE)]


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    out: list[str] = []
    for i, name in enumerate(names):
        out.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{color(i)}"/>')
        out.append(f'<text x="{x + 17:.1f}" y="{y:.1f}">{esc(_short(name))}<title>{esc(name)}</title></text>')
        x += 30 + 7.5 * min(len(name), 28)
    return out


def nice_ticks(top: float, count: int = 6) -> list[float]:
    """Round tick values from 0 to at least ``top`` (steps of 1, 2 or 5 times a power of ten)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


@dataclass(frozen=True)
class Bar:
    """One configuration's value of one 0..1 metric, with its confidence interval when known."""

    value: float
    low: float | None = None
    high: float | None = None


def metric_bars(rows: Sequence[tuple[str, Sequence[Bar | None]]], series: Sequence[str]) -> str:
    """Grouped horizontal bars on a 0..1 axis: one group per metric, one bar per configuration, CI
    whiskers and the value written at the end of each bar."""
    left, right, top, bar_h, gap = 200, 70, 34, 15, 14
    plot = WIDTH - left - right
    group_h = bar_h * max(len(series), 1) + gap
    height = top + group_h * len(rows) + 36

    def x(v: float) -> float:
        return left + plot * min(max(v, 0.0), 1.0)

    out = [_SVG.format(w=WIDTH, h=height, label="Metrics per configuration, 0 to 1, with 95% intervals")]
    out += _legend(series, left, 16)
    base = top + group_h * len(rows)
    for t in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        out.append(f'<line x1="{x(t):.1f}" y1="{top - 4}" x2="{x(t):.1f}" y2="{base}" class="grid"/>')
        out.append(f'<text x="{x(t):.1f}" y="{base + 16}" text-anchor="middle">{t:.1f}</text>')
    out.append(f'<text x="{left + plot / 2:.1f}" y="{base + 32}" text-anchor="middle" class="axis">value (0–1)</text>')
    for r, (label, bars) in enumerate(rows):
        y0 = top + r * group_h
        mid = y0 + bar_h * len(series) / 2
        out.append(f'<text x="{left - 8}" y="{mid + 4:.1f}" text-anchor="end" class="label">{esc(label)}</text>')
        for i, bar in enumerate(bars):
            y = y0 + i * bar_h
            if bar is None:
                out.append(f'<text x="{left + 4}" y="{y + bar_h - 4}" class="na">no value</text>')
                continue
            width = x(bar.value) - left
            out.append(f'<rect x="{left}" y="{y + 1}" width="{width:.1f}" height="{bar_h - 3}" fill="{color(i)}"/>')
            end = x(bar.value)
            if bar.low is not None and bar.high is not None:
                lo, hi, cy = x(bar.low), x(bar.high), y + bar_h / 2
                whisker = f"M{lo:.1f} {cy - 4:.1f}v8M{lo:.1f} {cy:.1f}H{hi:.1f}M{hi:.1f} {cy - 4:.1f}v8"
                out.append(f'<path d="{whisker}" class="whisker"/>')
                end = max(end, hi)
            out.append(f'<text x="{end + 5:.1f}" y="{y + bar_h - 3}" class="value">{bar.value:.2f}</text>')
    out.append("</svg>")
    return "".join(out)


@dataclass(frozen=True)
class LatencySeries:
    """One configuration's per-case latencies (ms), total and to the first token, and their captions."""

    name: str
    total: Sequence[float]
    first_token: Sequence[float]
    total_caption: str
    first_caption: str


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile by linear interpolation between the sorted values."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def latency_chart(series: Sequence[LatencySeries]) -> str:
    """Per configuration two lanes, total latency and first token: a box (quartiles, median), whiskers
    to the extremes, and a mark for every case."""
    left, right, top, lane = 200, 250, 34, 30
    plot = WIDTH - left - right
    highest = max((v for s in series for v in (*s.total, *s.first_token)), default=0.0)
    seconds = highest >= 2000
    scale = 1000.0 if seconds else 1.0
    ticks = nice_ticks(highest / scale)
    span = ticks[-1] or 1.0
    height = top + 2 * lane * len(series) + 10 * len(series) + 40

    def x(ms: float) -> float:
        return left + plot * (ms / scale) / span

    out = [_SVG.format(w=WIDTH, h=height, label="Latency per case and configuration")]
    out += _legend([s.name for s in series], left, 16)
    base = height - 40
    for t in ticks:
        tx = left + plot * t / span
        out.append(f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{base}" class="grid"/>')
        out.append(f'<text x="{tx:.1f}" y="{base + 16}" text-anchor="middle">{t:g}</text>')
    unit = "seconds" if seconds else "milliseconds"
    out.append(f'<text x="{left + plot / 2:.1f}" y="{base + 32}" text-anchor="middle" class="axis">{unit}</text>')
    for i, s in enumerate(series):
        y0 = top + i * (2 * lane + 10)
        out.append(
            f'<text x="{left - 8}" y="{y0 + lane + 4}" text-anchor="end" class="label">{esc(_short(s.name))}</text>'
        )
        for j, (values, caption, kind) in enumerate(
            ((s.total, s.total_caption, "total"), (s.first_token, s.first_caption, "first token"))
        ):
            cy = y0 + j * lane + lane / 2
            out.append(f'<text x="{WIDTH - right + 10}" y="{cy + 4:.1f}" class="small">{kind}: {esc(caption)}</text>')
            if not values:
                out.append(f'<text x="{left + 4}" y="{cy + 4:.1f}" class="na">no {kind} times</text>')
                continue
            q1, med, q3 = (quantile(values, q) for q in (0.25, 0.5, 0.75))
            lo, hi = min(values), max(values)
            fill = color(i)
            dash = ' stroke-dasharray="3 2"' if j else ""
            whisker = f"M{x(lo):.1f} {cy:.1f}H{x(hi):.1f}M{x(lo):.1f} {cy - 5:.1f}v10M{x(hi):.1f} {cy - 5:.1f}v10"
            out.append(f'<path d="{whisker}" class="whisker"{dash}/>')
            out.append(
                f'<rect x="{x(q1):.1f}" y="{cy - 9:.1f}" width="{max(x(q3) - x(q1), 1):.1f}" height="18" '
                f'fill="{fill}" fill-opacity="{0.15 if j else 0.3}" stroke="{fill}"{dash}/>'
            )
            out.append(f'<path d="M{x(med):.1f} {cy - 9:.1f}v18" stroke="{fill}" stroke-width="3"/>')
            for k, v in enumerate(values):
                jitter = ((k * 0.618034) % 1.0 - 0.5) * 12  # spread equal values apart, the same every time
                if j:
                    out.append(f'<path d="M{x(v):.1f} {cy - 5 + jitter / 3:.1f}v10" stroke="{fill}" class="tick"/>')
                else:
                    out.append(f'<circle cx="{x(v):.1f}" cy="{cy + jitter:.1f}" r="2.6" fill="{fill}" class="dot"/>')
    out.append("</svg>")
    return "".join(out)


@dataclass(frozen=True)
class TrendPoint:
    """One stored run of the set: its x-axis label, its 0..1 metrics and its leak count."""

    label: str
    values: Mapping[str, float]
    leaks: float | None = None


def trend_chart(points: Sequence[TrendPoint], metrics: Sequence[tuple[str, str]]) -> str:
    """A line per metric (key, label) over the runs, oldest first, on a 0..1 axis; runs with leaks
    marked in red. Fewer than two runs make no line: a sentence says so instead."""
    if len(points) < 2:
        return '<p class="empty">No earlier runs of this set yet: the trend appears from the second run.</p>'
    left, right, top, bottom = 60, 230, 30, 56
    plot_w, plot_h = WIDTH - left - right, 260
    height = top + plot_h + bottom
    shown = [(key, label) for key, label in metrics if any(key in p.values for p in points)]

    def x(i: int) -> float:
        return left + plot_w * i / (len(points) - 1)

    def y(v: float) -> float:
        return top + plot_h * (1 - min(max(v, 0.0), 1.0))

    out = [_SVG.format(w=WIDTH, h=height, label="Metrics of earlier runs, oldest first")]
    for t in (0.0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<line x1="{left}" y1="{y(t):.1f}" x2="{left + plot_w}" y2="{y(t):.1f}" class="grid"/>')
        out.append(f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{t:.2f}</text>')
    every = max(1, math.ceil(len(points) / 10))  # at most about ten dates under the axis
    for i, p in enumerate(points):
        if i % every == 0 or i == len(points) - 1:
            label = esc(_short(p.label, 16))
            out.append(
                f'<text x="{x(i):.1f}" y="{top + plot_h + 18}" text-anchor="middle" class="small">{label}</text>'
            )
        if p.leaks:
            out.append(f'<line x1="{x(i):.1f}" y1="{top}" x2="{x(i):.1f}" y2="{top + plot_h}" class="leakline"/>')
            out.append(f'<text x="{x(i):.1f}" y="{top - 8}" text-anchor="middle" class="leak">{p.leaks:g} leak</text>')
    centre = left + plot_w / 2
    out.append(f'<text x="{centre:.1f}" y="{height - 8}" text-anchor="middle" class="axis">run (oldest first)</text>')
    marks = len(points) <= 40
    for m, (key, label) in enumerate(shown):
        line = [(x(i), y(p.values[key])) for i, p in enumerate(points) if key in p.values]
        path = "".join(f"{'M' if k == 0 else 'L'}{px:.1f} {py:.1f}" for k, (px, py) in enumerate(line))
        out.append(f'<path d="{path}" stroke="{color(m)}" class="trend"/>')
        if marks:
            out += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color(m)}"/>' for px, py in line]
        latest = next((p.values[key] for p in reversed(points) if key in p.values), None)
        ly = top + 6 + m * 18
        out.append(f'<rect x="{WIDTH - right + 14}" y="{ly - 9}" width="12" height="3" fill="{color(m)}"/>')
        last = "" if latest is None else f" {latest:.2f}"
        out.append(f'<text x="{WIDTH - right + 32}" y="{ly - 3}" class="small">{esc(label)}{last}</text>')
    out.append("</svg>")
    return "".join(out)
