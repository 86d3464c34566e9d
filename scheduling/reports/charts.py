"""The reports' charts: grouped bars and a weekday-by-hour heat map, drawn by the server as inline SVG.

Framed like the progress chart (``scheduling.records.chart``): no JavaScript, nothing from elsewhere,
and they print as they look. Each chart's figures are also in the table the page shows under it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString

from scheduling.records.chart import svg_close, svg_open

WIDTH = 820
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 40, 64
# Distinct in print and to most colour-blind readers (Okabe-Ito).
COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float | None]  # one per category; None: nothing to show


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _nice_top(value: float) -> float:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000, 2000, 5000, 10000):
        if value <= step:
            return float(step)
    return float(value)


def bar_chart_svg(*, title: str, categories: list[str], series: list[Series], unit: str = "%",
                  ident: str, top: float | None = None) -> SafeString:
    """Grouped vertical bars: one group per category, one bar per series, with a legend and a y axis."""
    height = 300
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    values = [value for one in series for value in one.values if value is not None]
    top = top or _nice_top(max(values, default=0) or 1)
    shown = ", ".join(f"{one.name}: " + "; ".join(
        f"{category} {_number(value)}{unit}" for category, value in zip(categories, one.values, strict=True)
        if value is not None) for one in series)
    parts = svg_open(width=WIDTH, height=height, title=title, description=shown or "Nothing to show.", ident=ident)
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>')
    for tick in range(5):
        value = top * tick / 4
        y = TOP + plot_h - plot_h * tick / 4
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
                     f'{_number(value)}{escape(unit)}</text>')
    group_w = plot_w / max(len(categories), 1)
    bar_w = max(2.0, min(28.0, (group_w - 8) / max(len(series), 1)))
    label_every = max(1, -(-len(categories) // 16))
    for index, category in enumerate(categories):
        x0 = LEFT + index * group_w + (group_w - bar_w * len(series)) / 2
        for number, one in enumerate(series):
            value = one.values[index]
            if value is None:
                continue
            bar_h = plot_h * min(value, top) / top
            tip = f"{one.name}, {category}: {_number(value)}{unit}"
            parts.append(f'<rect class="bar" x="{x0 + number * bar_w:.1f}" y="{TOP + plot_h - bar_h:.1f}" '
                         f'width="{bar_w - 1:.1f}" height="{bar_h:.1f}" fill="{COLOURS[number % len(COLOURS)]}">'
                         f'<title>{escape(tip)}</title></rect>')
        if index % label_every == 0:
            parts.append(f'<text x="{LEFT + (index + 0.5) * group_w:.1f}" y="{TOP + plot_h + 16}" '
                         f'text-anchor="middle" class="tick small">{escape(category)}</text>')
    x = LEFT
    for number, one in enumerate(series):
        parts.append(f'<rect x="{x}" y="12" width="12" height="12" fill="{COLOURS[number % len(COLOURS)]}"/>')
        parts.append(f'<text x="{x + 18}" y="22" class="legend">{escape(one.name)}</text>')
        x += 30 + 8 * len(one.name)
    return svg_close(parts)


def heat_map_svg(*, title: str, cells: dict[tuple[int, int], int], ident: str) -> SafeString:
    """Booked sessions by ISO weekday (rows, Monday 1) and local hour (columns): darker is busier."""
    hours = sorted({hour for _, hour in cells}) or list(range(8, 20))
    hours = list(range(min(hours), max(hours) + 1))
    cell_w = min(48, (WIDTH - LEFT - RIGHT) // len(hours))
    cell_h = 28
    height = TOP + 7 * cell_h + 40
    busiest = max(cells.values(), default=0)
    description = (f"Busiest: {WEEKDAYS[max(cells, key=cells.get)[0] - 1]} {max(cells, key=cells.get)[1]:02d}:00 "
                   f"with {busiest} sessions." if cells else "No session in the period.")
    parts = svg_open(width=WIDTH, height=height, title=title, description=description, ident=ident)
    for row, name in enumerate(WEEKDAYS):
        y = TOP + row * cell_h
        parts.append(f'<text x="{LEFT - 8}" y="{y + cell_h / 2 + 4:.1f}" text-anchor="end" class="tick">{name}</text>')
        for column, hour in enumerate(hours):
            count = cells.get((row + 1, hour), 0)
            shade = 0 if not busiest else count / busiest
            fill = f"rgba(0,114,178,{0.08 + 0.92 * shade:.2f})" if count else "#f4f4f4"
            x = LEFT + column * cell_w
            parts.append(f'<rect class="cell" x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" '
                         f'fill="{fill}"><title>{name} {hour:02d}:00: {count}</title></rect>')
            if count:
                colour = "#fff" if shade > 0.55 else "#1d232a"
                parts.append(f'<text x="{x + (cell_w - 2) / 2:.1f}" y="{y + cell_h / 2 + 3:.1f}" '
                             f'text-anchor="middle" class="tick small" fill="{colour}">{count}</text>')
    for column, hour in enumerate(hours):
        parts.append(f'<text x="{LEFT + column * cell_w + (cell_w - 2) / 2:.1f}" y="{TOP + 7 * cell_h + 14}" '
                     f'text-anchor="middle" class="tick small">{hour:02d}</text>')
    parts.append(f'<text x="{LEFT}" y="24" class="legend">Sessions starting in each hour (the location\'s time)'
                 '</text>')
    return svg_close(parts)
