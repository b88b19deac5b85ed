"""Charts as plain SVG geometry, drawn by the templates (no library, no
script): numbers in, rectangles and labels out. Labels reach the page only
through Jinja's autoescaping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import List, Sequence, Tuple

WIDTH = 720  # column charts span the page
ROWS_WIDTH = 480  # bar charts sit in half-width cards: about 1:1 on a laptop
BAR_HEIGHT = 22
LABEL_WIDTH = 170
VALUE_WIDTH = 50
TICK_MARGIN = 24  # keeps the first and last date labels inside the chart


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: List[Bar]
    ticks: List[Tuple[float, str]]  # x positions and labels (column charts)
    maximum: int
    title: str


def columns(days: Sequence[Tuple[date, int]], title: str, height: int = 180) -> Chart:
    """A column per day (conversations per day)."""
    maximum = max((count for _, count in days), default=0)
    plot = height - 24
    step = WIDTH / max(len(days), 1)
    gap = min(2.0, step * 0.2)
    bars, ticks = [], []
    every = max(1, len(days) // 8)
    for index, (day, count) in enumerate(days):
        bar_height = plot * count / maximum if maximum else 0
        bars.append(
            Bar(
                x=round(index * step + gap / 2, 2),
                y=round(plot - bar_height, 2),
                width=round(step - gap, 2),
                height=round(bar_height, 2),
                label=day.isoformat(),
                value=count,
            )
        )
        if index % every == 0:
            x = min(max(index * step + step / 2, TICK_MARGIN), WIDTH - TICK_MARGIN)
            ticks.append((round(x, 2), day.strftime("%b %d")))
    return Chart(WIDTH, height, bars, ticks, maximum, title)


def rows(items: Sequence[Tuple[str, int]], title: str) -> Chart:
    """A horizontal bar per item (topics, channels, funnel stages)."""
    maximum = max((count for _, count in items), default=0)
    room = ROWS_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars = [
        Bar(
            x=LABEL_WIDTH,
            y=index * (BAR_HEIGHT + 6),
            width=round(room * count / maximum, 2) if maximum else 0,
            height=BAR_HEIGHT,
            label=str(label),
            value=count,
        )
        for index, (label, count) in enumerate(items)
    ]
    height = max(len(items), 1) * (BAR_HEIGHT + 6)
    return Chart(ROWS_WIDTH, height, bars, [], maximum, title)
