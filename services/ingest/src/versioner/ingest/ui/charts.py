"""Charts drawn on the server as inline SVG: pure functions from numbers to markup, and the
words for durations, rates and buckets that go with them.

Part of the dashboard's kit (it imports no section). Every chart is an `<svg role="img">` named
by its `<title>` and summed up by its `<desc>`; each bar or point has its own `<title>`, which a
browser shows on hover. Colours come from a series' tone (`tone-ok`, `tone-bad`, …, styled in
`app.css`), with a fill of the same colour for an SVG read on its own.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

from versioner.common.insights import Bucket

Format = Callable[[float], str]

# The drawing's own units; the SVG scales to its container's width.
WIDTH = 560
HEIGHT = 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 12, 40
# The plot area inside the axes' margins.
_PLOT_W, _PLOT_H = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
_TONES = {
    "ok": "#1c7c43",
    "bad": "#b42318",
    "warn": "#a15c00",
    "accent": "#2f5bd3",
    "muted": "#687385",
}
MINUTE_S = 60.0
HOUR_S = 3600.0
DAY_S = 86400.0
# Duration axes step by amounts a person counts in, never "1h 23m" per gridline.
_DURATION_STEPS = (
    MINUTE_S,
    5 * MINUTE_S,
    15 * MINUTE_S,
    30 * MINUTE_S,
    HOUR_S,
    2 * HOUR_S,
    6 * HOUR_S,
    12 * HOUR_S,
    DAY_S,
    2 * DAY_S,
    7 * DAY_S,
    14 * DAY_S,
    30 * DAY_S,
    90 * DAY_S,
    365 * DAY_S,
)


@dataclass(frozen=True)
class Series:
    """One row of numbers drawn in one colour; None where there is nothing to draw."""

    name: str
    values: Sequence[float | None]
    tone: str = "accent"


def duration(seconds: float | None) -> str:
    """A duration as a person says it: `45s`, `12m`, `3h 20m`, `2d 4h`; `—` for none."""
    if seconds is None:
        return "—"
    if round(seconds) < MINUTE_S:
        return f"{max(0, round(seconds))}s"
    minutes = round(seconds / MINUTE_S)
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 24 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours}h {rest}m" if rest else f"{hours}h"
    hours = round(seconds / HOUR_S)
    days, rest = divmod(hours, 24)
    return f"{days}d {rest}h" if rest else f"{days}d"


def percent(rate: float | None) -> str:
    """A rate between 0 and 1 as a percentage: `12.5%`, `0%`; `—` for none."""
    if rate is None:
        return "—"
    shown = round(rate * 100, 1)
    return f"{shown:.0f}%" if shown == int(shown) else f"{shown:.1f}%"


def count(value: float) -> str:
    """A count, or a rate per week, without needless decimals: `3`, `2.5`."""
    shown = round(value, 1)
    return f"{shown:.0f}" if shown == int(shown) else f"{shown:.1f}"


def bucket_label(start: datetime, bucket: Bucket) -> str:
    """A bucket by its start, as short as an axis needs: `Nov 3` (day or week), `Nov 2026`."""
    if bucket == "month":
        return f"{start:%b %Y}"
    return f"{start:%b} {start.day}"


def bucket_name(start: datetime, bucket: Bucket) -> str:
    """A bucket in words, for a tooltip: `3 Nov 2026`, `week of 3 Nov 2026`, `November 2026`."""
    if bucket == "month":
        return f"{start:%B %Y}"
    day = f"{start.day} {start:%b %Y}"
    return f"week of {day}" if bucket == "week" else day


def _nice_top(highest: float) -> tuple[float, float]:
    """An axis top at or above `highest`, and its step: 1, 2 or 5 times a power of ten, in at
    most five steps."""
    if highest <= 0:
        return 1.0, 1.0
    raw = highest / 4
    power = 10 ** math.floor(math.log10(raw))
    # Counts are whole: no gridline at a half.
    step = max(1.0, next(m * power for m in (1, 2, 5, 10) if m * power >= raw))
    return step * math.ceil(highest / step), step


def _duration_top(highest: float) -> tuple[float, float]:
    """An axis top for durations, stepping by a round amount of time."""
    if highest <= 0:
        return HOUR_S, HOUR_S
    step = next((s for s in _DURATION_STEPS if highest / s <= 4), _DURATION_STEPS[-1])
    return step * math.ceil(highest / step), step


def _rate_top(highest: float) -> tuple[float, float]:
    """An axis top for rates: 100% once above a half, else a round fraction."""
    if highest > 0.5:
        return 1.0, 0.25
    for top, step in ((0.05, 0.01), (0.1, 0.025), (0.2, 0.05), (0.5, 0.1)):
        if highest <= top:
            return top, step
    return 1.0, 0.25


def _axis(kind: str, highest: float) -> tuple[float, float, Format]:
    if kind == "duration":
        return *_duration_top(highest), duration
    if kind == "rate":
        return *_rate_top(highest), percent
    top, step = _nice_top(highest)
    return top, step, count


def _attr(value: str) -> str:
    return str(escape(value))


def _frame(
    ident: str,
    title: str,
    summary: str,
    y_label: str,
    x_label: str,
    labels: Sequence[str],
    axis: tuple[float, float, Format],
    body: list[str],
    empty: str | None,
) -> Markup:
    top, step, fmt = axis
    plot_w, plot_h = _PLOT_W, _PLOT_H
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'aria-labelledby="{_attr(ident)}-title {_attr(ident)}-desc" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{_attr(ident)}-title">{escape(title)}</title>',
        f'<desc id="{_attr(ident)}-desc">{escape(summary)}</desc>',
    ]
    ticks = round(top / step)
    for i in range(ticks + 1):
        value = step * i
        y = _TOP + plot_h - plot_h * value / top
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e2e5ea"/>'
            f'<text class="tick" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="12" fill="#687385">{escape(fmt(value))}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" y2="{_TOP + plot_h}" '
        f'stroke="#687385"/>'
        f'<line class="axis" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{_TOP + plot_h}" '
        f'y2="{_TOP + plot_h}" stroke="#687385"/>'
    )
    if labels:
        slot = plot_w / len(labels)
        # Room for about eight labels: the others are named by their bar's tooltip.
        every = max(1, math.ceil(len(labels) / 8))
        for i, label in enumerate(labels):
            if i % every:
                continue
            x = _LEFT + slot * (i + 0.5)
            parts.append(
                f'<text class="tick" x="{x:.1f}" y="{_TOP + plot_h + 14}" text-anchor="middle" '
                f'font-size="12" fill="#687385">{escape(label)}</text>'
            )
    parts.append(
        f'<text class="axis-label" x="{_LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" '
        f'text-anchor="middle" font-size="12" fill="#687385">{escape(x_label)}</text>'
        f'<text class="axis-label" x="12" y="{_TOP + plot_h / 2:.1f}" text-anchor="middle" '
        f'font-size="12" fill="#687385" transform="rotate(-90 12 {_TOP + plot_h / 2:.1f})">'
        f"{escape(y_label)}</text>"
    )
    parts.extend(body)
    if empty is not None:
        parts.append(
            f'<text class="empty" x="{_LEFT + plot_w / 2:.1f}" y="{_TOP + plot_h / 2:.1f}" '
            f'text-anchor="middle" font-size="13" fill="#687385">{escape(empty)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every word in it went through escape()


def _highest(series: Sequence[Series]) -> float:
    return max((v for s in series for v in s.values if v is not None), default=0.0)


def bars(
    ident: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    names: Sequence[str] | None = None,
    y_label: str,
    x_label: str,
    kind: str = "count",
    empty: str = "Nothing in this period",
) -> Markup:
    """Bars side by side for each label (one per series); `names` says each label in full for
    the tooltips; `kind` is `count`, `rate` or `duration` (the axis and tooltip words)."""
    axis = _axis(kind, _highest(series))
    top, _, fmt = axis
    plot_w, plot_h = _PLOT_W, _PLOT_H
    body: list[str] = []
    slot = plot_w / len(labels) if labels else plot_w
    width = slot * 0.8 / max(1, len(series))
    for i, label in enumerate(labels):
        name = names[i] if names else label
        for j, one in enumerate(series):
            value = one.values[i] if i < len(one.values) else None
            if not value:
                continue
            h = plot_h * value / top
            x = _LEFT + slot * i + slot * 0.1 + width * j
            body.append(
                f'<rect class="tone-{_attr(one.tone)}" x="{x:.1f}" y="{_TOP + plot_h - h:.1f}" '
                f'width="{width:.1f}" height="{h:.1f}" fill="{_TONES.get(one.tone, "#2f5bd3")}">'
                f"<title>{escape(name)}: {escape(fmt(value))} {escape(one.name)}</title></rect>"
            )
    return _framed(ident, title, labels, names, series, axis, body, y_label, x_label, empty)


def _framed(
    ident: str,
    title: str,
    labels: Sequence[str],
    names: Sequence[str] | None,
    series: Sequence[Series],
    axis: tuple[float, float, Format],
    body: list[str],
    y_label: str,
    x_label: str,
    empty: str,
) -> Markup:
    """The drawn marks in their frame, summarised in words; an empty chart says `empty`."""
    has_data = bool(body)
    summary = _summary(labels, names, series, axis[2]) if has_data else empty
    return _frame(
        ident, title, summary, y_label, x_label, labels, axis, body, None if has_data else empty
    )


def lines(
    ident: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    names: Sequence[str] | None = None,
    y_label: str,
    x_label: str,
    kind: str = "duration",
    empty: str = "Nothing to measure in this period",
) -> Markup:
    """A line per series across the labels, with a point at each value; a None leaves a gap."""
    axis = _axis(kind, _highest(series))
    top, _, fmt = axis
    plot_w, plot_h = _PLOT_W, _PLOT_H
    slot = plot_w / len(labels) if labels else plot_w
    body: list[str] = []
    for one in series:
        colour = _TONES.get(one.tone, "#2f5bd3")
        runs: list[list[tuple[float, float]]] = [[]]
        points: list[str] = []
        for i, value in enumerate(one.values[: len(labels)]):
            if value is None:
                runs.append([])
                continue
            x = _LEFT + slot * (i + 0.5)
            y = _TOP + plot_h - plot_h * value / top
            runs[-1].append((x, y))
            name = names[i] if names else labels[i]
            points.append(
                f'<circle class="tone-{_attr(one.tone)}" cx="{x:.1f}" cy="{y:.1f}" r="3.5" '
                f'fill="{colour}"><title>{escape(name)}: {escape(one.name)} '
                f"{escape(fmt(value))}</title></circle>"
            )
        for run in runs:
            if len(run) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                body.append(
                    f'<polyline class="line tone-{_attr(one.tone)}" points="{path}" fill="none" '
                    f'stroke="{colour}" stroke-width="2"/>'
                )
        body.extend(points)
    return _framed(ident, title, labels, names, series, axis, body, y_label, x_label, empty)


def hbars(
    ident: str,
    title: str,
    rows: Sequence[tuple[str, float]],
    *,
    tone: str = "accent",
    kind: str = "count",
    empty: str = "None in this period",
) -> Markup:
    """Horizontal bars, one per named row, longest first as given, the value at each end."""
    fmt = _axis(kind, 0)[2]
    row_h, gap, label_w, value_w = 22, 6, 180, 56
    height = max(1, len(rows)) * (row_h + gap) + gap
    highest = max((value for _, value in rows), default=0.0)
    colour = _TONES.get(tone, "#2f5bd3")
    plot_w = WIDTH - label_w - value_w
    parts = [
        f'<svg class="chart hbars" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'aria-labelledby="{_attr(ident)}-title {_attr(ident)}-desc" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{_attr(ident)}-title">{escape(title)}</title>',
    ]
    described = "; ".join(f"{name}: {fmt(value)}" for name, value in rows) or empty
    parts.append(f'<desc id="{_attr(ident)}-desc">{escape(described)}</desc>')
    if not rows:
        parts.append(
            f'<text class="empty" x="{WIDTH / 2:.0f}" y="{height / 2 + 4:.0f}" '
            f'text-anchor="middle" font-size="13" fill="#687385">{escape(empty)}</text>'
        )
    for i, (name, value) in enumerate(rows):
        y = gap + i * (row_h + gap)
        w = plot_w * value / highest if highest else 0
        short = name if len(name) <= 28 else name[:27] + "…"
        parts.append(
            f'<text class="tick" x="{label_w - 8}" y="{y + row_h / 2 + 4:.0f}" text-anchor="end" '
            f'font-size="12" fill="#1d2330">{escape(short)}</text>'
            f'<rect class="tone-{_attr(tone)}" x="{label_w}" y="{y}" width="{max(w, 1):.1f}" '
            f'height="{row_h}" fill="{colour}"><title>{escape(name)}: {escape(fmt(value))}'
            f"</title></rect>"
            f'<text class="value" x="{label_w + max(w, 1) + 6:.1f}" y="{y + row_h / 2 + 4:.0f}" '
            f'font-size="12" fill="#1d2330">{escape(fmt(value))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every word in it went through escape()


def _summary(
    labels: Sequence[str],
    names: Sequence[str] | None,
    series: Sequence[Series],
    fmt: Format,
) -> str:
    """What a chart shows, in a sentence: its span and each series' total or highest."""
    said = names or labels
    span = f"{len(labels)} buckets, {said[0]} to {said[-1]}" if labels else "no buckets"
    parts = []
    for one in series:
        values = [v for v in one.values if v is not None]
        if not values:
            parts.append(f"{one.name}: none")
            continue
        peak = max(values)
        where = said[list(one.values).index(peak)]
        parts.append(f"{one.name}: highest {fmt(peak)} ({where})")
    return f"{span}. " + "; ".join(parts) + "."
