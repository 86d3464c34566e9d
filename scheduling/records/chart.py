"""The progress chart: outcome score over sessions (left axis) with the current in mA (right axis).

Inline SVG, so the pages need no JavaScript and no CDN, and they print as they look. ``svg_open`` and
``svg_close`` frame every chart Ionto draws (also the reports' charts, ``scheduling.reports.charts``).
"""

from __future__ import annotations

import math
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from scheduling.records.progress import (
    HDSS_RESPONSE_POINTS,
    PAIN_RESPONSE_POINTS,
    CourseProgress,
)

WIDTH, HEIGHT = 820, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 64, 40, 56
OUTCOME_COLOUR = "#1f4e79"
CURRENT_COLOUR = "#b4530b"
REPORTED_COLOUR = "#6a1b9a"


def _fmt(value: Decimal | float) -> str:
    return f"{float(value):.1f}".rstrip("0").rstrip(".")


def svg_open(*, width: int, height: int, title: str, description: str, ident: str) -> list[str]:
    """The start of an inline SVG chart with its accessible title and description; ``ident`` keeps
    their ids apart when a page shows several charts."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" width="{width}" height="{height}">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
    ]


def svg_close(parts: list[str]) -> SafeString:
    """The chart as markup. Every part is a number formatted by the chart's code or text passed
    through escape(), so it is safe to put in a page as it is."""
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  # nosec B308 B703


def _slots(progress: CourseProgress) -> list[tuple[str, object]]:
    """Recorded sessions and the patient's check-in answers on one axis, in time order, one place each (an
    answer on a session's day goes before it: it was given at home, before or after that visit)."""
    items = [("session", row.date, 1, row) for row in progress.recorded_sessions]
    items += [("reported", point.date, 0, point) for point in progress.reported]
    return [(kind, item) for kind, _day, _order, item in sorted(items, key=lambda entry: entry[1:3])]


def outcome_chart_svg(progress: CourseProgress) -> SafeString:
    """Inline SVG of the recorded sessions and the patient's check-in answers; empty when there is neither."""
    recorded = progress.recorded_sessions
    slots = _slots(progress)
    if not slots:
        return SafeString("")
    outcome = progress.outcome
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = len(slots)
    place = {id(item): index for index, (_kind, item) in enumerate(slots)}

    def x(item) -> float:
        if count == 1:
            return LEFT + plot_w / 2
        return LEFT + place[id(item)] * plot_w / (count - 1)

    low, high = float(outcome.scale_min), float(outcome.scale_max)

    def y_score(value) -> float:
        return TOP + plot_h - (float(value) - low) * plot_h / (high - low)

    currents = [row.current_ma for row in recorded if row.current_ma is not None]
    top_ma = max(5, math.ceil(float(max(currents, default=5)) / 5) * 5)
    ma_step = 1 if top_ma <= 5 else 5

    def y_ma(value) -> float:
        return TOP + plot_h - float(value) * plot_h / top_ma

    name = "HDSS" if outcome.measure == "hdss" else "Pain (NPRS)"
    title = f"{name} and current over {len(recorded)} recorded sessions"
    if progress.reported:
        title += f" and {len(progress.reported)} patient-reported answers"
    parts = svg_open(width=WIDTH, height=HEIGHT, title=title,
                     description=_chart_description(progress), ident="chart")
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>')
    step = 1 if outcome.measure == "hdss" else 2
    for tick in range(int(low), int(high) + 1, step):
        ty = y_score(tick)
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#e3e3e3"/>')
        parts.append(f'<text x="{LEFT - 8}" y="{ty + 4:.1f}" text-anchor="end" class="tick">{tick}</text>')
    for tick in range(0, top_ma + 1, ma_step):
        ty = y_ma(tick)
        parts.append(f'<text x="{LEFT + plot_w + 8}" y="{ty + 4:.1f}" class="tick" fill="{CURRENT_COLOUR}">'
                     f'{tick}</text>')
    label_every = max(1, math.ceil(count / 14))
    for index, (kind, item) in enumerate(slots):
        if index % label_every and index != count - 1:
            continue
        tx = x(item)
        parts.append(f'<text x="{tx:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle" class="tick">'
                     f'{item.number if kind == "session" else "P"}</text>')
        parts.append(f'<text x="{tx:.1f}" y="{TOP + plot_h + 32}" text-anchor="middle" class="tick small">'
                     f'{item.date:%d/%m}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 6}" text-anchor="middle" class="axis">'
                 'Session (number and date); P: patient check-in</text>')
    parts.append(f'<text transform="translate(16 {TOP + plot_h / 2}) rotate(-90)" text-anchor="middle" '
                 f'class="axis" fill="{OUTCOME_COLOUR}">{escape(outcome.label)}</text>')
    parts.append(f'<text transform="translate({WIDTH - 14} {TOP + plot_h / 2}) rotate(90)" text-anchor="middle" '
                 f'class="axis" fill="{CURRENT_COLOUR}">Current (mA)</text>')
    labels: list[str] = []  # drawn over the lines, so the data never hides them
    if outcome.baseline is not None:
        by = y_score(outcome.baseline)
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{by:.1f}" y2="{by:.1f}" stroke="#666" '
                     'stroke-dasharray="2 3"/>')
        labels.append(f'<text x="{LEFT + 4}" y="{by - 4:.1f}" class="tick small halo">baseline {_fmt(outcome.baseline)}'
                     '</text>')
        needed = HDSS_RESPONSE_POINTS if outcome.measure == "hdss" else PAIN_RESPONSE_POINTS
        target = outcome.baseline - needed
        if target >= outcome.scale_min:
            ty = y_score(target)
            parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#2e7d32" '
                         'stroke-dasharray="6 3"/>')
            labels.append(f'<text x="{LEFT + 4}" y="{ty - 4:.1f}" class="tick small halo" fill="#2e7d32">'
                         f'response at {_fmt(target)} or lower</text>')
    current_points = [(x(row), y_ma(row.current_ma)) for row in recorded if row.current_ma is not None]
    if current_points:
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in current_points)
        parts.append(f'<polyline class="series-current" points="{path}" fill="none" stroke="{CURRENT_COLOUR}" '
                     'stroke-width="2" stroke-dasharray="7 4"/>')
        parts.extend(f'<rect x="{px - 4:.1f}" y="{py - 4:.1f}" width="8" height="8" fill="{CURRENT_COLOUR}"/>'
                     for px, py in current_points)
    by_number = {row.number: row for row in recorded}
    score_points = [(x(by_number[point.number]), y_score(point.value)) for point in outcome.points]
    if score_points:
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in score_points)
        parts.append(f'<polyline class="series-outcome" points="{path}" fill="none" stroke="{OUTCOME_COLOUR}" '
                     'stroke-width="3"/>')
        parts.extend(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="5" fill="{OUTCOME_COLOUR}"/>'
                     for px, py in score_points)
    reported_points = [(x(point), y_score(point.value)) for point in progress.reported]
    if reported_points:
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in reported_points)
        parts.append(f'<polyline class="series-reported" points="{path}" fill="none" stroke="{REPORTED_COLOUR}" '
                     'stroke-width="1.5" stroke-dasharray="2 4"/>')
        parts.extend(_diamond(px, py) for px, py in reported_points)
    parts.extend(labels)
    legend_y = 18
    parts.append(f'<line x1="{LEFT}" x2="{LEFT + 28}" y1="{legend_y}" y2="{legend_y}" stroke="{OUTCOME_COLOUR}" '
                 'stroke-width="3"/>')
    parts.append(f'<circle cx="{LEFT + 14}" cy="{legend_y}" r="5" fill="{OUTCOME_COLOUR}"/>')
    parts.append(f'<text x="{LEFT + 36}" y="{legend_y + 4}" class="legend">{escape(outcome.label)} '
                 '(lower is better)</text>')
    cx = LEFT + 300
    parts.append(f'<line x1="{cx}" x2="{cx + 28}" y1="{legend_y}" y2="{legend_y}" stroke="{CURRENT_COLOUR}" '
                 'stroke-width="2" stroke-dasharray="7 4"/>')
    parts.append(f'<rect x="{cx + 10}" y="{legend_y - 4}" width="8" height="8" fill="{CURRENT_COLOUR}"/>')
    parts.append(f'<text x="{cx + 36}" y="{legend_y + 4}" class="legend">Highest current of the session (mA)</text>')
    if reported_points:
        rx = LEFT + 604
        parts.append(_diamond(rx + 8, legend_y))
        parts.append(f'<text x="{rx + 20}" y="{legend_y + 4}" class="legend">Patient-reported</text>')
    return svg_close(parts)


def _diamond(cx: float, cy: float) -> str:
    """The patient-reported marker: a hollow diamond, told apart from the clinician's filled circle in
    grey print too."""
    return (f'<path class="marker-reported" d="M{cx:.1f} {cy - 7:.1f} L{cx + 7:.1f} {cy:.1f} L{cx:.1f} {cy + 7:.1f} '
            f'L{cx - 7:.1f} {cy:.1f} Z" fill="#fff" stroke="{REPORTED_COLOUR}" stroke-width="2.5"/>')


def _chart_description(progress: CourseProgress) -> str:
    outcome = progress.outcome
    if outcome.baseline is None:
        return "No score recorded."
    return (f"Baseline {_fmt(outcome.baseline)}, latest {_fmt(outcome.latest)}, change {_fmt(outcome.change)} "
            f"over {len(progress.recorded_sessions)} recorded sessions.")
